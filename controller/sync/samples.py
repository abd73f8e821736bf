"""L5 the sliding window of time-exchange samples.

Rules:
- A sample is one accepted `Exchange`, stored as (local midpoint, offset, delay) relative to
  the first accepted sample's midpoint and offset, so the fit works on small numbers even
  though shared time is about 1.7e9 s.
- Samples stay sorted by midpoint whatever order they arrive in; a second reply to the same
  request (same `t1`) is a duplicate and is dropped.
- `prune()` keeps the samples of the last `window_s` seconds before the newest arrival;
  the window never holds more than `max_samples` (the oldest make room).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from controller.sync.exchange import Exchange, rejection

__all__ = ["SampleArrays", "SampleWindow"]


@dataclass(frozen=True, slots=True)
class SampleArrays:
    """The window as arrays: relative midpoints, relative offsets and delays (seconds)."""

    t: NDArray[np.float64]
    offset: NDArray[np.float64]
    delay: NDArray[np.float64]


class SampleWindow:
    """Accepted samples of the last `window_s` seconds of local time, sorted by midpoint.

    Stored in preallocated arrays (columns t, offset, delay, t1); the live rows are
    `[_lo, _hi)`, so pruning moves `_lo` and appending writes at `_hi`.
    """

    def __init__(self, *, window_s: float, max_samples: int, max_delay_s: float) -> None:
        self._window_s = window_s
        self._max_samples = max_samples
        self._max_delay_s = max_delay_s
        self._table = np.zeros((2 * max_samples, 4))
        self._lo = 0
        self._hi = 0
        self._requests: set[float] = set()
        self.origin_t = math.nan  # midpoint and offset of the first sample ever accepted
        self.origin_offset = 0.0
        self.newest_arrival = -math.inf  # latest t4 accepted, local seconds

    def __len__(self) -> int:
        return self._hi - self._lo

    def add(self, exchange: Exchange) -> str | None:
        """Store `exchange`; return why it was rejected, or None when accepted."""
        reason = rejection(exchange, max_delay_s=self._max_delay_s)
        if reason is not None:
            return reason
        if exchange.t1 in self._requests:
            return "duplicate reply (same t1)"
        if exchange.t4 < self.newest_arrival - self._window_s:
            return "older than the window"
        if math.isnan(self.origin_t):
            self.origin_t = exchange.midpoint
            self.origin_offset = exchange.offset_s
        if len(self) >= self._max_samples:
            self._drop_first(len(self) - self._max_samples + 1)
        if self._hi == self._table.shape[0]:
            count = len(self)
            self._table[:count] = self._table[self._lo : self._hi]
            self._lo, self._hi = 0, count
        t = exchange.midpoint - self.origin_t
        at = self._lo + int(np.searchsorted(self._table[self._lo : self._hi, 0], t, "right"))
        self._table[at + 1 : self._hi + 1] = self._table[at : self._hi]  # arrived out of order
        self._table[at] = (t, exchange.offset_s - self.origin_offset, exchange.delay_s, exchange.t1)
        self._hi += 1
        self._requests.add(exchange.t1)
        self.newest_arrival = max(self.newest_arrival, exchange.t4)
        return None

    def prune(self) -> None:
        """Drop samples older than the window, relative to the newest arrival."""
        self.drop_before(self.newest_arrival - self._window_s - self.origin_t)

    def drop_before(self, t_rel: float) -> int:
        """Drop samples whose relative midpoint is before `t_rel`; return how many."""
        count = int(np.searchsorted(self._table[self._lo : self._hi, 0], t_rel, "left"))
        self._drop_first(count)
        return count

    def arrays(self) -> SampleArrays:
        """The current samples as float64 arrays: views, valid until the window changes."""
        live = self._table[self._lo : self._hi]
        return SampleArrays(live[:, 0], live[:, 1], live[:, 2])

    def _drop_first(self, count: int) -> None:
        self._requests.difference_update(self._table[self._lo : self._lo + count, 3].tolist())
        self._lo += count
