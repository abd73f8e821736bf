"""A manually advanced clock (trio's MockClock for our Clock protocol)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import threading

__all__ = ["ManualClock"]


class ManualClock:
    """Time moves only when told. `sleep_until` waiters wake when `advance` passes them.

    With `autojump=True`, `wait_until` (thread-style waits) jumps time straight to the
    deadline, so a real-time loop runs flat out in virtual time.

    Virtual time is single-threaded: the first thread that moves it owns it, and moving it
    from another thread raises (two threads jumping one clock would each see the other's
    deadlines pass). Reading `now()` is safe from any thread.
    """

    def __init__(self, start: float = 0.0, *, autojump: bool = False) -> None:
        self._now = start
        self.autojump = autojump
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._ids = itertools.count()
        self._owner: int | None = None

    def now(self) -> float:
        return self._now

    def advance(self, dt: float) -> None:
        if dt < 0:
            msg = "time can't go backwards"
            raise ValueError(msg)
        self.jump_to(self._now + dt)

    def _claim(self) -> None:
        me = threading.get_ident()
        if self._owner is None:
            self._owner = me
        elif self._owner != me:
            msg = "a ManualClock is moved by one thread only (virtual time is single-threaded)"
            raise RuntimeError(msg)

    def jump_to(self, t: float) -> None:
        self._claim()
        if t < self._now:
            msg = "time can't go backwards"
            raise ValueError(msg)
        self._now = t
        while self._sleepers and self._sleepers[0][0] <= t:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)

    async def sleep_until(self, deadline: float) -> None:
        if deadline <= self._now:
            await asyncio.sleep(0)  # noqa: TID251 - yield to the loop, no time passes
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (deadline, next(self._ids), fut))
        await fut

    def wait_until(self, deadline: float) -> None:
        if deadline > self._now:
            if not self.autojump:
                msg = (
                    f"wait_until({deadline}) would block a ManualClock at {self._now}; use autojump"
                )
                raise RuntimeError(msg)
            self.jump_to(deadline)
