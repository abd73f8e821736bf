"""L3 `render(plan, t, out)`: the look of every element at show time `t`. Pure.

Strategy:
- `out` starts as the home frame; clips active at `t` (start <= t < end) composite over it
  in layer order. Each clip's effect writes its scratch rows; then the scratch is blended
  into `out` at the clip's selection with alpha = opacity x fade envelope.
- Effects that write intensity and colour (rows I, R, G, B) blend as light: intensity
  blends as I, colour as I*C (premultiplied), and the colour is recovered as L / I. So a
  white sparkle at zero intensity, HTP'd over a red wash, leaves the wash red, and a
  crossfade between colours dims through the mix the way two real lights would.
- HTP (`max`) at alpha 1 is the element-wise maximum of I and of light; `replace` is LTP.
- No per-element Python loop; selections that are contiguous are slices (views).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from controller.compile.plan import CompiledClip, Selection, VenuePlan
from controller.show.timeline import Blend

__all__ = ["active_clips", "blend_rows", "render"]

F32 = NDArray[np.float32]
EPS = np.float32(1e-6)


def active_clips(plan: VenuePlan, t: float) -> list[CompiledClip]:
    return [c for c in plan.clips if c.start <= t < c.end]


def _alpha(clip: CompiledClip, t: float) -> float:
    a = clip.opacity
    if clip.fade_in > 0:
        a *= min(1.0, (t - clip.start) / clip.fade_in)
    if clip.fade_out > 0:
        a *= min(1.0, (clip.end - t) / clip.fade_out)
    return max(0.0, min(1.0, a))


def blend_rows(dst: F32, src: F32, blend: Blend, alpha: float) -> None:
    """Blend `src` into `dst` in place (both the same shape, values 0..1)."""
    a = np.float32(alpha)
    if blend is Blend.REPLACE:
        if alpha >= 1.0:
            dst[...] = src
        else:
            dst += (src - dst) * a
    elif blend is Blend.MAX:
        top = np.maximum(dst, src)
        if alpha >= 1.0:
            dst[...] = top
        else:
            dst += (top - dst) * a
    elif blend is Blend.ADD:
        dst += src * a
        np.minimum(dst, 1.0, out=dst)
    else:  # MULTIPLY: alpha 0 leaves dst, alpha 1 multiplies fully
        dst *= (1.0 - a) + src * a


def _composite(out: F32, clip: CompiledClip, sel: Selection, alpha: float) -> None:
    src = clip.scratch
    np.clip(src, 0.0, 1.0, out=src)
    rows = clip.rows
    if clip.premultiply:
        dst = out[0:4, sel]  # a view for slices, a copy for index arrays
        level, color = dst[0], dst[1:4]
        light = color * level
        src_light = src[1:4] * src[0]
        blend_rows(light, src_light, clip.blend, alpha)
        blend_rows(level, src[0], clip.blend, alpha)
        safe = np.maximum(level, EPS)
        new_color = np.where(level > EPS, light / safe, src[1:4])
        np.clip(new_color, 0.0, 1.0, out=color)
        if isinstance(sel, np.ndarray):
            out[0:4, sel] = dst
        rest = rows[4:]
        start = 4
    else:
        rest = rows
        start = 0
    for k, row in enumerate(rest, start=start):
        if isinstance(sel, slice):
            blend_rows(out[row, sel], src[k], clip.blend, alpha)
        else:
            part = out[row, sel]
            blend_rows(part, src[k], clip.blend, alpha)
            out[row, sel] = part


def render(plan: VenuePlan, t: float, out: F32) -> F32:
    """Write the frame at show time `t` (seconds) into `out` and return it.

    Deterministic: the same plan and `t` always give the same values.
    """
    np.copyto(out, plan.home)
    for clip in plan.clips:
        if not clip.start <= t < clip.end:
            continue
        alpha = _alpha(clip, t)
        if alpha <= 0.0:
            continue
        local = t - clip.start
        clip.renderer(local, clip.params_at(local), clip.scratch)
        _composite(out, clip, clip.selection, alpha)
    return out
