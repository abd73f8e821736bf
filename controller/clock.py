"""L0 clock: the only module allowed to read time or sleep.

Logic takes `now: float` arguments; loops receive a `Clock` by injection. `MonotonicClock`
is the production clock; `controller.testing.ManualClock` is the test double. `UtcClock`
gives shared time (UTC read once, carried by the monotonic clock); `SkewedClock` makes a
process disagree about time like another city's host (tests and benchmarks only).
"""

from __future__ import annotations

import asyncio
import functools
import math
import os
import sys
import time
from typing import Protocol, runtime_checkable

__all__ = [
    "Clock",
    "MonotonicClock",
    "SkewedClock",
    "UtcClock",
    "process_age",
    "utc_anchor",
    "wall_minus_monotonic",
]

MAX_DRIFT_PPM = 1e5  # a test clock, not a broken oscillator: 10 %
SPIN_S = 0.0004  # `MonotonicClock.wait_until` spins this last stretch instead of sleeping
SPIN_SWITCH_INTERVAL_S = 0.01  # the GIL stays with the spinning thread meanwhile


@runtime_checkable
class Clock(Protocol):
    """Monotonic seconds plus an absolute-deadline wait."""

    def now(self) -> float: ...

    async def sleep_until(self, deadline: float) -> None: ...

    def wait_until(self, deadline: float) -> None:
        """Block the calling thread until `deadline` (used by output threads)."""
        ...


class MonotonicClock:
    """Production clock over `time.perf_counter` (monotonic, highest resolution)."""

    __slots__ = ()

    def now(self) -> float:
        return time.perf_counter()

    async def sleep_until(self, deadline: float) -> None:
        delay = deadline - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)  # noqa: TID251 - the one place allowed to sleep

    def wait_until(self, deadline: float) -> None:
        """Sleep to `SPIN_S` before `deadline`, then spin to it holding the GIL.

        A timed sleep wakes late by the host's timer latency (measured on a 2-vCPU VM with
        SCHED_FIFO: p50 0.15, p99 0.25-0.75 ms, and worse with another Python thread
        asking for the GIL at the wake); spinning the last stretch puts the frame out
        within microseconds. While spinning, the switch interval is raised so no other
        thread of the process takes the GIL away in that stretch; it is restored before
        returning. Absolute deadline: oversleeping one frame never shifts the next one.
        """
        delay = deadline - SPIN_S - time.perf_counter()
        if delay > 0:
            time.sleep(delay)  # noqa: TID251 - the one place allowed to sleep
        interval = sys.getswitchinterval()
        sys.setswitchinterval(SPIN_SWITCH_INTERVAL_S)
        try:
            while time.perf_counter() < deadline:
                pass
        finally:
            sys.setswitchinterval(interval)


def wall_minus_monotonic() -> float:
    """Unix time minus `MonotonicClock` time: maps wall-clock stamps (OSC timetags) to it."""
    return time.time() - time.perf_counter()  # noqa: TID251 - the one place allowed to read time


class SkewedClock:
    """A clock that disagrees with `base` the way another city's host would (test and benchmark tool).

    `now() = base.now() + offset_s + (base.now() - start) * drift_ppm * 1e-6`, with `start` the
    base time at construction (or as given): at `start` it reads `offset_s` ahead of the base,
    and it gains `drift_ppm` microseconds per second of base time from then on (negative:
    loses). This is how `--clock-offset-ms` and `--clock-drift-ppm` make processes on one
    machine disagree about time, so that only the sync protocol can discover the difference;
    no production path should construct one.

    `sleep_until` / `wait_until` take deadlines in skewed time and wait for the base instant
    that maps to it (the inverse map, rounded up by ulps if needed), so on return `now()` is
    never before the deadline.
    """

    __slots__ = ("_base", "_rate", "drift_ppm", "offset_s", "start")

    def __init__(
        self, base: Clock, *, offset_s: float, drift_ppm: float, start: float | None = None
    ) -> None:
        if not math.isfinite(offset_s):
            raise ValueError(f"offset_s={offset_s!r} is not a finite number")
        if not (math.isfinite(drift_ppm) and abs(drift_ppm) <= MAX_DRIFT_PPM):
            raise ValueError(f"drift_ppm={drift_ppm!r} out of range -1e5..1e5")
        self._base = base
        self.offset_s = offset_s
        self.drift_ppm = drift_ppm
        self._rate = 1.0 + drift_ppm * 1e-6  # skewed seconds per base second
        self.start = base.now() if start is None else start

    @property
    def base(self) -> Clock:
        return self._base

    def from_base(self, t: float) -> float:
        """Skewed time at base time `t`."""
        return t + self.offset_s + (t - self.start) * (self.drift_ppm * 1e-6)

    def to_base(self, t: float) -> float:
        """Base time at which this clock reads `t` (the inverse of `from_base`)."""
        return self.start + (t - self.offset_s - self.start) / self._rate

    def now(self) -> float:
        return self.from_base(self._base.now())

    def _base_deadline(self, deadline: float) -> float:
        base = self.to_base(deadline)
        step = math.ulp(deadline)  # rounding leaves it short by at most a few ulps of `deadline`
        while self.from_base(base) < deadline:
            base += step
            step *= 2
        return base

    async def sleep_until(self, deadline: float) -> None:
        await self._base.sleep_until(self._base_deadline(deadline))

    def wait_until(self, deadline: float) -> None:
        self._base.wait_until(self._base_deadline(deadline))


class UtcClock(SkewedClock):
    """Shared time: UTC seconds read once at start, plus monotonic time elapsed since.

    It never steps when NTP (or an operator) adjusts the wall clock: the wall clock is read
    only by `utc_anchor()`, once per process. A conductor's time service reports this.
    """

    __slots__ = ()

    def __init__(self, base: Clock | None = None, *, anchor: float | None = None) -> None:
        if base is None:
            base = MonotonicClock()
        if anchor is None:
            anchor = utc_anchor()
        super().__init__(base, offset_s=anchor, drift_ppm=0.0, start=0.0)


def process_age() -> float | None:
    """Seconds since this process started (Linux: /proc start time against CLOCK_BOOTTIME,
    10 ms resolution), or None where that cannot be read. A start-up figure, not a clock."""
    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()  # the name may hold spaces
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22, starttime
        return round(time.clock_gettime(time.CLOCK_BOOTTIME) - started, 3)
    except (OSError, ValueError, IndexError, AttributeError):
        return None


@functools.cache
def utc_anchor() -> float:
    """UTC (Unix seconds) minus `MonotonicClock` time, read once per process.

    `MonotonicClock().now() + utc_anchor()` is UTC as it was at the first call, carried
    forward by the monotonic clock: it never steps with wall-clock adjustments.
    """
    return wall_minus_monotonic()
