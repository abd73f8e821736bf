"""The host-stall watchdog for real: its processes, their shape, and stalls made with SIGSTOP.

A watchdog stopped with SIGSTOP cannot wake until SIGCONT, exactly like one whose CPU the
hypervisor took, so its gap is known in advance: these tests are deterministic.
"""

from __future__ import annotations

import os
import signal

import pytest

from controller.clock import MonotonicClock, utc_anchor
from simulator.stall_intervals import Interval, host_line, steal_ticks
from simulator.stalls import CpuWatch, HostStalls, StallReport

_clock = MonotonicClock()
FIFO_ALLOWED = os.geteuid() == 0  # root here; elsewhere the report must say it was refused


def shared_now() -> float:
    return _clock.now() + utc_anchor()


def pause(seconds: float) -> None:
    _clock.wait_until(_clock.now() + seconds)


def stop_for(pids: list[int], seconds: float) -> Interval:
    """SIGSTOP `pids`, wait, SIGCONT: the shared-time interval in which all were stopped."""
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    start = shared_now()
    pause(seconds)
    end = shared_now()
    for pid in pids:
        os.kill(pid, signal.SIGCONT)
    return Interval(start=start, end=end)


def test_one_pinned_watchdog_per_cpu_reports_and_stops_promptly() -> None:
    cpus = sorted(os.sched_getaffinity(0))
    with HostStalls() as watchdog:
        assert len(watchdog.pids) == len(cpus)
        for pid, cpu in zip(watchdog.pids, cpus, strict=True):
            assert os.sched_getaffinity(pid) == {cpu}
            expected = os.SCHED_FIFO if FIFO_ALLOWED else os.SCHED_OTHER
            assert os.sched_getscheduler(pid) == expected
        pause(0.5)
        stopping = _clock.now()
    took = _clock.now() - stopping
    report = watchdog.result()
    assert took < 2.0, f"stopping took {took:.2f} s"
    for pid in watchdog.pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # ended and reaped
    assert [c.cpu for c in report.cpus] == cpus
    assert report.realtime == FIFO_ALLOWED
    for watch in report.cpus:
        assert watch.seconds >= 0.5
        assert watch.wakes >= 0.5 * watch.seconds / 0.002  # it does wake every 2 ms
        assert watch.cpu_s < 0.2 * watch.seconds  # and sleeps in between (no spinning)
    for watch in report.cpus:  # this kernel has a steal clock (a VM's); it only grows
        assert watch.steal_s is not None
        assert 0.0 <= watch.steal_s <= watch.seconds
    shape = report.as_dict()
    assert set(shape) >= {"count", "total_ms", "max_ms", "long", "watchdog", "per_cpu", "steal_s"}
    assert shape["watchdog"]["cpus"] == cpus
    assert shape["watchdog"]["period_ms"] == 2.0


def test_a_stall_of_one_cpu_is_its_gap_and_not_a_host_stall() -> None:
    with HostStalls() as watchdog:
        pause(0.1)
        stopped = stop_for([watchdog.pids[0]], 0.06)
        pause(0.1)
    report = watchdog.result()
    first = report.cpus[0]
    covering = [g for g in first.gaps if g.start <= stopped.start + 0.001 and g.end >= stopped.end]
    assert covering, f"no gap covers {stopped} in {first.gaps}"
    assert covering[0].length_s < stopped.length_s + 0.01
    if len(report.cpus) > 1:
        assert not [h for h in report.host if h.length_s >= 0.045], report.host


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one CPU: nothing to intersect")
def test_every_cpu_stopped_at_once_is_a_host_stall() -> None:
    with HostStalls() as watchdog:
        pause(0.1)
        stopped = stop_for(list(watchdog.pids), 0.06)
        pause(0.1)
    report = watchdog.result()
    hits = [h for h in report.host if h.overlaps(stopped)]
    assert len(hits) == 1, report.host
    assert hits[0].start <= stopped.start + 0.001
    assert hits[0].end >= stopped.end - 0.001
    assert report.as_dict()["max_ms"] >= 55.0
    if FIFO_ALLOWED:
        drop = [[0, 2, 50.0, 1.0]]  # tick 0 due as the stop began, the player 50 ms late
        got = report.attribute_drops({"frames_dropped": 2, "drops": drop},
                                     epoch=stopped.start + 0.005, fps=40)  # fmt: skip
        assert got["drops_during_host_stalls"] == 2
        assert got["drops_unexplained"] == 0


