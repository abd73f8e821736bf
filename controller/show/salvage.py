"""L1 keep checking a show after schema errors, so one load reports every problem.

After a failed validation, each invalid cue, track or clip is replaced by an inert
placeholder (same list position, so every later diagnostic still points at the right line)
and invalid optional top-level values are dropped; then the show validates again and the
reference checks run on what remains. Placeholders are named with `PLACEHOLDER` and are
skipped by the checker.
"""

from __future__ import annotations

import copy

from pydantic import ValidationError

from controller.show.source import Plain
from controller.show.timeline import ShowFile

__all__ = ["PLACEHOLDER", "is_placeholder", "salvage_show"]

PLACEHOLDER = "__citypulse_invalid__"
_OPTIONAL_TOP = {"description", "fps", "include", "cues", "tracks"}


def is_placeholder(name: str) -> bool:
    return name.startswith(PLACEHOLDER)


def _placeholder_cue(cue: Plain, loc: list[str | int]) -> dict[str, Plain]:
    """Keep a bad cue's name and time when they are fine, so references to it still resolve."""
    bad = loc[2] if len(loc) > 2 else None
    name: Plain = f"{PLACEHOLDER}{loc[1]}"
    at: Plain = 0
    if isinstance(cue, dict):
        raw_name, raw_at = cue.get("name"), cue.get("at")
        if bad != "name" and isinstance(raw_name, str):
            name = raw_name
        if bad != "at" and isinstance(raw_at, int | float | str) and not isinstance(raw_at, bool):
            at = raw_at
    return {"name": name, "at": at}


def _placeholder_clip() -> dict[str, Plain]:
    return {"effect": PLACEHOLDER, "target": {"all": True}, "start": 0, "length": 1}


def salvage_show(data: Plain) -> ShowFile | None:
    """A valid show built from `data` minus its invalid parts, or None if nothing is left."""
    if not isinstance(data, dict):
        return None
    work = copy.deepcopy(data)
    for _ in range(4):
        try:
            return ShowFile.model_validate(work)
        except ValidationError as exc:
            if not _prune(work, exc):
                return None
    return None


def _prune(work: dict[str, Plain], exc: ValidationError) -> bool:
    changed = False
    for err in exc.errors(include_url=False):
        loc = [p for p in err["loc"] if isinstance(p, str | int)]
        if not loc:
            return False
        top = loc[0]
        if top == "tracks" and len(loc) >= 2 and isinstance(loc[1], int):
            changed |= _prune_track(work, loc)
        elif top == "cues" and len(loc) >= 2 and isinstance(loc[1], int):
            cues = work.get("cues")
            if isinstance(cues, list) and loc[1] < len(cues):
                cues[loc[1]] = _placeholder_cue(cues[loc[1]], loc)
                changed = True
        elif isinstance(top, str) and (top in _OPTIONAL_TOP or top not in ShowFile.model_fields):
            changed |= work.pop(top, None) is not None
        else:
            return False
    return changed


def _prune_track(work: dict[str, Plain], loc: list[str | int]) -> bool:
    tracks = work.get("tracks")
    ti = loc[1]
    if not isinstance(tracks, list) or not isinstance(ti, int) or ti >= len(tracks):
        return False
    track = tracks[ti]
    ci = loc[3] if len(loc) >= 4 and loc[2] == "clips" else None
    if isinstance(track, dict) and isinstance(ci, int):
        clips = track.get("clips")
        if isinstance(clips, list) and ci < len(clips):
            clips[ci] = _placeholder_clip()
            return True
    # keep a good name, so references to the track (`disable_tracks`) still resolve
    name = track.get("name") if isinstance(track, dict) and loc[2:3] != ["name"] else None
    keep = isinstance(name, str) and bool(name.strip()) and not is_placeholder(name)
    tracks[ti] = {"name": name if keep else f"{PLACEHOLDER}{ti}", "enabled": False}
    return True
