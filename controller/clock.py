"""L0 clock: the only module allowed to read time or sleep.

Logic takes `now: float` arguments; loops receive a `Clock` by injection. `MonotonicClock`
is the production clock; `controller.testing.ManualClock` is the test double.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "MonotonicClock", "wall_minus_monotonic"]


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
        # Absolute deadline: oversleeping one frame never shifts the next one.
        while True:
            delay = deadline - time.perf_counter()
            if delay <= 0:
                return
            time.sleep(delay)  # noqa: TID251 - the one place allowed to sleep


def wall_minus_monotonic() -> float:
    """Unix time minus `MonotonicClock` time: maps wall-clock stamps (OSC timetags) to it."""
    return time.time() - time.perf_counter()  # noqa: TID251 - the one place allowed to read time
