"""L1 load profiles, rigs and shows from disk with every problem located.

`load_show` reads the show, merges its `include:` files, loads each venue's rig and the
profiles it names, resolves the twins and then runs the show checks; it raises one
`ShowValidationError` carrying every error found, or returns a `LoadedShow` (warnings kept).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from controller.effects_api import EffectRegistry
from controller.errors import Diagnostic, ShowValidationError
from controller.show.check import ResolvedClip, check_show
from controller.show.diagnostics import DiagnosticSink, did_you_mean, known_list, validate_model
from controller.show.profile import FixtureProfile
from controller.show.rig import RigFile
from controller.show.salvage import salvage_show
from controller.show.source import (
    InputFileError,
    SourceDoc,
    check_input_file,
    display_path,
    read_yaml,
)
from controller.show.timeline import ShowFile, ShowFragment
from controller.show.twin import Twin, check_outputs, profile_dirs, resolve_twin

__all__ = ["LoadedShow", "ProfileLibrary", "load_profile", "load_rig", "load_show"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedShow:
    path: str
    doc: SourceDoc
    show: ShowFile
    venues: dict[str, Twin]
    cue_times: dict[str, float]
    clips: tuple[ResolvedClip, ...]
    warnings: tuple[Diagnostic, ...] = ()


@dataclass(slots=True)
class ProfileLibrary:
    """Profiles loaded once per resolved file path."""

    cache: dict[Path, FixtureProfile | None] = field(default_factory=dict)

    def find(self, name: str, dirs: list[Path]) -> Path | None:
        for d in dirs:
            candidate = existing_file(d / f"{name}.yaml")
            if candidate is not None:
                return candidate
        return None

    def available(self, dirs: list[Path]) -> list[str]:
        names: set[str] = set()
        for d in dirs:
            try:
                names.update(p.stem for p in d.glob("*.yaml"))
            except (OSError, ValueError):
                continue
        return sorted(names)

    def load(self, path: Path, sink: DiagnosticSink) -> FixtureProfile | None:
        key = path.resolve()
        if key not in self.cache:
            self.cache[key] = load_profile(path, sink)
        return self.cache[key]


def existing_file(path: Path) -> Path | None:
    """`path` resolved when it names a regular file; None for a missing file or a name the OS
    rejects (embedded NUL, too long, symlink loop), so user-typed paths never raise."""
    found = locate_file(path)
    return found if isinstance(found, Path) else None


def locate_file(path: Path) -> Path | str:
    """`path` resolved when it names a regular input file, else why not ("not found", ...)."""
    try:
        resolved = path.resolve()
        check_input_file(resolved)
    except InputFileError as exc:
        return exc.message
    except (OSError, ValueError, RuntimeError):  # NUL in the name, too long, symlink loop
        return "not found"
    return resolved


def _not_there(what: str, problem: str, looked: Path) -> str:
    if problem == "file not found":
        return f"{what} not found (looked at {display_path(looked)})"
    return f"{what} is {problem}" if problem.startswith("not ") else f"{what}: {problem}"


def _read(path: Path, sink: DiagnosticSink) -> SourceDoc | None:
    try:
        return read_yaml(path)
    except ShowValidationError as exc:
        sink.extend(exc.diagnostics)
        return None


def load_profile(path: Path, sink: DiagnosticSink) -> FixtureProfile | None:
    """Load and check one profile file; problems go to `sink`."""
    doc = _read(path, sink)
    if doc is None:
        return None
    profile = validate_model(FixtureProfile, doc, sink)
    if profile is None:
        return None
    names: set[str] = set()
    for i, mode in enumerate(profile.modes):
        if mode.name in names:
            sink.error("P302", f"duplicate mode name {mode.name!r}", doc.span(("modes", i, "name")))
        names.add(mode.name)
        seen: set[str] = set()
        for j, ch in enumerate(mode.channels):
            if ch.attribute in seen and ch.attribute not in ("fixed", "unused"):
                sink.error(
                    "P303",
                    f"attribute {ch.attribute!r} appears twice in mode {mode.name!r}",
                    doc.span(("modes", i, "channels", j)),
                )
            seen.add(ch.attribute)
        if mode.footprint() > 512 and mode.cells is None:
            sink.error(
                "P304",
                f"mode {mode.name!r} needs {mode.footprint()} slots, more than a universe (512)",
                doc.span(("modes", i)),
            )
    return profile


def load_rig(
    path: Path, sink: DiagnosticSink, library: ProfileLibrary | None = None
) -> Twin | None:
    """Load a rig, its profiles, and resolve its twin; problems go to `sink`."""
    library = library if library is not None else ProfileLibrary()
    doc = _read(path, sink)
    if doc is None:
        return None
    rig = validate_model(RigFile, doc, sink)
    if rig is None:
        return None
    dirs = profile_dirs(rig, path)
    profiles: dict[str, FixtureProfile] = {}
    for i, spec in enumerate(rig.fixtures):
        if spec.profile in profiles:
            continue
        found = library.find(spec.profile, dirs)
        if found is None:
            names = library.available(dirs)
            sink.error(
                "R201",
                f"unknown profile {spec.profile!r}{did_you_mean(spec.profile, names)} "
                f"(available: {known_list(names)})",
                doc.span(("fixtures", i, "profile")),
            )
            continue
        profile = library.load(found, sink)
        if profile is not None:
            profiles[spec.profile] = profile
    twin = resolve_twin(rig, doc, profiles, sink)
    check_outputs(twin, sink)
    return twin


def _merge_includes(
    doc: SourceDoc, base: Path, sink: DiagnosticSink, stack: tuple[Path, ...]
) -> bool:
    """Merge the included files' cues and tracks into `doc`; False if one did not load."""
    data = doc.data
    if not isinstance(data, dict):
        return True
    includes = data.get("include", [])
    if not isinstance(includes, list):
        return False  # the model reports the type
    complete = True
    for i, rel in enumerate(includes):
        complete = complete and isinstance(rel, str)
        if not isinstance(rel, str):
            continue
        target = locate_file(base / rel)
        if isinstance(target, str):
            message = _not_there(f"included file {rel!r}", target, base / rel)
            sink.error("S111", message, doc.span(("include", i)))
            complete = False
            continue
        if target in stack:
            chain = " -> ".join(p.name for p in (*stack[stack.index(target) :], target))
            sink.error("S111", f"include cycle: {chain}", doc.span(("include", i)))
            continue
        sub = _read(target, sink)
        complete = complete and sub is not None
        if sub is None:
            continue
        complete = _merge_includes(sub, target.parent, sink, (*stack, target)) and complete
        if validate_model(ShowFragment, sub, sink) is None or not isinstance(sub.data, dict):
            complete = False
            continue
        for key in ("cues", "tracks"):
            items = sub.data.get(key, [])
            if not isinstance(items, list):
                continue
            existing = data.setdefault(key, [])
            if not isinstance(existing, list):
                continue
            offset = len(existing)
            for j, item in enumerate(items):
                existing.append(item)
                doc.graft(sub, (key, j), (key, offset + j))
    return complete


