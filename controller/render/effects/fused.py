"""L3 compiled per-frame loops of the costliest effects (sparkle, rainbow, noise).

Each function is one pass over the clip's elements doing what the effect's numpy code does
in several (same float32 operations, same order; see `controller.render.jit`). The
effects call them when `jit.enabled()`, else run their numpy code, the reference.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from controller.render.jit import kernel

__all__ = [
    "level_rgbi",
    "map_rgbi",
    "noise_rgbi",
    "radial_rgbi",
    "rainbow_rgbi",
    "sparkle_draw",
    "sparkle_rgbi",
]

F32 = NDArray[np.float32]
I32 = NDArray[np.int32]
_SALT = np.int32(83492791)


@kernel
def sparkle_draw(
    offset: F32, phase: float, key: I32, table: F32, mask: int, density: float,
    x: F32, cycle: I32, last: I32, lucky: F32, lit: NDArray[np.intp],
) -> int:  # fmt: skip
    """Advance every element's cycle, redraw where it moved on; list the lit ones in `lit`
    (returns how many)."""
    ph = np.float32(phase)
    dens = np.float32(density)
    m = np.int32(mask)
    count = 0
    for i in range(offset.shape[0]):
        xi = offset[i] + ph
        x[i] = xi
        c = np.int32(xi)
        cycle[i] = c
        if c != last[i]:
            lucky[i] = table[(key[i] ^ (c * _SALT)) & m]
            last[i] = c
        if lucky[i] < dens:
            lit[count] = i
            count += 1
    return count


@kernel
def sparkle_rgbi(flash: F32, level: float, background: float, color: F32, out: F32) -> None:
    """write_rgbi of the flash: rows I, R, G, B."""
    lev = np.float32(level)
    bg = np.float32(background)
    span = np.float32(level - background)
    c0, c1, c2 = color[0], color[1], color[2]
    scaled = level != 1.0
    for i in range(flash.shape[0]):
        v = bg + span * flash[i]
        if background == 0.0:
            v = flash[i] * lev if scaled else flash[i]
        out[0, i] = v
        out[1, i] = v * c0
        out[2, i] = v * c1
        out[3, i] = v * c2


@kernel
def rainbow_rgbi(
    coord: F32, k1: float, k2: float, mask: int, tab: F32, level: float, out: F32
) -> None:
    """Hue index from the coordinate, colour from the table, scaled to `level`."""
    a = np.float32(k1)
    b = np.float32(k2)
    lev = np.float32(level)
    scaled = level != 1.0
    for i in range(coord.shape[0]):
        h = coord[i] * a
        h = h + b
        j = np.int64(h) & mask
        r, g, bl = tab[0, j], tab[1, j], tab[2, j]
        if scaled:
            r, g, bl = r * lev, g * lev, bl * lev
        out[0, i] = lev
        out[1, i] = r
        out[2, i] = g
        out[3, i] = bl


@kernel
def noise_rgbi(
    la: F32, lb: F32, sz: float, contrast: float, base: F32, span: F32, level: float,
    out: F32,
) -> None:  # fmt: skip
    """Blend two noise layers, apply contrast, mix `base + span * n` per colour, scale."""
    s = np.float32(sz)
    c = np.float32(contrast)
    half = np.float32(0.5)
    zero = np.float32(0.0)
    one = np.float32(1.0)
    lev = np.float32(level)
    scaled = level != 1.0
    for i in range(la.shape[0]):
        n = lb[i] - la[i]
        n = n * s
        n = n + la[i]
        n = (n - half) * c + half
        n = zero if n < zero else (one if n > one else n)
        for row in range(3):
            v = base[row] + span[row] * n
            out[1 + row, i] = v * lev if scaled else v
        out[0, i] = lev


@kernel
def level_rgbi(level: F32, c0: float, c1: float, c2: float, out: F32) -> None:
    """write_rgbi with a level per element: I = level, R, G, B = level x colour."""
    r, g, b = np.float32(c0), np.float32(c1), np.float32(c2)
    for i in range(level.shape[0]):
        v = level[i]
        out[0, i] = v
        out[1, i] = v * r
        out[2, i] = v * g
        out[3, i] = v * b


@kernel
def radial_rgbi(
    pos: F32, cx: float, cy: float, radius: float, base: F32, span: F32, level: float,
    out: F32,
) -> None:  # fmt: skip
    """Radial gradient: u = clip(|xy - c| / radius, 0, 1); light base + span * u at level."""
    x0, y0, r = np.float32(cx), np.float32(cy), np.float32(radius)
    lev = np.float32(level)
    scaled = level != 1.0
    zero, one = np.float32(0.0), np.float32(1.0)
    for i in range(pos.shape[0]):
        dx = pos[i, 0] - x0
        dy = pos[i, 1] - y0
        u = np.sqrt(dx * dx + dy * dy) / r
        u = zero if u < zero else (one if u > one else u)
        for row in range(3):
            c = base[row] + span[row] * u
            out[1 + row, i] = c * lev if scaled else c
        out[0, i] = lev


@kernel
def map_rgbi(
    u0: F32, v0: F32, du: float, dv: float, tile: bool, width: int, height: int,
    image: F32, level: float, out: F32,
) -> None:  # fmt: skip
    """Pixel-map `image` (height x width rows of RGB) at each element's (u, v)."""
    su, sv = np.float32(du), np.float32(dv)
    zero, one = np.float32(0.0), np.float32(1.0)
    lev = np.float32(level)
    for i in range(u0.shape[0]):
        u = u0[i] + su
        v = v0[i] + sv
        if tile:
            u = u % one
            v = v % one
        inside = u >= zero and u < one and v >= zero and v < one
        ix = int(np.int32(u * np.float32(width)))
        iy = int(np.int32((one - v) * np.float32(height)))
        ix = 0 if ix < 0 else (width - 1 if ix > width - 1 else ix)
        iy = 0 if iy < 0 else (height - 1 if iy > height - 1 else iy)
        k = iy * width + ix
        gain = lev if inside else zero
        for row in range(3):
            out[1 + row, i] = image[k, row] * gain
        out[0, i] = gain
