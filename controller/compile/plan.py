"""L2 compile once, render many: a venue's plan of clips, elements, cues and patch inputs.

`compile_venue` turns a `LoadedShow` plus a venue id into a `VenuePlan`: each clip becomes
a `CompiledClip` holding its target index array (or a slice when the targets are
contiguous, which lets the renderer write views instead of gathering), its prepared effect
renderer, its parameter tracks split into constants and keyframed ones, and a preallocated
scratch buffer. The plan's structure never changes after compiling, but rendering writes
its scratch buffers and effect state, so a plan serves one `render` call at a time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from controller.attributes import (
    COLOR_ATTRIBUTES,
    HOME_VALUES,
    LIGHT_ATTRIBUTES,
    N_ATTRIBUTES,
    Attribute,
)
from controller.compile.elements import ElementTable, build_elements, select
from controller.effects_api import ParamTrack
from controller.errors import Diagnostic, ShowValidationError
from controller.render.context import ClipRenderer, EffectContext, EffectImpl
from controller.render.effects.mapping import MediaError
from controller.show.load import LoadedShow
from controller.show.timeline import Blend
from controller.show.twin import Twin

__all__ = ["CompiledClip", "CueMark", "VenuePlan", "compile_venue", "home_frame"]

F32 = NDArray[np.float32]
I64 = NDArray[np.int64]
Selection = slice | NDArray[np.int32]
PREMULTIPLIED = (Attribute.RED, Attribute.GREEN, Attribute.BLUE)


@dataclass(frozen=True, slots=True, kw_only=True)
class CueMark:
    name: str
    t: float
    hold: bool


@dataclass(slots=True, kw_only=True)
class CompiledClip:
    name: str  # "track/clip-index" for reports
    effect: str
    layer: int
    start: float
    end: float
    fade_in: float
    fade_out: float
    opacity: float
    blend: Blend
    rows: tuple[int, ...]  # attribute rows the effect writes, in its order
    selection: Selection
    n: int
    renderer: ClipRenderer
    constants: dict[str, tuple[float, ...]]
    tracks: dict[str, ParamTrack]
    scratch: F32  # (len(rows), n)
    premultiply: bool  # rows are I, R, G, B: blend colour as light (I*C)
    values: dict[str, tuple[float, ...]] = field(default_factory=dict)

    rates: dict[str, ParamTrack] = field(default_factory=dict)
    light_rows: slice = field(default_factory=lambda: slice(1, 4))  # rows a dimmer rescales (R..B)

    def params_at(self, t: float) -> dict[str, tuple[float, ...]]:
        """Parameter values at clip time `t`, plus `<name>_phase` integrals of rate params."""
        values = self.values
        for name, track in self.tracks.items():
            values[name] = track.at(t)
        for name, track in self.rates.items():
            values[f"{name}_phase"] = track.integral(t)
        return values


@dataclass(frozen=True, slots=True, kw_only=True)
class VenuePlan:
    venue: str
    twin: Twin
    elements: ElementTable
    fps: int
    duration: float
    intensity: float  # venue intensity scale
    time_offset: float
    cues: tuple[CueMark, ...]
    clips: tuple[CompiledClip, ...]  # in layer order
    home: F32  # (N_ATTRIBUTES, n) frame before any clip
    live_rows: tuple[int, ...]  # rows some clip writes (the renderer resets only these)

    @property
    def frame_count(self) -> int:
        return round(self.duration * self.fps)

    @property
    def offset_frames(self) -> int:
        """The venue's output trim (`time_offset`) in whole frames: positions stay on the grid."""
        return round(self.time_offset * self.fps)

    def render_time(self, show_frame: int) -> float:
        """Show seconds rendered for show frame `show_frame` (the trim applied, never < 0).

        The same for a live frame and for frame `show_frame` of `citypulse render`, so every
        frame on the wire is byte for byte a frame of the FSEQ render.
        """
        return max(0, show_frame + self.offset_frames) / self.fps

    def new_frame(self) -> F32:
        """A frame buffer for `render` (starts at the home look)."""
        return self.home.copy()

    def new_driven(self) -> NDArray[np.bool_]:
        """A mask buffer for `render(..., driven=)`: which attributes clips wrote."""
        return np.zeros(self.home.shape, dtype=np.bool_)


def home_frame(n: int) -> F32:
    frame = np.empty((N_ATTRIBUTES, n), dtype=np.float32)
    for attr, value in HOME_VALUES.items():
        frame[attr] = value
    return frame


def _as_selection(index: NDArray[np.int32]) -> Selection:
    if len(index) and int(index[-1]) - int(index[0]) + 1 == len(index):
        return slice(int(index[0]), int(index[-1]) + 1)
    return index


def _context(
    table: ElementTable,
    index: NDArray[np.int32],
    seed: int,
    fps: float,
    base: Path,
    inside: NDArray[np.bool_] | None = None,
) -> EffectContext:
    """What the effect sees of target `index`; with `inside`, only of those elements (a
    shard), with the selection-wide facts (`ids`, `extent`, order) of the whole target."""
    fixtures = table.fixture[index]
    _, local = np.unique(fixtures, return_inverse=True)
    n = len(index)
    order = (np.arange(n, dtype=np.float32) / max(n - 1, 1)).astype(np.float32)
    ids: NDArray[np.int64] | None = None
    extent: F32 | None = None
    if inside is not None:
        extent = table.positions[index]
        ids = np.flatnonzero(inside).astype(np.int64)
        index, fixtures, order, local = index[ids], fixtures[ids], order[ids], local[ids]
    return EffectContext(
        n=len(index),
        positions=table.positions[index],
        order=order,
        fixture_index=local.astype(np.int32),
        n_fixtures=int(local.max()) + 1 if len(local) else 0,
        rotations=table.rotations[fixtures],
        pan_range_deg=table.pan_range[fixtures],
        tilt_range_deg=table.tilt_range[fixtures],
        seed=seed,
        fps=fps,
        base_dir=base,
        ids=ids,
        extent=extent,
    )


