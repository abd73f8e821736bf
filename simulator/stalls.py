"""A host-stall watchdog: one process per CPU, pinned, SCHED_FIFO 99, waking every 2 ms.

Each process (a fresh "spawn" interpreter) pins itself to its CPU, asks for SCHED_FIFO 99 (the
highest real-time priority: only a CPU that runs nothing of this machine's software can keep
it waiting), then waits on absolute deadlines every `period_s` for a stop request on its
pipe, and records every gap between consecutive wake-ups longer than `threshold_s`
(`simulator.stall_intervals.WakeRecorder`). Where every CPU's gaps overlap, the whole machine
stood still: on a VM, the hypervisor took the virtual CPUs. A frame due then could not be sent
by any software; `StallReport.attribute_drops` says which drops fell in such a stall.

    with HostStalls() as watchdog:      # every CPU this process may run on
        ...                             # the run being watched
    report = watchdog.result()          # per CPU gaps, host stalls, summary (StallReport)

Refused SCHED_FIFO (not root, no CAP_SYS_NICE): the processes run at normal priority and the
report says so; their gaps then include other programs' work, so they explain no drop. Each
wake-up costs some tens of microseconds of CPU (`cpu_s` in the report, per CPU).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import resource
import select
from collections.abc import Iterable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any, Self

from controller.clock import MonotonicClock, utc_anchor
from controller.errors import ControllerError
from simulator.stall_intervals import (
    Interval,
    WakeRecorder,
    attribute_drops,
    attribute_gaps,
    host_stalls,
    stall_extents,
    stall_summary,
    steal_ticks,
)

__all__ = ["CpuWatch", "HostStalls", "StallReport", "StallWatchError"]

PERIOD_S = 0.002
THRESHOLD_S = 0.005
PRIORITY = 99  # SCHED_FIFO's highest
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 5.0


class StallWatchError(ControllerError):
    """A watchdog process did not start or did not report."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CpuWatch:
    """What one CPU's watchdog saw. `gaps` in shared time."""

    cpu: int
    refused: str | None  # why SCHED_FIFO was refused; None: it ran at SCHED_FIFO 99
    seconds: float
    wakes: int
    missed_deadlines: int
    max_gap_ms: float
    cpu_s: float  # the watchdog's own CPU time while watching
    gaps: tuple[Interval, ...]
    steal_s: float | None = None  # the hypervisor's steal time on this CPU meanwhile

    def as_dict(self) -> dict[str, Any]:
        return {
            "cpu": self.cpu,
            "priority": f"SCHED_FIFO {PRIORITY}" if self.refused is None else "normal",
            "refused": self.refused,
            "seconds": round(self.seconds, 3),
            "wakes": self.wakes,
            "missed_deadlines": self.missed_deadlines,
            "max_gap_ms": round(self.max_gap_ms, 3),
            "cpu_s": round(self.cpu_s, 3),
            "steal_s": None if self.steal_s is None else round(self.steal_s, 3),
            "stalls": [g.as_pair() for g in self.gaps],
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class StallReport:
    period_s: float
    threshold_s: float
    cpus: tuple[CpuWatch, ...]

    @property
    def realtime(self) -> bool:
        return all(c.refused is None for c in self.cpus)

    @property
    def host(self) -> tuple[Interval, ...]:
        """Where every watched CPU had a gap at once."""
        return tuple(host_stalls([c.gaps for c in self.cpus]))

    @property
    def explaining(self) -> tuple[Interval, ...]:
        """The host stalls that may explain a lost frame, each from its first CPU stopping to
        its last running again (`stall_extents`): none unless every CPU ran FIFO 99."""
        return tuple(stall_extents([c.gaps for c in self.cpus])) if self.realtime else ()

    def attribute_drops(
        self, report: dict[str, Any], *, epoch: float | None, fps: float | None
    ) -> dict[str, Any]:
        """A player's report (`frames_dropped`, `drops`) against the host stalls."""
        return attribute_drops(report.get("drops") or [], frames_dropped=report.get(
            "frames_dropped"), epoch=epoch, fps=fps, stalls=self.explaining)  # fmt: skip

    def attribute_gaps(self, gaps: Iterable[tuple[Interval, int]]) -> dict[str, Any]:
        return attribute_gaps(gaps, stalls=self.explaining)

    def cpu_s_per_minute(self) -> float:
        seconds = max((c.seconds for c in self.cpus), default=0.0)
        return sum(c.cpu_s for c in self.cpus) / seconds * 60.0 if seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """The summary of host stalls, how they were watched, and every CPU's own gaps."""
        refused = sorted({c.refused for c in self.cpus if c.refused is not None})
        steals = [c.steal_s for c in self.cpus]
        return {
            **stall_summary(self.host),
            "steal_s": None if None in steals else round(sum(s or 0.0 for s in steals), 3),
            "watchdog": {
                "cpus": [c.cpu for c in self.cpus],
                "priority": f"SCHED_FIFO {PRIORITY}" if self.realtime else "normal",
                "refused": refused[0] if refused else None,
                "period_ms": round(self.period_s * 1e3, 3),
                "threshold_ms": round(self.threshold_s * 1e3, 3),
                "cpu_s_per_min": round(self.cpu_s_per_minute(), 3),
            },
            "host_stalls": [s.as_pair() for s in self.host],
            "per_cpu": [c.as_dict() for c in self.cpus],
        }


def _realtime() -> str | None:
    """SCHED_FIFO 99 for this process; None when granted, else why not."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(PRIORITY))
    except (OSError, AttributeError) as exc:
        return f"SCHED_FIFO {PRIORITY} refused: {exc}"
    return None


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _steal(cpu: int) -> int | None:
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            return steal_ticks(stat.read(), cpu)
    except (OSError, ValueError):
        return None


def _steal_since(cpu: int, before: int | None) -> float | None:
    after = _steal(cpu)
    if before is None or after is None:
        return None
    return (after - before) / os.sysconf("SC_CLK_TCK")


def _watch(conn: Connection, cpu: int, period_s: float, threshold_s: float) -> None:
    """One CPU's watchdog: "ready", then wake on every deadline until a stop request."""
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError as exc:
        conn.send(("error", f"cpu {cpu}: {exc}"))
        return
    refused = _realtime()
    clock = MonotonicClock()
    anchor = utc_anchor()
    cpu_before, steal_before = _cpu_s(), _steal(cpu)
    recorder = WakeRecorder(start=clock.now(), period_s=period_s, threshold_s=threshold_s)
    conn.send(("ready", refused))
    fd, deadline = conn.fileno(), recorder.deadline
    # Wait for the stop request until the next absolute deadline (select's timeout has
    # microsecond resolution; a closed pipe is readable too, so an orphan ends).
    while not select.select([fd], [], [], max(0.0, deadline - clock.now()))[0]:
        deadline = recorder.woke(clock.now())
    watch = CpuWatch(
        cpu=cpu, refused=refused, seconds=clock.now() - recorder.start, wakes=recorder.wakes,
        missed_deadlines=recorder.missed, max_gap_ms=recorder.max_gap_s * 1e3,
        cpu_s=_cpu_s() - cpu_before, steal_s=_steal_since(cpu, steal_before),
        gaps=tuple(Interval(start=g.start + anchor, end=g.end + anchor) for g in recorder.gaps),
    )  # fmt: skip
    with contextlib.suppress(OSError):
        conn.send(("result", watch))


class HostStalls:
    """`with HostStalls(cpus=None) as watchdog: ...`, then `watchdog.result()` (see the module
    docstring). Leaving the block stops the processes and collects what they saw."""

    def __init__(
        self,
        cpus: Iterable[int] | None = None,
        *,
        period_s: float = PERIOD_S,
        threshold_s: float = THRESHOLD_S,
        start_timeout_s: float = START_TIMEOUT_S,
    ) -> None:
        allowed = os.sched_getaffinity(0)
        self.cpus = tuple(sorted(allowed if cpus is None else set(cpus)))
        if not self.cpus or not set(self.cpus) <= allowed:
            raise ValueError(f"cpus={self.cpus!r}: name some of {sorted(allowed)}")
        WakeRecorder(start=0.0, period_s=period_s, threshold_s=threshold_s)  # checks them
        self.period_s, self.threshold_s = period_s, threshold_s
        self._start_timeout_s = start_timeout_s
        self._watches: list[tuple[Any, Connection]] = []
        self._report: StallReport | None = None
        self._error: str | None = None
        self.pids: tuple[int, ...] = ()

    def __enter__(self) -> Self:
        ctx = mp.get_context("spawn")  # a fresh interpreter: nothing shared with this one
        try:
            for cpu in self.cpus:
                conn, child = ctx.Pipe()
                process = ctx.Process(target=_watch, name=f"stall-watch[{cpu}]", daemon=True,
                                      args=(child, cpu, self.period_s, self.threshold_s))  # fmt: skip
                process.start()
                child.close()
                self._watches.append((process, conn))
            for process, conn in self._watches:
                kind, value = self._receive(process, conn, self._start_timeout_s, "start")
                if kind != "ready":
                    raise StallWatchError(f"a stall watchdog did not start: {value}")
            self.pids = tuple(process.pid for process, _ in self._watches)
        except BaseException:
            self._end()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self._report is None and self._error is None:
                self._collect()
        except StallWatchError as error:
            self._error = str(error)
        finally:
            self._end()

    def result(self) -> StallReport:
        """Stop watching (if still running) and return what every CPU saw."""
        if self._report is None:
            if self._error is not None:
                raise StallWatchError(self._error)
            self._collect()
        assert self._report is not None
        return self._report

    def _collect(self) -> None:
        for _, conn in self._watches:
            with contextlib.suppress(OSError):
                conn.send("stop")
        watches = []
        for process, conn in self._watches:
            kind, value = self._receive(process, conn, STOP_TIMEOUT_S, "report")
            if kind != "result":
                raise StallWatchError(f"a stall watchdog failed: {value}")
            watches.append(value)
        self._report = StallReport(
            period_s=self.period_s, threshold_s=self.threshold_s, cpus=tuple(watches)
        )

    @staticmethod
    def _receive(process: Any, conn: Connection, timeout_s: float, what: str) -> tuple[str, Any]:
        try:
            if conn.poll(timeout_s):  # a process that ended closed its end: EOFError at once
                message: tuple[str, Any] = conn.recv()
                return message
        except (EOFError, OSError):
            process.join(1.0)
        raise StallWatchError(
            f"the stall watchdog {process.name} did not {what} (exit code {process.exitcode})"
        )

    def _end(self) -> None:
        for process, conn in self._watches:
            with contextlib.suppress(OSError):
                conn.send("stop")
            process.join(STOP_TIMEOUT_S)
            if process.is_alive():
                process.kill()
                process.join(STOP_TIMEOUT_S)
            conn.close()
        self._watches = []
