"""L3 `render(plan, t, out)`: the look of every element at show time `t`.

Deterministic, not pure: the frame depends only on the plan and `t`, whatever was rendered
before and in whatever order. But rendering writes state held by the plan (each clip's
scratch rows, effect state such as sparkle's cached draws and motion's distance cache), so
it is not re-entrant: one plan renders one frame at a time, never from two threads at once.

Strategy:
- `out` (from `plan.new_frame()`) is reset to the home look on the rows any clip can
  write; clips active at `t` (start <= t < end) composite over it in layer order. Each
  clip's effect fills its scratch rows; the scratch is blended into `out` at the clip's
  selection with alpha = opacity x fade envelope.
- Frames hold light (colour premultiplied by intensity, see `controller.attributes`), and
  effects that drive intensity and colour write light too, so every row blends alike. So a white sparkle at zero intensity HTP'd over a
  red wash leaves it red, and crossfades dim through the mix the way two lights would.
- An effect that writes intensity but no colour (a dimmer) rescales the light rows by the
  change in intensity, keeping each element's colour; a dark element it raises shows white.
- HTP (`max`) at alpha 1 is the element-wise maximum of intensity and of light;
  `replace` is LTP; `add` saturates at 1; `multiply` at alpha 1 multiplies.
- No per-element Python loop; contiguous selections are slices (views, no gather).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from controller.attributes import Attribute
from controller.compile.plan import CompiledClip, VenuePlan
from controller.render import jit, kernels
from controller.show.timeline import Blend

__all__ = ["blend_rows", "composite_clip", "render"]

F32 = NDArray[np.float32]
EPS = np.float32(1e-6)


def _alpha(clip: CompiledClip, t: float) -> float:
    a = clip.opacity
    if clip.fade_in > 0:
        a *= min(1.0, (t - clip.start) / clip.fade_in)
    if clip.fade_out > 0:
        a *= min(1.0, (clip.end - t) / clip.fade_out)
    return max(0.0, min(1.0, a))


def blend_rows(dst: F32, src: F32, blend: Blend, alpha: float) -> None:
    """Blend `src` into `dst` in place (same shape, values 0..1)."""
    a = np.float32(alpha)
    if blend is Blend.REPLACE:
        if alpha >= 1.0:
            np.copyto(dst, src)
        else:
            dst += (src - dst) * a
    elif blend is Blend.MAX:
        if alpha >= 1.0:
            np.maximum(dst, src, out=dst)
        else:
            dst += (np.maximum(dst, src) - dst) * a
    elif blend is Blend.ADD:
        dst += src * a if alpha < 1.0 else src
        np.minimum(dst, 1.0, out=dst)
    elif alpha >= 1.0:  # MULTIPLY
        dst *= src
    else:
        dst *= (1.0 - a) + src * a


_CODES = {Blend.REPLACE: 0, Blend.MAX: 1, Blend.ADD: 2, Blend.MULTIPLY: 3}
_ROW_ARRAYS: dict[tuple[int, ...], NDArray[np.int64]] = {}
_ROW_RUNS: dict[tuple[int, ...], tuple[tuple[int, int], ...]] = {}


def _runs(rows: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """`rows` as (start, stop) runs of adjacent rows, in order."""
    found = _ROW_RUNS.get(rows)
    if found is None:
        runs: list[list[int]] = []
        for r in sorted(rows):
            if runs and runs[-1][1] == r:
                runs[-1][1] = r + 1
            else:
                runs.append([r, r + 1])
        found = _ROW_RUNS[rows] = tuple((a, b) for a, b in runs)
    return found


def _row_array(rows: tuple[int, ...]) -> NDArray[np.int64]:
    found = _ROW_ARRAYS.get(rows)
    if found is None:
        found = _ROW_ARRAYS[rows] = np.array(rows, dtype=np.int64)
    return found


def _blend_block(
    out: F32, rows: tuple[int, ...], clip: CompiledClip, src_row0: int, alpha: float
) -> None:
    """Blend scratch rows `src_row0...` into frame rows `rows` at the clip's selection."""
    sel = clip.selection
    if jit.enabled():
        code, at = _CODES[clip.blend], _row_array(rows)
        if isinstance(sel, slice):
            kernels.blend_span(out, at, sel.start, clip.scratch, src_row0, code, alpha)
        else:
            kernels.blend_index(out, at, sel, clip.scratch, src_row0, code, alpha)
        return
    src = clip.scratch[src_row0 : src_row0 + len(rows)]
    contiguous = rows == tuple(range(rows[0], rows[0] + len(rows)))
    span = slice(rows[0], rows[0] + len(rows)) if contiguous else list(rows)
    if isinstance(sel, slice) and isinstance(span, slice):
        blend_rows(out[span, sel], src, clip.blend, alpha)
        return
    block = out[span][:, sel] if isinstance(span, list) else out[span, sel]
    blend_rows(block, src, clip.blend, alpha)
    if isinstance(span, list):
        for k, r in enumerate(span):
            out[r, sel] = block[k]
    else:
        out[span, sel] = block


