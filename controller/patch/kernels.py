"""L4 compiled patch: every FAST slot's byte in one pass, run by run.

The numpy reference (`Patch._fast`) gathers the levels of all slots into a temporary,
scales, clips, rounds, offsets into the curve tables and gathers again: seven passes with
8-byte temporaries and an index per slot. Here each run of a pixel channel
(`controller.patch.runs`) streams its frame row, and each slot is scaled, clipped, rounded
and looked up in one step; the float32 operations are the reference's, in its order (see
`controller.render.jit`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from controller.render.jit import kernel

__all__ = ["fast_runs", "general_bytes", "general_levels"]

_HALF = np.float32(0.5)
_ZERO = np.float32(0.0)


@kernel
def fast_runs(
    flat: NDArray[np.float32],
    dst: NDArray[np.int64],
    step: NDArray[np.int64],
    src: NDArray[np.int64],
    count: NDArray[np.int64],
    table: NDArray[np.int64],
    zero: NDArray[np.int64],
    tables: NDArray[np.uint8],
    scale: float,
    out: NDArray[np.uint8],
) -> None:
    """out[slot] = tables[table, round(clip(level x scale, 0, top))] along every run.

    `tables` is (1 + curves, levels); `scale` is (levels - 1) x master. Slots no run
    writes (`zero`) get 0, as the reference's zero table gives them.
    """
    k = np.float32(scale)
    top = np.float32(tables.shape[1] - 1)
    for z in range(zero.shape[0]):
        out[zero[z]] = 0
    for r in range(dst.shape[0]):
        lut = tables[table[r]]
        level = flat[src[r] : src[r] + count[r]]
        d, st = dst[r], step[r]
        for j in range(count[r]):
            v = level[j] * k
            if v < _ZERO:
                v = _ZERO
            elif v > top:
                v = top
            out[d + j * st] = lut[int(v + _HALF)]


_ONE = np.float32(1.0)
_DARK = np.float32(1e-6)  # the reference compares float32 levels with this (NEP 50)


@kernel
def general_levels(
    flat: NDArray[np.float32], src: NDArray[np.int64], has_default: NDArray[np.int64],
    driven: NDArray[np.bool_], use_driven: bool, home: NDArray[np.float32],
    wx_src: NDArray[np.int64], wx_white: NDArray[np.int64], wx_color: NDArray[np.int64],
    undim: NDArray[np.int64], undim_src: NDArray[np.int64], undim_dark: NDArray[np.float32],
    full: NDArray[np.int64], master_scaled: NDArray[np.int64], master: float,
    v: NDArray[np.float32], is_home: NDArray[np.bool_],
) -> None:  # fmt: skip
    """The GENERAL block up to its curves: `Patch._general`'s steps, in its order."""
    for j in range(src.shape[0]):
        v[j] = flat[src[j]]
        is_home[j] = False
    for k in range(has_default.shape[0]):
        d = has_default[k]
        is_home[d] = (not driven[src[d]]) if use_driven else v[d] == home[d]
    nw = wx_white.shape[0]
    for k in range(wx_src.shape[1]):  # white = min(R, G, B), taken out of R, G, B
        a, b, c = flat[wx_src[0, k]], flat[wx_src[1, k]], flat[wx_src[2, k]]
        m = a if a < b else b
        m = m if m < c else c
        if k < nw:
            i = wx_white[k]
            v[i] = v[i] if v[i] > m else m
        else:
            v[wx_color[k - nw]] -= m
    for k in range(undim.shape[0]):  # colour of a fixture with a dimmer: light / level
        level = flat[undim_src[k]]
        i = undim[k]
        v[i] = v[i] / level if level > _DARK else undim_dark[k]
    for k in range(full.shape[0]):
        v[full[k]] = _ONE
    m32 = np.float32(master)
    for k in range(master_scaled.shape[0]):
        v[master_scaled[k]] *= m32
    zero = np.float32(0.0)
    for j in range(v.shape[0]):
        x = v[j]
        x = x if x > zero else zero
        v[j] = x if x < _ONE else _ONE


@kernel
def general_bytes(
    v: NDArray[np.float32], invert: NDArray[np.int64], lo: NDArray[np.float32],
    span: NDArray[np.float32], default: NDArray[np.float32], is_home: NDArray[np.bool_],
    dst: NDArray[np.int64], bits16: NDArray[np.bool_], out: NDArray[np.uint8],
) -> None:  # fmt: skip
    """The GENERAL block after its curves: invert, range, defaults, round, coarse/fine."""
    for k in range(invert.shape[0]):
        v[invert[k]] = _ONE - v[invert[k]]
    for j in range(v.shape[0]):
        x = default[j] if is_home[j] else lo[j] + v[j] * span[j]
        wide = np.uint32(np.rint(x))
        if bits16[j]:
            out[dst[j]] = np.uint8((wide >> 8) & 0xFF)
            out[dst[j] + 1] = np.uint8(wide & 0xFF)
        else:
            out[dst[j]] = np.uint8(wide & 0xFF)
