"""Simulator statistics: immutable counters (`SimStats`) and the frame-timing accumulator.

Strategy (bounded memory, one pass):
- Inter-frame intervals go into a ring buffer of the most recent `capacity` intervals;
  percentiles of the jitter |interval - 1/fps| are computed from it on demand.
- The long-run rate is the slope of a least-squares line through (frame index, latch
  time), accumulated online with Welford's update, so it needs O(1) memory and stays
  accurate over millions of frames (times are taken relative to the first latch).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["FrameTimer", "FrameTiming", "ProtocolCounts", "SimStats"]

DEFAULT_CAPACITY = 100_000


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtocolCounts:
    artnet: int = 0
    sacn: int = 0
    osc: int = 0
    enttec: int = 0
    opendmx: int = 0

    @property
    def total(self) -> int:
        return self.artnet + self.sacn + self.osc + self.enttec + self.opendmx


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameTiming:
    """Timing of latched frames; None until there are at least two frames."""

    intervals: int  # intervals in the window (at most the ring capacity)
    jitter_p50_ms: float | None  # |interval - 1/fps|, median over the window
    jitter_p99_ms: float | None
    jitter_max_ms: float | None
    measured_fps: float | None  # 1 / slope of the least-squares fit over every frame
    rate_error_ppm: float | None  # (measured_fps / fps - 1) * 1e6: > 0 means frames come fast
    bunched: int  # frames that came less than half a period after the previous one


@dataclass(frozen=True, slots=True, kw_only=True)
class SimStats:
    """What the simulator has seen so far (trio `statistics()` convention: a snapshot)."""

    packets: ProtocolCounts  # every datagram / widget message received, good or bad
    malformed: ProtocolCounts  # dropped as undecodable (each logged once)
    ignored: ProtocolCounts  # valid but not for output: preview, polls, other start codes...
    unrouted: int  # valid DMX for a wire universe no route maps to one of ours
    latches: int  # sync latches and immediate frames, every domain (simulator.frames)
    frames_latched: int  # latches that include the lowest routed universe
    torn_frames: int  # latches missing a universe of the previous latch of their domain
    sequence_gaps: int  # packets missing by sequence number, all universes
    gaps_by_universe: tuple[tuple[int, int], ...]  # (our universe, packets missing)
    out_of_order: int  # discarded as late or duplicate by the sequence rules
    lower_priority: int  # sACN packets outranked by a higher-priority source
    stream_terminations: int  # sACN sources that ended a universe's stream
    released_universes: tuple[int, ...]  # our universes with no live sACN source left
    osc_attribute_messages: int
    timing: FrameTiming

    def as_dict(self) -> dict[str, object]:
        """Flat scalars plus nested dicts per protocol (for JSON reports)."""
        out: dict[str, object] = {
            "frames_latched": self.frames_latched,
            "latches": self.latches,
            "torn_frames": self.torn_frames,
            "packets": self.packets.total,
            "malformed": self.malformed.total,
            "unrouted": self.unrouted,
            "sequence_gaps": self.sequence_gaps,
            "out_of_order": self.out_of_order,
            "lower_priority": self.lower_priority,
            "stream_terminations": self.stream_terminations,
            "osc_attribute_messages": self.osc_attribute_messages,
        }
        timing = asdict(self.timing)
        out |= {k: (round(v, 3) if isinstance(v, float) else v) for k, v in timing.items()}
        out["packets_by_protocol"] = asdict(self.packets)
        out["malformed_by_protocol"] = asdict(self.malformed)
        out["ignored_by_protocol"] = asdict(self.ignored)
        out["gaps_by_universe"] = {str(u): n for u, n in self.gaps_by_universe}
        out["released_universes"] = list(self.released_universes)
        return out


class FrameTimer:
    """Latch times in, `FrameTiming` out (see the module strategy)."""

    def __init__(self, *, fps: float, capacity: int = DEFAULT_CAPACITY) -> None:
        if not fps > 0 or capacity < 1:
            msg = f"fps={fps!r} must be > 0 and capacity={capacity!r} >= 1"
            raise ValueError(msg)
        self.fps = fps
        self._period = 1.0 / fps
        self._ring: NDArray[np.float64] = np.zeros(capacity, np.float64)
        self._filled = 0
        self._next = 0
        self._bunched = 0
        self._first: float | None = None
        self._last = 0.0
        # Welford accumulators of x = frame index, y = time since the first latch
        self._n = 0
        self._mean_x = 0.0
        self._mean_y = 0.0
        self._sxx = 0.0
        self._sxy = 0.0

    def add(self, t: float) -> None:
        if self._first is None:
            self._first = t
        else:
            interval = t - self._last
            self._ring[self._next] = interval
            self._next = (self._next + 1) % len(self._ring)
            self._filled = min(self._filled + 1, len(self._ring))
            if interval < 0.5 * self._period:
                self._bunched += 1
        self._last = t
        x, y = float(self._n), t - self._first
        self._n += 1
        dx = x - self._mean_x
        self._mean_x += dx / self._n
        self._mean_y += (y - self._mean_y) / self._n
        self._sxy += dx * (y - self._mean_y)
        self._sxx += dx * (x - self._mean_x)

    def summary(self) -> FrameTiming:
        if self._filled == 0:
            return FrameTiming(
                intervals=0, jitter_p50_ms=None, jitter_p99_ms=None, jitter_max_ms=None,
                measured_fps=None, rate_error_ppm=None, bunched=0,
            )  # fmt: skip
        jitter = np.abs(self._ring[: self._filled] - self._period) * 1e3
        p50, p99 = np.percentile(jitter, [50.0, 99.0])
        slope = self._sxy / self._sxx
        fps = 1.0 / slope if slope > 0 else None
        return FrameTiming(
            intervals=self._filled,
            jitter_p50_ms=float(p50),
            jitter_p99_ms=float(p99),
            jitter_max_ms=float(jitter.max()),
            measured_fps=fps,
            rate_error_ppm=None if fps is None else (fps / self.fps - 1.0) * 1e6,
            bunched=self._bunched,
        )
