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

__all__ = ["fast_runs"]

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
