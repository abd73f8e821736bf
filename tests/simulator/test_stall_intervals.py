"""Host stalls from per-CPU gaps, and the drops they explain (pure, synthetic gaps)."""

from __future__ import annotations

import pytest

from simulator.stall_intervals import (
    Interval,
    WakeRecorder,
    attribute_drops,
    attribute_gaps,
    drops_text,
    host_line,
    host_stalls,
    intersect,
    stall_extents,
    stall_summary,
    wire_gaps,
)

T0 = 1_700_000_000.0  # shared time is UTC seconds: keep the figures at that magnitude


def iv(start_ms: float, end_ms: float) -> Interval:
    return Interval(start=T0 + start_ms * 1e-3, end=T0 + end_ms * 1e-3)


def spans_ms(intervals: list[Interval]) -> list[tuple[float, float]]:
    # to the microsecond: a double near 1.7e9 s resolves 0.24 us
    return [(round((i.start - T0) * 1e3, 3), round((i.end - T0) * 1e3, 3)) for i in intervals]


# -- Interval ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("start", "end"), [(1.0, 0.5), (float("nan"), 1.0), (0.0, float("inf"))])
def test_interval_refuses_reversed_or_non_finite(start: float, end: float) -> None:
    with pytest.raises(ValueError, match="start <= end"):
        Interval(start=start, end=end)


def test_overlap_needs_more_than_an_instant_unless_widened() -> None:
    a, b = iv(0, 10), iv(10, 20)
    assert not a.overlaps(b)
    assert a.overlaps(b, slack_s=0.0005)
    assert iv(0, 10).overlaps(iv(9.9, 9.95))
    assert iv(0, 10).as_pair() == [round(T0, 6), 10.0]


# -- WakeRecorder --------------------------------------------------------------------------------
def test_punctual_wakes_record_no_gap_and_stay_on_the_grid() -> None:
    rec = WakeRecorder(start=0.0, period_s=0.002, threshold_s=0.005)
    deadline = rec.deadline
    for _ in range(1000):
        deadline = rec.woke(deadline + 0.0003)  # each wake 0.3 ms late: never accumulates
    assert rec.gaps == []
    assert rec.missed == 0
    assert rec.wakes == 1000
    assert deadline == pytest.approx(1001 * 0.002)


def test_a_stall_is_one_gap_from_the_last_wake_and_missed_deadlines_are_skipped() -> None:
    rec = WakeRecorder(start=0.0, period_s=0.002, threshold_s=0.005)
    rec.woke(0.002)
    rec.woke(0.004)
    after = rec.woke(0.0311)  # stalled: the deadlines 6..30 ms passed unseen
    assert rec.gaps == [Interval(start=0.004, end=0.0311)]
    assert rec.missed == 12  # 8, 10, ..., 30 ms (this wake was for the 6 ms one, late)
    assert after == pytest.approx(0.032)  # the next deadline ahead, not a burst of old ones
    assert rec.woke(after) == pytest.approx(0.034)
    assert rec.max_gap_s == pytest.approx(0.0271)


def test_gaps_at_the_threshold_are_not_stalls_and_early_wakes_keep_the_deadline() -> None:
    rec = WakeRecorder(start=0.0, period_s=0.002, threshold_s=0.005)
    assert rec.woke(0.005) == pytest.approx(0.006)  # exactly 5 ms: not above the threshold
    assert rec.woke(0.0055) == pytest.approx(0.006)  # woke before its deadline: same deadline
    assert rec.gaps == []
    assert rec.missed == 1


def test_recorder_keeps_at_most_keep_gaps_and_checks_its_arguments() -> None:
    rec = WakeRecorder(start=0.0, period_s=0.002, threshold_s=0.005, keep=2)
    for k in range(1, 5):
        rec.woke(k * 0.01)
    assert len(rec.gaps) == 2
    assert rec.wakes == 4
    with pytest.raises(ValueError, match="exceed"):
        WakeRecorder(start=0.0, period_s=0.002, threshold_s=0.002)
    with pytest.raises(ValueError, match="positive period"):
        WakeRecorder(start=0.0, period_s=0.0, threshold_s=0.005)


# -- intersection ---------------------------------------------------------------------------------
def test_intersect_keeps_only_common_stretches() -> None:
    a = [iv(0, 10), iv(20, 30), iv(40, 50)]
    b = [iv(5, 25), iv(30, 40), iv(45, 46), iv(48, 60)]
    assert spans_ms(intersect(a, b)) == [(5, 10), (20, 25), (45, 46), (48, 50)]
    assert intersect(a, []) == []
    assert intersect([], b) == []


def test_a_stall_on_one_cpu_only_is_not_a_host_stall() -> None:
    cpu0 = [iv(100, 127)]  # 27 ms on CPU0 alone
    cpu1 = [iv(300, 310)]
    assert host_stalls([cpu0, cpu1]) == []
    assert host_stalls([cpu0, []]) == []


