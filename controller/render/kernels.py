"""L3 compiled blends: a clip's scratch rows into the frame in one pass, in place.

Each kernel is the element-by-element form of `renderer.blend_rows` (same float32
operations in the same order, see `controller.render.jit`): the numpy path makes
temporaries for every operation and, for a selection that is not contiguous, gathers the
block, blends it and scatters it back; these read and write each value once.

Blend codes: 0 replace, 1 max (HTP), 2 add, 3 multiply.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from controller.render.jit import kernel

__all__ = ["BLEND_CODES", "blend_index", "blend_span", "mark_index"]

F32 = NDArray[np.float32]
I64 = NDArray[np.int64]

BLEND_CODES = {"replace": 0, "max": 1, "add": 2, "multiply": 3}
_ONE = np.float32(1.0)


@kernel
def _row(dst: F32, start: int, s: F32, mode: int, a: np.float32, full: bool) -> None:
    """One row: dst[start + j] = op(dst[start + j], s[j]); the branch is outside the loops
    so that each loop compiles to vector instructions."""
    n = s.shape[0]
    d = dst[start : start + n]
    if mode == 0 and full:
        for j in range(n):
            d[j] = s[j]
    elif mode == 0:
        for j in range(n):
            d[j] = d[j] + (s[j] - d[j]) * a
    elif mode == 1 and full:
        for j in range(n):
            d[j] = s[j] if s[j] > d[j] else d[j]
    elif mode == 1:
        for j in range(n):
            m = s[j] if s[j] > d[j] else d[j]
            d[j] = d[j] + (m - d[j]) * a
    elif mode == 2:
        for j in range(n):
            v = d[j] + s[j] if full else d[j] + s[j] * a
            d[j] = v if v < _ONE else _ONE
    elif full:
        for j in range(n):
            d[j] = d[j] * s[j]
    else:
        for j in range(n):
            d[j] = d[j] * ((_ONE - a) + s[j] * a)


@kernel
def _op(d: np.float32, s: np.float32, mode: int, a: np.float32, full: bool) -> np.float32:
    if mode == 0:
        return s if full else d + (s - d) * a
    if mode == 1:
        m = s if s > d else d
        return m if full else d + (m - d) * a
    if mode == 2:
        v = d + s if full else d + s * a
        return v if v < _ONE else _ONE
    return d * s if full else d * ((_ONE - a) + s * a)


@kernel
def blend_span(
    out: F32, rows: I64, start: int, src: F32, src_row0: int, mode: int, alpha: float
) -> None:
    """out[rows[r], start + j] = op(out[...], src[src_row0 + r, j]) for every j."""
    a = np.float32(alpha)
    full = alpha >= 1.0
    for r in range(rows.shape[0]):
        _row(out[rows[r]], start, src[src_row0 + r], mode, a, full)


@kernel
def blend_index(
    out: F32,
    rows: I64,
    index: NDArray[np.integer[Any]],
    src: F32,
    src_row0: int,
    mode: int,
    alpha: float,
) -> None:
    """out[rows[r], index[j]] = op(out[...], src[src_row0 + r, j]) for every j."""
    a = np.float32(alpha)
    full = alpha >= 1.0
    n = index.shape[0]
    for r in range(rows.shape[0]):
        dst = out[rows[r]]
        s = src[src_row0 + r]
        for j in range(n):
            i = index[j]
            dst[i] = _op(dst[i], s[j], mode, a, full)


@kernel
def mark_index(driven: NDArray[np.bool_], rows: I64, index: NDArray[np.integer[Any]]) -> None:
    for k in range(rows.shape[0]):
        d = driven[rows[k]]
        for j in range(index.shape[0]):
            d[index[j]] = True