def _restrict(twin: Twin, table: ElementTable, fixtures: Sequence[int]) -> tuple[Twin, I64]:
    """The twin with only `fixtures` (indices, ascending), and each full-venue element's
    index in it (-1 for elements of the other fixtures)."""
    kept = sorted(set(fixtures))
    sub = dataclasses.replace(twin, fixtures=tuple(twin.fixtures[i] for i in kept))
    remap = np.full(table.n, -1, np.int64)
    at = 0
    for i in kept:
        first, count = int(table.first[i]), int(table.count[i])
        remap[first : first + count] = np.arange(at, at + count)
        at += count
    return sub, remap


def compile_venue(
    loaded: LoadedShow, venue: str, *, fixtures: Sequence[int] | None = None
) -> VenuePlan:
    """Compile the show for one venue, or for `fixtures` of it (indices into its twin's
    fixtures: a shard, see `controller.runtime.shards`).

    A shard's plan holds only those fixtures (its twin, elements and frames), yet each of
    its elements renders exactly as in the whole venue: targets are chosen, and effects
    prepared, over the whole venue.

    Raises:
        ShowValidationError: a clip's media cannot be loaded (located at the clip).
        KeyError: `venue` is not one of the show's venues.
    """
    whole = loaded.venues[venue]
    entry = loaded.show.venues[venue]
    whole_table = build_elements(whole)
    twin, table, remap = whole, whole_table, None
    if fixtures is not None:
        twin, remap = _restrict(whole, whole_table, fixtures)
        table = build_elements(twin)
    base = Path(loaded.path).parent
    disabled = set(entry.disable_tracks)
    clips: list[CompiledClip] = []
    problems: list[Diagnostic] = []
    for rc in loaded.clips:
        if venue not in rc.venues or rc.track in disabled:
            continue
        index = select(rc.target, whole, whole_table)
        inside = None
        if remap is not None:
            inside = remap[index] >= 0
            if not inside.any():
                continue
        if len(index) == 0:
            continue
        ctx = _context(whole_table, index, rc.seed, loaded.show.fps, base, inside)
        if remap is not None:
            index = remap[index[inside]].astype(np.int32)
        impl = rc.effect.impl
        assert isinstance(impl, EffectImpl)
        try:
            renderer = impl.prepare(ctx, rc.params)
        except MediaError as exc:
            problems.append(
                Diagnostic(
                    code="S105", message=str(exc), span=loaded.doc.span((*rc.source, "params"))
                )
            )
            continue
        rows = tuple(int(a) for a in rc.effect.writes)
        clips.append(
            CompiledClip(
                name=f"{rc.track}/{rc.clip_index + 1}",
                effect=rc.effect.name,
                layer=rc.layer,
                start=rc.start,
                end=rc.end,
                fade_in=rc.fade_in,
                fade_out=rc.fade_out,
                opacity=rc.opacity,
                blend=rc.blend,
                rows=rows,
                selection=_as_selection(index),
                n=len(index),
                renderer=renderer,
                constants={k: v.at(0.0) for k, v in rc.params.items() if v.constant and v.keys},
                tracks={k: v for k, v in rc.params.items() if not v.constant},
                rates={
                    p.name: rc.params[p.name]
                    for p in rc.effect.params
                    if p.rate and p.name in rc.params and rc.params[p.name].keys
                },
                scratch=np.zeros((len(rows), len(index)), dtype=np.float32),
                premultiply=rows[:4] == (Attribute.INTENSITY, *PREMULTIPLIED),
            )
        )
    if problems:
        raise ShowValidationError(problems)
    for clip in clips:
        clip.values.update(clip.constants)
    cues = tuple(
        sorted(
            (
                CueMark(name=c.name, t=loaded.cue_times[c.name], hold=c.hold)
                for c in loaded.show.cues
                if c.name in loaded.cue_times
            ),
            key=lambda c: c.t,
        )
    )
    return VenuePlan(
        venue=venue,
        twin=twin,
        elements=table,
        fps=loaded.show.fps,
        duration=loaded.show.duration,
        intensity=entry.intensity,
        time_offset=entry.time_offset,
        cues=cues,
        clips=tuple(sorted(clips, key=lambda c: c.layer)),
        home=home_frame(table.n),
        live_rows=_live_rows(clips),
    )


def _live_rows(clips: list[CompiledClip]) -> tuple[int, ...]:
    """Rows any clip writes; intensity-only clips also rescale the light rows in use."""
    rows = {r for c in clips for r in c.rows}
    if Attribute.INTENSITY in rows:
        rows.update(int(a) for a in COLOR_ATTRIBUTES)
    light = [int(a) for a in LIGHT_ATTRIBUTES if int(a) in rows]
    span = (
        slice(min(light), max(light) + 1)
        if light
        else slice(int(Attribute.RED), int(Attribute.BLUE) + 1)
    )
    for clip in clips:
        clip.light_rows = span
    return tuple(sorted(rows | set(range(span.start, span.stop))))