def test_bad_arguments_are_refused_before_any_process_starts() -> None:
    with pytest.raises(ValueError, match="cpus"):
        HostStalls(cpus=[])
    with pytest.raises(ValueError, match="cpus"):
        HostStalls(cpus=[max(os.sched_getaffinity(0)) + 64])
    with pytest.raises(ValueError, match="exceed"):
        HostStalls(period_s=0.005, threshold_s=0.005)


def watch(cpu: int, refused: str | None, *gaps: Interval) -> CpuWatch:
    return CpuWatch(cpu=cpu, refused=refused, seconds=60.0, wakes=30_000, missed_deadlines=0,
                    max_gap_ms=27.0, cpu_s=0.6, gaps=gaps)  # fmt: skip


def test_a_watchdog_at_normal_priority_explains_no_drop() -> None:
    stall = Interval(start=100.0, end=100.027)
    drops = {"frames_dropped": 1, "drops": [[4000, 1, 20.0, 1.0]]}  # due at 100.0 s
    fifo = StallReport(period_s=0.002, threshold_s=0.005,
                       cpus=(watch(0, None, stall), watch(1, None, stall)))  # fmt: skip
    assert fifo.attribute_drops(drops, epoch=0.0, fps=40)["drops_unexplained"] == 0
    normal = StallReport(period_s=0.002, threshold_s=0.005,
                         cpus=(watch(0, "refused", stall), watch(1, None, stall)))  # fmt: skip
    assert normal.host == (stall,)
    assert normal.explaining == ()
    assert normal.attribute_drops(drops, epoch=0.0, fps=40)["drops_unexplained"] == 1
    assert normal.as_dict()["watchdog"]["priority"] == "normal"
    assert fifo.cpu_s_per_minute() == pytest.approx(1.2)


PROC_STAT = """cpu  2073145 1656 291216 3372358 3767 0 41352 38764 0 0
cpu0 923614 846 135064 1812443 782 0 20184 19716 0 0
cpu1 1149530 809 156151 1559914 2984 0 21167 19048 0 0
intr 123 4 5
"""


def test_steal_time_is_read_per_cpu_from_proc_stat() -> None:
    assert steal_ticks(PROC_STAT, 0) == 19716
    assert steal_ticks(PROC_STAT, 1) == 19048
    assert steal_ticks(PROC_STAT, 2) is None  # no such CPU
    assert steal_ticks("cpu0 1 2 3 4 5 6 7\n", 0) is None  # a kernel without the field


def test_the_report_adds_up_the_steal_time_and_says_it() -> None:
    cpus = tuple(
        CpuWatch(
            cpu=c,
            refused=None,
            seconds=60.0,
            wakes=30_000,
            missed_deadlines=0,
            max_gap_ms=7.0,
            cpu_s=0.6,
            gaps=(),
            steal_s=steal,
        )
        for c, steal in ((0, 0.25), (1, 0.33))
    )
    shape = StallReport(period_s=0.002, threshold_s=0.005, cpus=cpus).as_dict()
    assert shape["steal_s"] == 0.58
    assert [c["steal_s"] for c in shape["per_cpu"]] == [0.25, 0.33]
    assert "CPU time taken by the hypervisor (steal) 0.58 s" in host_line(shape)
    unknown = StallReport(period_s=0.002, threshold_s=0.005, cpus=(watch(0, None),))
    assert unknown.as_dict()["steal_s"] is None
    assert "steal" not in host_line(unknown.as_dict())
