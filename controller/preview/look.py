"""L5 looks: what a venue's lights show, downsampled to a bounded number of cells (pure numpy).

A venue publishes the look of a frame on the bus (`controller.protocols.bus.Look`) and a
console draws it from above. Both build the same `LookLayout` from the show alone, so only
colours travel:
- a venue with at most `max_cells` elements gets one cell per element, in element order;
- a larger one gets a square grid over its plan (east, north), whose side is the smallest
  (searched in centimetres, so every machine finds the same) that leaves at most
  `max_cells` grid squares holding an element; cells are the occupied squares, row by row
  from the south-west.
A cell's colour is the brightest of its elements, channel by channel (a lit pixel in a dark
block stays visible), times the master that went out with the frame.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from controller.attributes import LIGHT_ATTRIBUTES
from controller.compile.plan import VenuePlan
from controller.preview.appearance import mix_light

__all__ = ["LIGHT_ROWS", "LookLayout"]

F32 = NDArray[np.float32]
LIGHT_ROWS = np.array([int(a) for a in LIGHT_ATTRIBUTES], dtype=np.intp)  # rows a look needs
_SEARCH_STEPS = 40


def _grid_cells(xy: NDArray[np.float64], side: float) -> NDArray[np.int64]:
    """Grid square of each point (row-major from the south-west corner) for a square `side`."""
    origin = xy.min(axis=0)
    ij = np.floor((xy - origin) / side).astype(np.int64)
    columns = int(ij[:, 0].max()) + 1
    cells: NDArray[np.int64] = ij[:, 1] * columns + ij[:, 0]
    return cells


def _occupied(xy: NDArray[np.float64], side: float) -> int:
    return len(np.unique(_grid_cells(xy, side)))


def _smallest_side(xy: NDArray[np.float64], max_cells: int) -> float:
    """The smallest square side, in whole centimetres, leaving at most `max_cells` occupied."""
    extent = float(np.ptp(xy, axis=0).max())
    lo, hi = 0, max(1, math.ceil(extent * 100) + 1)  # hi: one square holds everything
    for _ in range(_SEARCH_STEPS):
        if hi - lo <= 1:
            break
        mid = (lo + hi) // 2
        if _occupied(xy, mid / 100) <= max_cells:
            hi = mid
        else:
            lo = mid
    return hi / 100


class LookLayout:
    """Which cell each element of a venue falls in, and where the cells are."""

    def __init__(self, positions: NDArray[np.floating], *, max_cells: int) -> None:
        if max_cells < 1:
            raise ValueError(f"max_cells={max_cells!r} must be at least 1")
        xy = np.asarray(positions, dtype=np.float64)[:, :2]
        n = len(xy)
        self.elements = n
        self.side_m: float | None = None  # grid square side; None: one cell per element
        if n <= max_cells:
            cell_of = np.arange(n, dtype=np.int64)
        else:
            self.side_m = _smallest_side(xy, max_cells)
            _, cell_of = np.unique(_grid_cells(xy, self.side_m), return_inverse=True)
        self.cell_of = cell_of.reshape(-1)
        self.cells = int(self.cell_of.max()) + 1 if n else 0
        self._order = np.argsort(self.cell_of, kind="stable")
        counts = np.bincount(self.cell_of, minlength=self.cells)
        self._starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.intp)
        sums = np.zeros((self.cells, 2), np.float64)
        np.add.at(sums, self.cell_of, xy)
        self.centres = (sums / np.maximum(counts, 1)[:, None]).astype(np.float32)

    @classmethod
    def of_plan(cls, plan: VenuePlan, *, max_cells: int) -> LookLayout:
        return cls(plan.elements.positions, max_cells=max_cells)

    @property
    def identity(self) -> bool:
        return self.side_m is None

    def colours(self, rows: F32, master: float) -> NDArray[np.uint8]:
        """(cells, 3) bytes from the light rows (`LIGHT_ROWS` of a frame) and the master."""
        light = mix_light(rows) * np.float32(min(max(master, 0.0), 1.0))
        if not self.identity and self.cells:
            light = np.maximum.reduceat(light[self._order], self._starts, axis=0)
        return np.asarray(np.rint(light * 255.0), dtype=np.uint8)
