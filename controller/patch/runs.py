"""L4 the FAST block laid out as the pixels are: runs of slots, not one index per slot.

A pixel fixture's channel letter (the G of GRB, say) fills every third slot of a segment
from consecutive elements of one attribute row: slot `dst + j * step` reads frame value
`src + j` for j < count. One such run replaces `count` entries of a per-slot index, so the
compiled patch (`kernels.fast_runs`) streams through the frame row instead of gathering.
Every patch entry (`_Builder.add` call) is checked to be such a progression; one that is
not (none is, today) is split into runs of one slot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["SlotRuns", "slot_runs"]

I64 = NDArray[np.int64]


@dataclass(frozen=True, slots=True, kw_only=True)
class SlotRuns:
    dst: I64  # first output slot of each run (flat: row * 512 + slot)
    step: I64  # output slots between consecutive elements of the run
    src: I64  # flat frame index of the first element
    count: I64  # elements in the run
    table: I64  # curve table of the run (1..; 0 is the zero table)
    zero: I64  # output slots no run writes (zeroed each frame, as the reference does)


def _progression(dst: I64, src: I64) -> bool:
    if len(dst) < 2:
        return True
    step = dst[1] - dst[0]
    return bool(step > 0 and np.all(np.diff(dst) == step) and np.all(np.diff(src) == 1))


def slot_runs(
    calls: Sequence[int], fast: NDArray[np.bool_], dst: I64, src: I64, slot_table: I64
) -> SlotRuns:
    """Runs of the FAST entries; `calls` are the entry counts of the builder's `add` calls."""
    parts: list[tuple[I64, I64, I64, I64]] = []  # dst, step, src, count per run
    start = 0
    for n in calls:
        stop = start + n
        if n and fast[start]:
            d, s = dst[start:stop], src[start:stop]
            if _progression(d, s):
                step = d[1] - d[0] if n > 1 else np.int64(1)
                parts.append((d[:1], np.array([step]), s[:1], np.array([n])))
            else:  # pragma: no cover - no entry of today's patch builder takes this path
                parts.append((d, np.ones(n, np.int64), s, np.ones(n, np.int64)))
        start = stop
    if parts:
        run_dst, run_step, run_src, run_count = (
            np.concatenate([p[k] for p in parts]).astype(np.int64) for k in range(4)
        )
    else:
        run_dst = run_step = run_src = run_count = np.zeros(0, np.int64)
    return SlotRuns(
        dst=run_dst,
        step=run_step,
        src=run_src,
        count=run_count,
        table=slot_table[run_dst].astype(np.int64),
        zero=np.flatnonzero(slot_table == 0).astype(np.int64),
    )
