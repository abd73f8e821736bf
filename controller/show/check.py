"""L1 semantic checks of a show against its venues and the effect registry.

Resolves cue times (cues may be relative to earlier cues), clip start/end, targets and
effect parameters; every problem becomes a located diagnostic. The result (cue times and
`ResolvedClip`s) is what the compiler consumes, so nothing is parsed twice.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

from controller.effects_api import EffectRegistry, EffectSpec, ParamError, ParamKind, ParamTrack
from controller.effects_api import normalise_param as normalise
from controller.show.diagnostics import DiagnosticSink, did_you_mean, known_list
from controller.show.salvage import is_placeholder
from controller.show.source import NodePath, SourceDoc, display_path
from controller.show.timeline import Blend, Clip, ShowFile, Target, parse_time_ref
from controller.show.twin import Twin

__all__ = ["ResolvedClip", "check_show"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolvedClip:
    track: str
    track_index: int
    clip_index: int
    layer: int  # global order: later layers composite over earlier ones
    effect: EffectSpec
    target: Target
    start: float
    end: float
    blend: Blend
    opacity: float
    fade_in: float
    fade_out: float
    seed: int
    params: dict[str, ParamTrack]
    venues: tuple[str, ...]
    source: NodePath


@dataclass(frozen=True, slots=True)
class _Cues:
    """Resolved cue times, and which unknown names not to report.

    One root cause, one error: a declared cue that did not resolve was reported where it
    stands, so uses of it are skipped; when an include did not load, any name could be one
    of its cues, so unknown names are not reported at all.
    """

    times: dict[str, float]
    unresolved: frozenset[str]
    complete: bool

    def report_unknown(self, name: str) -> bool:
        return self.complete and name not in self.unresolved


def _resolve_cues(show: ShowFile, doc: SourceDoc, sink: DiagnosticSink, *, complete: bool) -> _Cues:
    times: dict[str, float] = {}
    pending: dict[str, tuple[int, str, float]] = {}
    names = {c.name for c in show.cues}
    for i, cue in enumerate(show.cues):
        where = ("cues", i, "at")
        if is_placeholder(cue.name):
            continue
        if cue.name in times or cue.name in pending:
            sink.error("S107", f"duplicate cue name {cue.name!r}", doc.span(("cues", i, "name")))
            continue
        try:
            ref, offset = parse_time_ref(cue.at, names)
        except ValueError as exc:
            sink.error("S106", str(exc), doc.span(where))
            continue
        if ref is None:
            times[cue.name] = offset
        else:
            pending[cue.name] = (i, ref, offset)
    progress = True
    while pending and progress:
        progress = False
        for name, (_i, ref, offset) in list(pending.items()):
            if ref in times:
                times[name] = times[ref] + offset
                del pending[name]
                progress = True
    cues = _Cues(times, frozenset(names - times.keys()), complete)
    _report_unresolved(show, doc, pending, cues, sink)
    for i, cue in enumerate(show.cues):
        t = times.get(cue.name)
        if t is not None and not 0.0 <= t <= show.duration:
            sink.error(
                "S112",
                f"cue {cue.name!r} at {t:g} s is outside the show (0..{show.duration:g} s)",
                doc.span(("cues", i, "at")),
            )
    return cues


def _report_unresolved(
    show: ShowFile,
    doc: SourceDoc,
    pending: dict[str, tuple[int, str, float]],
    cues: _Cues,
    sink: DiagnosticSink,
) -> None:
    """Each cue left pending leads to an unknown cue or into a cycle: report that once."""
    handled: set[str] = set()
    known = [c.name for c in show.cues]
    for name in pending:  # file order
        chain = [name]
        while pending[chain[-1]][1] in pending and pending[chain[-1]][1] not in chain:
            chain.append(pending[chain[-1]][1])
        end = pending[chain[-1]][1]
        if end in chain:
            loop = chain[chain.index(end) :]
            if not handled.intersection(loop):
                first = min(loop, key=lambda n: pending[n][0])
                k = loop.index(first)
                order = [*loop[k:], *loop[:k], first]
                sink.error(
                    "S101",
                    f"cue {first!r} is relative to {pending[first][1]!r}: a cycle "
                    f"({' -> '.join(order)})",
                    doc.span(("cues", pending[first][0], "at")),
                )
        elif chain[-1] not in handled and cues.report_unknown(end) and end not in known:
            sink.error(
                "S101",
                f"cue {chain[-1]!r} is relative to {end!r}: unknown cue{did_you_mean(end, known)}",
                doc.span(("cues", pending[chain[-1]][0], "at")),
            )
        handled.update(chain)


def _time(
    value: float | str,
    cues: _Cues,
    doc: SourceDoc,
    where: NodePath,
    sink: DiagnosticSink,
) -> float | None:
    try:
        ref, offset = parse_time_ref(value, cues.times)
    except ValueError as exc:
        sink.error("S106", str(exc), doc.span(where))
        return None
    if ref is None:
        return offset
    if ref not in cues.times:
        if cues.report_unknown(ref):
            known = cues.times
            sink.error(
                "S101",
                f"unknown cue {ref!r}{did_you_mean(ref, known)} (cues: {known_list(known)})",
                doc.span(where),
            )
        return None
    return cues.times[ref] + offset


def _names(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _check_target(
    target: Target, twins: list[Twin], doc: SourceDoc, where: NodePath, sink: DiagnosticSink
) -> None:
    kinds = (
        ("group", "group", lambda t: t.groups()),
        ("tag", "tag", lambda t: t.tags()),
        ("building", "building", lambda t: {b.id for b in t.buildings}),
        ("fixtures", "fixture", lambda t: {f.id for f in t.fixtures}),
    )
    for key, label, known_of in kinds:
        known: set[str] = set()
        for twin in twins:
            known |= known_of(twin)
        value = getattr(target, key)
        for i, name in enumerate(_names(value)):
            if name not in known:
                at: NodePath = (*where, key, i) if isinstance(value, list) else (*where, key)
                sink.error(
                    "S102",
                    f"target {label} {name!r} matches nothing in venue(s) "
                    f"{', '.join(t.venue.id for t in twins)}{did_you_mean(name, known)} "
                    f"(known: {known_list(known)})",
                    doc.span(at),
                )
    if target.exclude is not None:
        _check_target(target.exclude, twins, doc, (*where, "exclude"), sink)


def _clip_params(
    clip: Clip,
    spec: EffectSpec,
    length: float,
    doc: SourceDoc,
    where: NodePath,
    sink: DiagnosticSink,
) -> dict[str, ParamTrack]:
    out: dict[str, ParamTrack] = {}
    for name, raw in clip.params.items():
        pspec = spec.param(name)
        if pspec is None:
            names = [p.name for p in spec.params]
            sink.error(
                "S104",
                f"effect {spec.name!r} has no parameter {name!r}{did_you_mean(name, names)} "
                f"(parameters: {known_list(names, limit=20)})",
                doc.span((*where, "params", name), key=True),
            )
            continue
        try:
            out[name] = normalise(pspec, raw, clip_length=length)
        except ParamError as exc:
            sink.error("S105", exc.message, doc.span((*where, "params", name, *exc.where)))
            continue
        if pspec.kind is ParamKind.TEXT and name == "file" and isinstance(raw, str):
            media = Path(doc.span((*where, "params", name)).path).parent / raw
            try:
                found = media.is_file()
            except (OSError, ValueError):  # a name the OS rejects (too long, NUL byte)
                found = False
            if not found:
                sink.error_once(
                    "S105",
                    f"file={raw!r} not found (looked at {display_path(media)}; paths are "
                    "relative to the file that names them)",
                    doc.span((*where, "params", name)),
                )
    for pspec in spec.params:
        if pspec.name not in out and pspec.name not in clip.params:
            try:
                out[pspec.name] = normalise(pspec, pspec.default, clip_length=length)
            except ParamError:  # no usable default: the clip must set it
                sink.error(
                    "S105",
                    f"effect {spec.name!r} needs parameter {pspec.name!r} ({pspec.allowed()})",
                    doc.span((*where, "params") if "params" in clip.model_fields_set else where),
                )
    return out


def check_show(
    show: ShowFile,
    doc: SourceDoc,
    venues: dict[str, Twin],
    effects: EffectRegistry,
    sink: DiagnosticSink,
    *,
    complete: bool = True,
) -> tuple[dict[str, float], tuple[ResolvedClip, ...]]:
    """Check references and values; return cue times and resolved clips.

    `complete` is False when an include did not load: a cue or track it would have
    defined is then not reported as unknown. Targets are checked only on tracks whose
    venues' rigs all loaded whole (`Twin.complete`).
    """
    cues = _resolve_cues(show, doc, sink, complete=complete)
    track_names = [t.name for t in show.tracks]
    for vid, entry in show.venues.items():
        for k, name in enumerate(entry.disable_tracks):
            if name not in track_names and complete:
                sink.error(
                    "S114",
                    f"venue {vid!r} disables unknown track {name!r}"
                    f"{did_you_mean(name, track_names)}",
                    doc.span(("venues", vid, "disable_tracks", k)),
                )
    clips: list[ResolvedClip] = []
    seen_tracks: set[str] = set()
    layer = 0
    for ti, track in enumerate(show.tracks):
        if is_placeholder(track.name):
            continue
        if track.name in seen_tracks:
            sink.error(
                "S108", f"duplicate track name {track.name!r}", doc.span(("tracks", ti, "name"))
            )
        seen_tracks.add(track.name)
        track_venues = list(show.venues) if track.venues is None else track.venues
        for k, vid in enumerate(track.venues or []):
            if vid not in show.venues:
                sink.error(
                    "S109",
                    f"track {track.name!r} names unknown venue {vid!r}"
                    f"{did_you_mean(vid, show.venues)} (venues: {known_list(show.venues)})",
                    doc.span(("tracks", ti, "venues", k)),
                )
        whole = all(v in venues and venues[v].complete for v in track_venues if v in show.venues)
        twins = [venues[v] for v in track_venues if v in venues] if whole else None
        for ci, clip in enumerate(track.clips):
            where: NodePath = ("tracks", ti, "clips", ci)
            layer += 1
            if is_placeholder(clip.effect):
                continue
            resolved = _check_clip(show, clip, cues, twins, effects, doc, where, sink)
            if resolved is None or not track.enabled:
                continue
            spec, start, end, params = resolved
            target = Target(group=clip.target) if isinstance(clip.target, str) else clip.target
            seed = clip.seed if clip.seed is not None else zlib.crc32(f"{ti}/{ci}".encode())
            clips.append(
                ResolvedClip(
                    track=track.name,
                    track_index=ti,
                    clip_index=ci,
                    layer=layer,
                    effect=spec,
                    target=target,
                    start=start,
                    end=end,
                    blend=clip.blend if clip.blend is not None else track.blend,
                    opacity=clip.opacity * track.opacity,
                    fade_in=clip.fade_in,
                    fade_out=clip.fade_out,
                    seed=seed,
                    params=params,
                    venues=tuple(v for v in track_venues if v in show.venues),
                    source=where,
                )
            )
    return cues.times, tuple(clips)


def _check_clip(
    show: ShowFile,
    clip: Clip,
    cues: _Cues,
    twins: list[Twin] | None,
    effects: EffectRegistry,
    doc: SourceDoc,
    where: NodePath,
    sink: DiagnosticSink,
) -> tuple[EffectSpec, float, float, dict[str, ParamTrack]] | None:
    spec = effects.get(clip.effect)
    if spec is None:
        sink.error(
            "S103",
            f"unknown effect {clip.effect!r}{did_you_mean(clip.effect, effects)} "
            f"(effects: {known_list(effects, limit=30)})",
            doc.span((*where, "effect")),
        )
    target = Target(group=clip.target) if isinstance(clip.target, str) else clip.target
    target_where = (*where, "target") if not isinstance(clip.target, str) else (*where,)
    if twins is None:
        pass  # a venue's rig did not load whole: its names are unknown, not wrong
    elif isinstance(clip.target, str):
        known: set[str] = set()
        for twin in twins:
            known |= twin.groups()
        if clip.target not in known:
            sink.error(
                "S102",
                f"target group {clip.target!r} matches nothing{did_you_mean(clip.target, known)} "
                f"(known: {known_list(known)})",
                doc.span((*where, "target")),
            )
    else:
        _check_target(target, twins, doc, target_where, sink)
    start = _time(clip.start, cues, doc, (*where, "start"), sink)
    end: float | None = None
    if clip.end is not None:
        end = _time(clip.end, cues, doc, (*where, "end"), sink)
    elif clip.length is not None and start is not None:
        end = start + clip.length
    if start is None or end is None:
        return None
    end_key = "end" if clip.end is not None else "length"
    if end <= start:
        sink.error(
            "S106",
            f"clip ends at {end:g} s, not after its start {start:g} s",
            doc.span((*where, end_key)),
        )
        return None
    if start < 0 or end > show.duration + 1e-9:
        sink.error(
            "S106",
            f"clip {start:g}..{end:g} s runs outside the show (0..{show.duration:g} s)",
            doc.span((*where, "start" if start < 0 else end_key)),
        )
    if clip.fade_in + clip.fade_out > end - start + 1e-9:
        sink.error(
            "S106",
            f"fade_in + fade_out = {clip.fade_in + clip.fade_out:g} s exceeds the clip's "
            f"{end - start:g} s",
            doc.span((*where, "fade_in" if clip.fade_in else "fade_out")),
        )
    if spec is None:
        return None
    params = _clip_params(clip, spec, end - start, doc, where, sink)
    return spec, start, end, params