def _dim_light(out: F32, clip: CompiledClip, before: F32) -> None:
    """After an intensity-only blend: rescale light by new/old intensity."""
    sel = clip.selection
    after = out[Attribute.INTENSITY, sel]
    light = out[clip.light_rows, sel]
    ratio = np.divide(after, before, out=np.zeros_like(after), where=before > EPS)
    light *= ratio
    dark = before <= EPS
    if dark.any():
        light[0:3, dark] = after[dark]  # from darkness, a dimmer brings up white
    if not isinstance(sel, slice):
        out[clip.light_rows, sel] = light


def composite_clip(out: F32, clip: CompiledClip, alpha: float) -> None:
    # Effects write values in 0..1 (property-tested); the patch clamps at the wire anyway.
    src = clip.scratch
    if clip.premultiply:  # rows I, R, G, B: intensity and light blend alike
        _blend_block(out, (0, 1, 2, 3), clip, 0, alpha)
        rest = clip.rows[4:]
        offset = 4
    elif (
        clip.rows[0] == Attribute.INTENSITY
        and clip.blend is Blend.MULTIPLY
        and isinstance(clip.selection, slice)
    ):  # a master fade: intensity and light scale by the same factor, colour unchanged
        span = clip.selection
        factor = src[0] if alpha >= 1.0 else (1.0 - np.float32(alpha)) + src[0] * np.float32(alpha)
        out[Attribute.INTENSITY, span] *= factor
        out[clip.light_rows, span] *= factor
        rest = clip.rows[1:]
        offset = 1
    elif clip.rows[0] == Attribute.INTENSITY:
        before = out[Attribute.INTENSITY, clip.selection].copy()
        _blend_block(out, (int(Attribute.INTENSITY),), clip, 0, alpha)
        _dim_light(out, clip, before)
        rest = clip.rows[1:]
        offset = 1
    else:
        rest = clip.rows
        offset = 0
    if rest:
        _blend_block(out, tuple(rest), clip, offset, alpha)


def _covered_by_first_layer(plan: VenuePlan, t: float) -> bool:
    """True when the first active clip overwrites every live row of every element (then
    resetting to the home look first would be wasted work)."""
    for clip in plan.clips:
        if clip.start <= t < clip.end:
            return (
                clip.blend is Blend.REPLACE
                and isinstance(clip.selection, slice)
                and clip.selection == slice(0, plan.elements.n)
                and set(plan.live_rows) <= set(clip.rows)
                and _alpha(clip, t) >= 1.0
            )
    return False


def render(plan: VenuePlan, t: float, out: F32, driven: NDArray[np.bool_] | None = None) -> F32:
    """Write the frame at show time `t` (seconds) into `out` and return it.

    `out` must come from `plan.new_frame()`: rows no clip writes keep their home values.
    `driven` (from `plan.new_driven()`), when given, is set True where an active clip wrote
    this frame, so the patch can send channel defaults exactly where nothing drove them.
    Deterministic: the same plan and `t` always give the same values. Not re-entrant:
    it writes the plan's scratch buffers (see the module docstring).
    """
    compiled = jit.enabled()
    if compiled:  # whole rows: one copy or fill per run of adjacent rows (memcpy, memset)
        reset = not _covered_by_first_layer(plan, t)
        for a, b in _runs(plan.live_rows):
            if reset:
                np.copyto(out[a:b], plan.home[a:b])
            if driven is not None:
                driven[a:b] = False
    else:
        if not _covered_by_first_layer(plan, t):
            for row in plan.live_rows:
                np.copyto(out[row], plan.home[row])
        if driven is not None:
            for row in plan.live_rows:
                driven[row] = False
    for clip in plan.clips:
        if not clip.start <= t < clip.end:
            continue
        alpha = _alpha(clip, t)
        if alpha <= 0.0:
            continue
        local = t - clip.start
        clip.renderer(local, clip.params_at(local), clip.scratch)
        composite_clip(out, clip, alpha)
        if driven is None:
            continue
        if compiled:
            sel = clip.selection
            if isinstance(sel, slice):
                for a, b in _runs(clip.rows):
                    driven[a:b, sel] = True
            else:
                kernels.mark_index(driven, _row_array(clip.rows), sel)
        else:
            for row in clip.rows:
                driven[row, clip.selection] = True
    return out
