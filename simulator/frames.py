"""Frame bookkeeping of the simulator: which latches are frames, which are torn, and when.

Rules:
- A latch happens in a domain: "artnet" (an ArtSync), ("sacn", address) (an E1.31 sync
  packet) or "immediate" (data shown on arrival). A venue may use several at once, e.g.
  Art-Net for universes 1-2 and sACN for 3, each with its own sync.
- A latch is torn when a universe latched by the previous latch of the same domain is
  missing from it.
- A frame is a latch that includes the marker universe (the lowest routed one). In the
  immediate domain every arrival of the marker closes a frame. Only frames feed the
  timing statistics, so two protocols latching the same frame count it once.
- At most `MAX_DOMAINS` domains are remembered (sync addresses come from the wire).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

from simulator.stats import DEFAULT_CAPACITY, FrameTimer, FrameTiming

__all__ = ["IMMEDIATE", "MAX_DOMAINS", "FrameBook"]

IMMEDIATE = "immediate"
MAX_DOMAINS = 64


class FrameBook:
    """Counts latches, frames and torn frames; times frames (see the module rules)."""

    def __init__(self, *, fps: float, marker: int | None, capacity: int = DEFAULT_CAPACITY) -> None:
        self.marker = marker
        self.latches = 0
        self.frames = 0
        self.torn = 0
        self._timer = FrameTimer(fps=fps, capacity=capacity)
        self._previous: dict[Hashable, frozenset[int]] = {}
        self._arrived: set[int] = set()  # shown on arrival since the marker last came

    def timing(self) -> FrameTiming:
        return self._timer.summary()

    def arrived(self, now: float, row: int) -> None:
        """Universe `row` was shown on arrival (immediate domain)."""
        if row == self.marker:
            self._close(now, IMMEDIATE, frozenset(self._arrived), frame=True)
            self._arrived.clear()
        self._arrived.add(row)

    def latched(self, now: float, domain: Hashable, rows: Iterable[int]) -> None:
        """A sync in `domain` showed `rows` at once (nothing latched: no event)."""
        latched = frozenset(rows)
        if latched:
            self._close(now, domain, latched, frame=self.marker in latched)

    def _close(self, now: float, domain: Hashable, rows: frozenset[int], *, frame: bool) -> None:
        self.latches += 1
        previous = self._previous.pop(domain, None)  # re-insert: most recent last
        if previous is not None and not previous <= rows:
            self.torn += 1
        if len(self._previous) >= MAX_DOMAINS:
            del self._previous[next(iter(self._previous))]
        self._previous[domain] = rows
        if frame:
            self.frames += 1
            self._timer.add(now)
