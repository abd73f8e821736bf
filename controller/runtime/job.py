"""L7 load, compile and patch one venue of a show; resolve time arguments against its cues."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from controller.compile.plan import VenuePlan, compile_venue
from controller.errors import ArgumentError
from controller.patch.patcher import Patch, build_patch
from controller.render.effects import default_registry
from controller.show.diagnostics import did_you_mean, known_list
from controller.show.load import LoadedShow, load_show
from controller.show.timeline import parse_time_ref

__all__ = ["ArgumentError", "VenueJob", "load_venue", "pick_venue", "resolve_time"]


@dataclass(frozen=True, slots=True)
class VenueJob:
    loaded: LoadedShow
    plan: VenuePlan
    patch: Patch


def pick_venue(loaded: LoadedShow, venue: str | None) -> str:
    names = list(loaded.show.venues)
    if venue is None:
        if len(names) == 1:
            return names[0]
        raise ArgumentError(
            "--venue", f"the show has {len(names)} venues; pick one of {known_list(names)}"
        )
    if venue not in loaded.show.venues:
        raise ArgumentError(
            "--venue",
            f"unknown venue {venue!r}{did_you_mean(venue, names)} (venues: {known_list(names)})",
        )
    if venue not in loaded.venues:
        raise ArgumentError("--venue", f"venue {venue!r} has no usable rig")
    return venue


def load_venue(show: Path, venue: str | None) -> VenueJob:
    """Load a show, pick a venue, compile it and build its patch (raises on bad input)."""
    loaded = load_show(show, default_registry())
    name = pick_venue(loaded, venue)
    plan = compile_venue(loaded, name)
    return VenueJob(loaded, plan, build_patch(plan.twin, plan.elements))


def resolve_time(value: str, loaded: LoadedShow, option: str) -> float:
    """Seconds from `12.5`, `ignition`, `ignition+2` or `finale-4`."""
    raw: float | str
    try:
        raw = float(value)
    except ValueError:
        raw = value
    try:
        ref, offset = parse_time_ref(raw, loaded.cue_times)
    except ValueError as exc:
        raise ArgumentError(option, str(exc)) from exc
    base = 0.0
    if ref is not None:
        if ref not in loaded.cue_times:
            cues = loaded.cue_times
            raise ArgumentError(
                option, f"unknown cue {ref!r}{did_you_mean(ref, cues)} (cues: {known_list(cues)})"
            )
        base = loaded.cue_times[ref]
    t = base + offset
    if not 0.0 <= t <= loaded.show.duration:
        raise ArgumentError(
            option, f"time {t:g} s is outside the show (0..{loaded.show.duration:g} s)"
        )
    return t