def test_host_stall_is_where_every_cpu_stalled_at_once() -> None:
    cpu0 = [iv(90, 117), iv(500, 507)]  # 27 ms, as seen on the VM
    cpu1 = [iv(97, 114), iv(700, 720)]  # 17 ms, at the same instant
    cpu2 = [iv(95, 112)]
    assert spans_ms(host_stalls([cpu0, cpu1])) == [(97, 114)]
    assert spans_ms(host_stalls([cpu0, cpu1, cpu2])) == [(97, 112)]
    assert spans_ms(host_stalls([list(reversed(cpu0)), cpu1])) == [(97, 114)]  # any order
    assert host_stalls([]) == []
    assert spans_ms(host_stalls([cpu0])) == [(90, 117), (500, 507)]  # one CPU watched


def test_summary_counts_totals_and_lists_the_long_ones() -> None:
    summary = stall_summary([iv(0, 9.5), iv(100, 127), iv(200, 211)])
    assert summary["count"] == 3
    assert summary["total_ms"] == pytest.approx(47.5, abs=1e-3)
    assert summary["max_ms"] == pytest.approx(27.0, abs=1e-3)
    assert [round(ms, 3) for _, ms in summary["long"]] == [27.0, 11.0]
    assert stall_summary([]) == {"count": 0, "total_ms": 0.0, "max_ms": 0.0, "long": []}


# -- attributing drops -------------------------------------------------------------------------------
FPS = 40
STALL = [iv(1000, 1027)]  # shared time T0 + 1.000 .. 1.027 s


def drop_at(deadline_ms: float, frames: int = 1, late_ms: float = 15.0) -> list[float]:
    """A drop row [tick, frames, late ms, busy ms] whose tick is due at T0 + deadline_ms."""
    tick = round(deadline_ms * 1e-3 * FPS)
    assert tick / FPS * 1e3 == pytest.approx(deadline_ms)
    return [tick, frames, late_ms, 1.0]


def attribute(drops: list[list[float]], dropped: int | None = None) -> dict[str, object]:
    total = sum(int(d[1]) for d in drops) if dropped is None else dropped
    return attribute_drops(drops, frames_dropped=total, epoch=T0, fps=FPS, stalls=STALL)


def test_a_drop_overlapping_a_host_stall_is_explained() -> None:
    got = attribute([drop_at(1000, late_ms=20.0)])
    assert got == {"drops_during_host_stalls": 1, "drops_unexplained": 0, "host_stalls_ms": [27.0]}
    # 990..1020 ms: 21 ms of it in the stall (with the slack); 9 ms left, under half a period
    assert explained(39, 30.0, 15.0) == 1  # tick 39 due at 975 ms, the epoch 15 ms on


def test_a_drop_later_than_its_stall_accounts_for_is_unexplained() -> None:
    # 975..1005 ms: 6 ms in the stall; without it the player was still 24 ms late
    assert attribute([drop_at(975, late_ms=30.0)])["drops_unexplained"] == 1
    # 1015..1040 and 1015..1042 ms: 13 ms in the stall; 12 ms left is within the 12.5 ms
    # the player allows (half a period at 40 fps), 14 ms is not
    assert explained(41, 25.0, -10.0) == 1  # tick 41 due at 1025 ms, the epoch 10 ms back
    assert explained(41, 27.0, -10.0) == 0


def test_drops_before_or_after_a_host_stall_are_unexplained() -> None:
    before = attribute([drop_at(950, late_ms=20.0)])  # 950..970 ms, stall from 1000
    after = attribute([drop_at(1050, late_ms=20.0)])  # from 1050, stall ended at 1027
    assert before["drops_unexplained"] == 1
    assert before["drops_during_host_stalls"] == 0
    assert after["drops_unexplained"] == 1
    assert after["host_stalls_ms"] == []


def explained(tick: int, late_ms: float, epoch_shift_ms: float) -> int:
    got = attribute_drops([[tick, 1, late_ms, 1.0]], frames_dropped=1, fps=FPS, stalls=STALL,
                          epoch=T0 + epoch_shift_ms * 1e-3)  # fmt: skip
    during: int = got["drops_during_host_stalls"]
    return during


def test_slack_of_a_millisecond_at_the_edges_and_no_more() -> None:
    # The stall is 1000..1027 ms; tick 41 is due at 1025 ms plus the epoch's shift; 14 ms
    # late: explained only if at least 1.5 ms of it is inside the stall (with its slack).
    assert explained(41, 14.0, 0.5) == 1  # due 1025.5: 1.5 ms in the stall, 1 ms of slack
    assert explained(41, 14.0, 1.0) == 1  # due 1026.0: 1.0 + 1.0 ms of slack
    assert explained(41, 14.0, 1.6) == 0  # due 1026.6: 0.4 + 1.0 ms, 12.6 ms unexplained
    assert explained(39, 14.0, 12.0) == 1  # due 987 (tick 39 + 12 ms): 1 ms before it began


