"""L7 the real-time player: frames on the grid's deadlines, in one output thread.

Strategy:
- Frame k is due at `grid.deadline(k)` on the injected monotonic clock, recomputed every
  frame. Right after delivering frame k the thread prepares frame k + 1 and sends its
  data (receivers buffer it), then waits for the deadline (`Clock.wait_until`, never a
  relative sleep) and sends only the sync packets: rendering and bulk sending never delay
  the moment a frame appears.
- Latest frame wins: a frame the thread could only send more than half a period late is
  dropped (counted), and the thread prepares the first frame whose deadline is still
  ahead, so two frames never leave less than half a period apart and nothing bursts.
  Dropped ticks still advance the show: the venue stays on the grid.
- This thread owns the engine's frames and outputs: it opens them, and when asked to stop
  it sends the stop frame on the next deadline and closes them. No other thread prepares
  or delivers a frame.
- SCHED_FIFO real-time priority is requested when asked and allowed; refusal is reported,
  not fatal. The thread holds `OUTPUT_PRIORITY` only to wait for and deliver a frame; it
  warms up, renders the next one, and catches up after a drop at `RENDER_PRIORITY`.
  Venues in lockstep wake at the same instant: on a host shared by several (a rehearsal,
  shards) one venue's rendering must never make another's delivery late, and a delivery
  preempts any rendering.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from controller.clock import Clock
from controller.runtime.thread_usage import ThreadUsage, thread_usage

if TYPE_CHECKING:  # a venue asks for real-time priority before it imports the render stack
    from controller.runtime.engine import Engine, Prepared

__all__ = ["LATE_FRACTION", "SWITCH_INTERVAL_S", "Player", "normal_priority", "request_realtime"]

LATE_FRACTION = 0.5  # a frame later than this part of a period is dropped, not sent
LATENESS_KEPT = 1_000_000
SWITCH_INTERVAL_S = 0.0005


OUTPUT_PRIORITY = 50  # SCHED_FIFO while waiting for and delivering a frame
RENDER_PRIORITY = 10  # SCHED_FIFO while rendering and staging the next one


def request_realtime(priority: int = OUTPUT_PRIORITY) -> str:
    """Ask for SCHED_FIFO for the calling thread; returns what happened."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (OSError, AttributeError) as exc:
        return f"real-time priority refused: {exc}"
    return f"SCHED_FIFO priority {priority}"


def normal_priority(nice: int = 0) -> None:
    """The calling thread back to SCHED_OTHER (threads inherit their creator's policy), at
    `nice` (below 0: a larger share of the CPU than ordinary programs, never above a
    real-time thread); what is refused is left as it is."""
    try:
        if os.sched_getscheduler(0) != os.SCHED_OTHER:
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        if nice:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except (OSError, AttributeError):
        return


def _set_priority(priority: int) -> None:
    """Change the calling thread's SCHED_FIFO priority (it already has SCHED_FIFO)."""
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))


class Player:
    def __init__(
        self,
        *,
        engine: Engine,
        clock: Clock,
        realtime: bool = False,
        until: Callable[[float], bool] | None = None,
        on_frame: Callable[[Prepared, float], None] | None = None,
        stop_dark: bool = True,
        usage: Callable[[], ThreadUsage] = thread_usage,
    ) -> None:
        self.engine = engine
        self.usage = usage  # what the output thread used: a drop says where its time went
        self.clock = clock
        self.period = 1.0 / engine.plan.fps
        self.realtime = realtime
        self.until = until
        self.on_frame = on_frame
        self.stop_dark = stop_dark  # the stop frame is black (end action BLACKOUT)
        self.realtime_status = "normal priority"
        self.lateness: list[float] = []  # seconds late per delivered frame (bounded)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.stopped_cleanly = False
        self._fifo = False

    def start(self) -> None:
        # Another Python thread (the bus, the keys) holds the GIL for up to the switch
        # interval (5 ms by default) before the output thread gets it back at a deadline;
        # 0.5 ms keeps that wait well under a frame (measured: p99 5.9 ms -> 1.2 ms).
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
        self._thread = threading.Thread(target=self._guarded, name="citypulse-output", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the output thread; True when it has ended."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

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
        self._fifo = self.realtime_status.startswith("SCHED_FIFO")
        engine, clock = self.engine, self.clock
        engine.open(clock.now())
        if self._fifo:  # a venue joining a playing host warms up below every delivery
            _set_priority(RENDER_PRIORITY)
        engine.warm_up()
        if self._fifo:
            _set_priority(OUTPUT_PRIORITY)
        try:
            k = self._play()
            self._stop_frame(k + 1)
        finally:
            engine.close(clock.now())

    def _first_tick(self) -> int:
        grid = self.engine.grid
        return grid.tick_for(grid.to_grid(self.clock.now()))

    def _play(self) -> int:
        """Deliver frames until asked to stop; returns the last tick delivered."""
        engine, clock, period, usage = self.engine, self.clock, self.period, self.usage
        k = self._first_tick()
        began, began_use = clock.now(), usage()
        prepared = self._prepare_below_output(k, stage=True)
        ready = clock.now()
        skipped = False
        while True:
            deadline = engine.grid.deadline(k)
            clock.wait_until(deadline)
            now = clock.now()
            if now - deadline > period * LATE_FRACTION and not skipped:
                # Too late to send (it would land close to the next one): skip to the first
                # deadline still ahead. That frame goes out even if preparing it overran (so
                # the show always progresses), but frames never bunch and nothing bursts.
                due = max(k + 1, self._first_tick())
                engine.record_drop(due - k, k, late_s=now - deadline, busy_s=ready - began,
                                   used=usage().since(began_use))  # fmt: skip
                k, skipped = due, True
                began, began_use = clock.now(), usage()
                prepared = self._prepare_below_output(k)
                ready = clock.now()
                continue
            skipped = False
            engine.deliver(prepared, now)
            engine.poll(now)
            if len(self.lateness) < LATENESS_KEPT:
                self.lateness.append(now - deadline)
            if self.on_frame is not None:
                self.on_frame(prepared, now)
            if self._stop.is_set() or (self.until is not None and self.until(now)):
                return k
            k += 1
            began, began_use = now, usage()
            prepared = self._prepare_below_output(k, stage=True)
            ready = clock.now()

    def _prepare_below_output(self, k: int, *, stage: bool = False) -> Prepared:
        """Render (and stage) frame `k` at `RENDER_PRIORITY`: never at the output priority,
        even right after a drop, or one venue's catch-up would delay every other's delivery."""
        engine = self.engine
        if self._fifo:
            _set_priority(RENDER_PRIORITY)
        try:
            prepared = engine.prepare(k)
            if stage:
                engine.stage(prepared, self.clock.now())
        finally:
            if self._fifo:
                _set_priority(OUTPUT_PRIORITY)
        return prepared

    def _stop_frame(self, k: int) -> None:
        """The last frame, on the next deadline, so the frame rhythm holds to the end."""
        engine, clock = self.engine, self.clock
        if not self.stop_dark:
            self.stopped_cleanly = True
            return
        prepared = engine.prepare_stop(k, dark=True)
        clock.wait_until(prepared.deadline)
        engine.deliver(prepared, clock.now())
        self.stopped_cleanly = True
