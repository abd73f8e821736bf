"""L7 the frame grid: frame k is due at grid time `epoch + k / fps`.

Rules:
- Grid time is the venue's timebase: the local monotonic clock when a venue plays alone,
  shared time when venues play in lockstep. Commands carry `exec_at` in grid time; the
  grid turns it into the tick (frame index) it executes on: the first frame due at or
  after it.
- `deadline(k)` is the local monotonic time frame k must appear, recomputed every frame
  (a lockstep grid moves with the timebase), so a correction never bunches or skips.
- Ticks are integers; grid arithmetic is exact enough that a time computed as
  `time_of(k)` maps back to k.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

__all__ = ["FrameGrid", "LocalGrid", "describe_grid", "grid_tick", "grid_time"]

_EPS = 1e-9  # seconds: float noise when a time sits exactly on a frame


def grid_time(epoch: float, fps: int, tick: int) -> float:
    """Grid time of frame `tick`: `epoch + tick / fps` (every grid's arithmetic)."""
    return epoch + tick / fps


def grid_tick(epoch: float, fps: int, grid_time: float) -> int:
    """The first frame due at or after `grid_time` (float noise on a frame counts as on it)."""
    return math.ceil((grid_time - epoch) * fps - _EPS * fps)


class FrameGrid(Protocol):
    @property
    def fps(self) -> int: ...

    def time_of(self, tick: int) -> float:
        """Grid time of frame `tick`."""
        ...

    def tick_for(self, grid_time: float) -> int:
        """The first frame due at or after `grid_time`."""
        ...

    def deadline(self, tick: int) -> float:
        """Local monotonic time frame `tick` is due."""
        ...

    def to_grid(self, local: float) -> float:
        """Grid time of a local monotonic instant."""
        ...


def describe_grid(grid: FrameGrid) -> dict[str, object]:
    """For a report: frame k was due at grid time `epoch + k / fps`, on `time` (a drop's
    tick becomes an instant, comparable across venues in lockstep)."""
    local = isinstance(grid, LocalGrid)
    return {
        "epoch": round(grid.time_of(0), 6),
        "fps": grid.fps,
        "time": "local monotonic" if local else "shared (UTC)",
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalGrid:
    """A venue on its own: grid time is the local monotonic clock."""

    epoch: float
    fps: int

    def time_of(self, tick: int) -> float:
        return grid_time(self.epoch, self.fps, tick)

    def tick_for(self, grid_time: float) -> int:
        return grid_tick(self.epoch, self.fps, grid_time)

    def deadline(self, tick: int) -> float:
        return self.time_of(tick)

    def to_grid(self, local: float) -> float:
        return local