def test_multi_frame_drops_count_their_frames_and_unlisted_frames_are_unexplained() -> None:
    got = attribute([drop_at(1000, frames=3, late_ms=35.0), drop_at(2000, frames=2)], dropped=9)
    assert got["drops_during_host_stalls"] == 3
    assert got["drops_unexplained"] == 6  # 2 outside, 4 never listed in the report


def test_without_the_grid_or_a_report_nothing_is_explained() -> None:
    drops = [drop_at(1000)]
    no_epoch = attribute_drops(drops, frames_dropped=1, epoch=None, fps=FPS, stalls=STALL)
    assert no_epoch["drops_unexplained"] == 1
    no_stalls = attribute_drops(drops, frames_dropped=1, epoch=T0, fps=FPS, stalls=[])
    assert no_stalls["drops_unexplained"] == 1
    gone = attribute_drops([], frames_dropped=None, epoch=T0, fps=FPS, stalls=STALL)
    assert gone["drops_unexplained"] is None
    assert gone["drops_during_host_stalls"] is None
    assert attribute([]) == {"drops_during_host_stalls": 0, "drops_unexplained": 0,
                             "host_stalls_ms": []}  # fmt: skip


def test_a_stall_extends_from_the_first_cpu_stopping_to_the_last_running_again() -> None:
    per_cpu = [[iv(1000, 1037), iv(3000, 3009)], [iv(998, 1024), iv(2000, 2010)]]
    assert host_stalls(per_cpu) == [iv(1000, 1024)]
    assert stall_extents(per_cpu) == [iv(998, 1037)]  # a gap on one CPU alone adds none


def test_a_drop_until_the_last_cpu_resumed_is_explained() -> None:
    # As measured: both CPUs stopped 1000..1024 ms, CPU 0 until 1039; tick 40 due at 1000 ms,
    # the players woke 39 ms late, when CPU 0 ran again.
    per_cpu = [[iv(1000, 1039)], [iv(998, 1024)]]
    drop = [[40, 1, 39.0, 1.0]]
    common = attribute_drops(drop, frames_dropped=1, epoch=T0, fps=FPS, stalls=host_stalls(per_cpu))
    whole = attribute_drops(
        drop, frames_dropped=1, epoch=T0, fps=FPS, stalls=stall_extents(per_cpu)
    )
    assert common["drops_unexplained"] == 1  # 39 - 25 (with the slack) = 14 ms > 12.5
    assert whole["drops_during_host_stalls"] == 1


def test_a_one_cpu_stall_explains_no_drop() -> None:
    host = host_stalls([[iv(1000, 1027)], [iv(2000, 2010)]])
    got = attribute_drops([drop_at(1000)], frames_dropped=1, epoch=T0, fps=FPS, stalls=host)
    assert got["drops_unexplained"] == 1


# -- frames missing on the wire ------------------------------------------------------------------------
def test_wire_gaps_count_missing_frames_like_the_skew_report() -> None:
    period = 1 / FPS
    times = [T0 + k * period for k in (0, 1, 2, 4, 5, 9)]
    gaps = wire_gaps(list(reversed(times)), period)
    assert [(round((g.start - T0) * FPS), n) for g, n in gaps] == [(2, 1), (5, 3)]
    with pytest.raises(ValueError, match="positive"):
        wire_gaps(times, 0.0)


def test_wire_gaps_overlapping_a_host_stall_are_explained() -> None:
    gaps = [(iv(975, 1050), 2), (iv(3000, 3050), 1)]
    got = attribute_gaps(gaps, stalls=STALL)
    assert got == {"missing": 3, "missing_during_host_stalls": 2, "missing_unexplained": 1,
                   "host_stalls_ms": [27.0]}  # fmt: skip


def test_drops_text_never_hides_a_drop() -> None:
    assert drops_text(0, attribute([])) == "0"
    assert drops_text(None, {}) == "-"
    assert drops_text(2, attribute([drop_at(1000, frames=2)])) == (
        "2 (2 during a host stall of 27 ms)"
    )
    mixed = attribute([drop_at(1000), drop_at(3000, frames=2)])
    assert drops_text(3, mixed) == "3 (1 during a host stall of 27 ms, 2 not)"
    assert drops_text(2, attribute([drop_at(3000, frames=2)])) == "2"


def test_host_line_says_how_many_the_longest_and_a_refused_priority() -> None:
    summary = stall_summary([iv(100, 127)]) | {"watchdog": {"refused": None}}
    assert host_line(summary) == (
        "  host stalls (every CPU stopped at once, FIFO 99 watchdog): 1, max 27 ms"
    )
    refused = summary | {"watchdog": {"refused": "SCHED_FIFO 99 refused: EPERM"}}
    assert host_line(refused).endswith(
        "; watchdog at normal priority (SCHED_FIFO 99 refused: EPERM): no drop is attributed"
    )
