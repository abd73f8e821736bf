"""L7 the frame grid on shared time: every venue emits frame k at shared instant epoch + k/fps.

Rules:
- Grid time is shared time (UTC seconds as the conductor reports it). The map from this
  host's monotonic clock to shared time is the timebase's disciplined `ClockMap`: slewed,
  never backwards, so deadlines computed from it never bunch or skip a frame when the map
  is corrected.
- The map is replaced whole (an immutable value swapped in one assignment) by whoever
  steers it, the bus thread; the output thread reads whichever map is current when it
  computes a deadline, every frame.
- Until a map exists the grid has no deadlines: `ready` is False and the player must not
  start (a venue waits for its timebase before it plays).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from controller.runtime.grid import grid_tick, grid_time
from controller.sync.discipline import ClockMap

__all__ = ["MappedGrid", "SharedGrid", "TrustedClockMap"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustedClockMap:
    """`--trust-os-clock`: the host's clock is shared time (local + a fixed offset)."""

    offset_s: float  # shared minus local, fixed

    def shared(self, local_t: float) -> float:
        return local_t + self.offset_s

    def local(self, shared_t: float) -> float:
        return shared_t - self.offset_s


class MappedGrid:
    """A `FrameGrid` whose grid time is shared time through a clock map `_current()` gives:
    the frame arithmetic every shared-time grid has in common."""

    def __init__(self, *, epoch: float, fps: int) -> None:
        if fps < 1 or not math.isfinite(epoch):
            msg = f"epoch={epoch!r} and fps={fps!r}: need a finite epoch and fps >= 1"
            raise ValueError(msg)
        self.epoch = epoch
        self._fps = fps

    @property
    def fps(self) -> int:
        return self._fps

    def _current(self) -> ClockMap | TrustedClockMap:
        raise NotImplementedError

    def time_of(self, tick: int) -> float:
        return grid_time(self.epoch, self._fps, tick)

    def tick_for(self, grid_time: float) -> int:
        return grid_tick(self.epoch, self._fps, grid_time)

    def deadline(self, tick: int) -> float:
        return self._current().local(self.time_of(tick))

    def to_grid(self, local: float) -> float:
        return self._current().shared(local)


class SharedGrid(MappedGrid):
    """A `MappedGrid` through a clock map replaced whole by whoever steers it."""

    def __init__(
        self, *, epoch: float, fps: int, clock_map: ClockMap | TrustedClockMap | None = None
    ):
        super().__init__(epoch=epoch, fps=fps)
        self._map = clock_map

    @property
    def ready(self) -> bool:
        return self._map is not None

    @property
    def clock_map(self) -> ClockMap | TrustedClockMap | None:
        return self._map

    def set_map(self, clock_map: ClockMap | TrustedClockMap) -> None:
        self._map = clock_map

    def _current(self) -> ClockMap | TrustedClockMap:
        current = self._map
        if current is None:
            msg = "the shared grid has no clock map yet (the timebase is not locked)"
            raise RuntimeError(msg)
        return current
