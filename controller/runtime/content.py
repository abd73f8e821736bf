"""L7 what a show is made of, hashed: every venue must play the same show, byte for byte.

The conductor publishes the content hash and one hash per part; a venue whose parts differ
refuses to play and names the part that differs. Parts are the files the loader read (the
show, its includes, every rig) by their path relative to the show's folder, plus each fixture
profile by name (its validated content, so a profile means the same wherever it was found).
Media files (images, videos) named by clips are hashed when they exist.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a venue compares contents before its loading thread imports the show stack
    from controller.show.load import LoadedShow

__all__ = ["ShowContent", "differences", "show_content"]

_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class ShowContent:
    digest: str  # sha256 over the sorted parts
    parts: dict[str, str]  # part name -> sha256


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _relative(path: Path, base: Path) -> str:
    try:
        return os.path.relpath(path.resolve(), base).replace(os.sep, "/")
    except ValueError:  # another drive
        return str(path.resolve())


def _yaml_files(loaded: LoadedShow) -> set[Path]:
    files = {Path(loaded.path)}
    files |= {Path(span.path) for span in loaded.doc.value_spans.values()}
    for twin in loaded.venues.values():
        files.add(Path(twin.path))
        files |= {Path(span.path) for span in twin.doc.value_spans.values()}
    return {f for f in files if f.is_file()}


def _media_files(loaded: LoadedShow, base: Path) -> set[Path]:
    found = set()
    for clip in loaded.clips:
        for value in getattr(clip, "params", {}).values():
            if isinstance(value, str) and ("/" in value or "." in value):
                candidate = base / value
                if candidate.is_file():
                    found.add(candidate)
    return found


def show_content(loaded: LoadedShow) -> ShowContent:
    base = Path(loaded.path).resolve().parent
    parts: dict[str, str] = {}
    for path in _yaml_files(loaded) | _media_files(loaded, base):
        parts[_relative(path, base)] = _file_hash(path)
    for twin in loaded.venues.values():
        for fixture in twin.fixtures:
            key = f"profile:{fixture.profile_name}"
            if key not in parts:
                dump = fixture.profile.model_dump_json().encode()
                parts[key] = hashlib.sha256(dump).hexdigest()
    h = hashlib.sha256()
    for name in sorted(parts):
        h.update(f"{name}\0{parts[name]}\n".encode())
    return ShowContent(digest=h.hexdigest(), parts=parts)


def differences(mine: dict[str, str], theirs: dict[str, str]) -> list[str]:
    """Human lines naming each part that differs, is missing here, or is extra here."""
    out = []
    for name in sorted(set(mine) | set(theirs)):
        if name not in mine:
            out.append(f"{name}: missing here")
        elif name not in theirs:
            out.append(f"{name}: not in the conductor's show")
        elif mine[name] != theirs[name]:
            out.append(f"{name}: differs (here {mine[name][:12]}, conductor {theirs[name][:12]})")
    return out
