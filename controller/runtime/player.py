"""L7 the real-time player: frames on absolute deadlines, in an output thread.

Strategy:
- Frame k is due at T0 + k / fps on the injected monotonic clock. Right after delivering
  frame k the thread renders frame k + 1 and sends its data (receivers buffer it), then
  waits for the deadline (`Clock.wait_until`, never a relative sleep) and sends only the
  sync packets: rendering and bulk sending never delay the moment a frame appears.
- Latest frame wins: a frame the thread could only send more than half a period late is
  dropped (counted), and the thread renders the first frame whose deadline is still
  ahead, so two frames never leave less than half a period apart and nothing bursts.
- SCHED_FIFO real-time priority is requested when asked and allowed; refusal is reported,
  not fatal.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable

from controller.clock import Clock
from controller.runtime.engine import Engine

__all__ = ["LATE_FRACTION", "Player", "request_realtime"]

LATE_FRACTION = 0.5  # a frame later than this part of a period is dropped, not sent


def request_realtime(priority: int = 50) -> str:
    """Ask for SCHED_FIFO for the calling thread; returns what happened."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (OSError, AttributeError) as exc:
        return f"real-time priority refused: {exc}"
    return f"SCHED_FIFO priority {priority}"


class Player:
    def __init__(
        self,
        *,
        engine: Engine,
        clock: Clock,
        realtime: bool = False,
        until: Callable[[float], bool] | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.period = 1.0 / engine.plan.fps
        self.realtime = realtime
        self.until = until
        self.realtime_status = "normal priority"
        self.lateness: list[float] = []  # seconds late per delivered frame (bounded)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.next_deadline: float | None = None  # of the frame after the last one delivered

    def start(self) -> None:
        self._thread = threading.Thread(target=self._guarded, name="citypulse-output", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _guarded(self) -> None:
        try:
            self.run()
        except BaseException as exc:  # reported by the caller; the thread must not vanish silently
            self.error = exc

    def run(self) -> None:
        """The loop (callable directly with a ManualClock(autojump=True) in tests)."""
        if self.realtime:
            self.realtime_status = request_realtime()
        engine, clock, period = self.engine, self.clock, self.period
        t0 = clock.now()
        k = 0
        prepared = engine.prepare(t0, 0)
        skipped = False
        while not self._stop.is_set():
            deadline = t0 + k * period
            clock.wait_until(deadline)
            now = clock.now()
            if now - deadline > period * LATE_FRACTION and not skipped:
                # Latest frame wins: this frame is too late to send (it would land close to
                # the next one). Skip to the first deadline still ahead and render that
                # frame; it goes out even if rendering it overran (so the show always
                # progresses), but frames never bunch and nothing bursts to catch up.
                due = max(k + 1, math.ceil((now - t0) / period))
                engine.frames_dropped += due - k
                k = due
                prepared = engine.prepare(t0 + k * period, k)
                skipped = True
                continue
            skipped = False
            engine.deliver(prepared, now)
            self.next_deadline = deadline + period
            engine.poll(now)
            if len(self.lateness) < 1_000_000:
                self.lateness.append(now - deadline)
            if self.until is not None and self.until(now):
                break
            k += 1
            prepared = engine.prepare(t0 + k * period, k)
            engine.stage(prepared, clock.now())