def load_show(path: Path, effects: EffectRegistry) -> LoadedShow:
    """Load a show and everything it uses.

    Raises:
        ShowValidationError: every error in the show, its includes, rigs and profiles.
    """
    sink = DiagnosticSink()
    doc = _read(path, sink)
    if doc is None:
        sink.raise_if_errors()
        msg = "unreachable: read failed without diagnostics"
        raise AssertionError(msg)
    complete = _merge_includes(doc, path.parent, sink, (path.resolve(),))
    show = validate_model(ShowFile, doc, sink) or salvage_show(doc.data)
    if show is None:
        sink.raise_if_errors()
        raise AssertionError("unreachable")
    library = ProfileLibrary()
    venues: dict[str, Twin] = {}
    for vid, entry in show.venues.items():
        rig_path = locate_file(path.parent / entry.rig)
        if isinstance(rig_path, str):
            what = f"venue {vid!r}: rig file {entry.rig!r}"
            message = _not_there(what, rig_path, path.parent / entry.rig)
            sink.error("S110", message, doc.span(("venues", vid, "rig")))
            continue
        twin = load_rig(rig_path, sink, library)
        if twin is not None:
            venues[vid] = twin
    cue_times, clips = check_show(show, doc, venues, effects, sink, complete=complete)
    sink.raise_if_errors()
    return LoadedShow(
        path=doc.path,
        doc=doc,
        show=show,
        venues=venues,
        cue_times=cue_times,
        clips=clips,
        warnings=sink.warnings,
    )
