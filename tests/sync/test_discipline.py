"""The disciplined clock map: slewed, never backwards, frames neither bunched nor skipped."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from controller.sync.discipline import ClockMap, Discipline, Estimate
from controller.sync.timebase import TimebaseConfig
from tests.sync.helpers import BENCH_CLOCK, bench_scenario, play

MS = 1e-3
PPM = 1e-6
MAX_SLEW_PPM = TimebaseConfig().max_slew_ppm
FPS = 44.0
SHARED = 1_700_000_000.0


def _discipline() -> Discipline:
    return Discipline(max_slew=500 * PPM, step_threshold_s=0.05, slew_time_s=5.0)


def test_map_and_its_inverse_agree() -> None:
    clock = ClockMap(local_at=100.0, shared_at=SHARED, rate=-50 * PPM)
    for local_t in (100.0, 100.5, 250.0):
        assert clock.local(clock.shared(local_t)) == pytest.approx(local_t, abs=1e-6)
    assert clock.shared(clock.local(SHARED + 3.0)) == pytest.approx(SHARED + 3.0, abs=1e-6)
    assert clock.shared(99.0) == SHARED  # held at its start
    assert clock.local(SHARED - 1.0) == pytest.approx(100.0 - 1.0 / (1 - 50 * PPM))


def test_first_estimate_sets_the_map_without_a_step() -> None:
    discipline = _discipline()
    assert discipline.steer(Estimate(10.0, SHARED, 20 * PPM)) is None
    assert discipline.map == ClockMap(local_at=10.0, shared_at=SHARED, rate=20 * PPM)
    assert discipline.steps == []


@pytest.mark.parametrize("error_s", [0.04, -0.04, 0.001, -0.0002])
def test_small_errors_are_slewed_within_the_limit(error_s: float) -> None:
    discipline = _discipline()
    discipline.steer(Estimate(10.0, SHARED, 0.0))
    assert discipline.steer(Estimate(11.0, SHARED + 1.0 + error_s, 30 * PPM)) is None
    clock = discipline.map
    assert clock is not None
    assert clock.shared_at == pytest.approx(SHARED + 1.0)  # continues where it stood
    expected = min(max(error_s / 5.0, -500 * PPM), 500 * PPM)
    assert clock.rate == pytest.approx(30 * PPM, abs=0.1 * PPM)  # the estimate's own rate
    assert clock.slew == pytest.approx(expected, abs=0.1 * PPM)  # shared ulp 0.24 µs
    assert discipline.steps == []
    # The slew lasts exactly as long as the correction: then the map is on the estimate's
    # line, and stays there if nobody steers it again (a holdover).
    for later in (clock.slew_s + 1.0, clock.slew_s + 600.0):
        on_line = SHARED + 1.0 + error_s + (1 + 30 * PPM) * later
        assert clock.shared(11.0 + later) == pytest.approx(on_line, abs=1e-6)
        assert clock.local(on_line) == pytest.approx(11.0 + later, abs=1e-6)


def test_an_unsteered_map_in_holdover_ends_its_slew_and_keeps_the_estimated_rate() -> None:
    # 2000 ppm of slew left running for a 60 s holdover would be 120 ms off; finished, 0.
    discipline = Discipline(max_slew=2000 * PPM, step_threshold_s=0.05, slew_time_s=1.0)
    discipline.steer(Estimate(10.0, SHARED, -50 * PPM))
    discipline.steer(Estimate(10.5, SHARED + 0.5 * (1 - 50 * PPM) - 0.003, -50 * PPM))
    clock = discipline.map
    assert clock is not None
    assert clock.slew == pytest.approx(-2000 * PPM)
    assert clock.slew_s == pytest.approx(1.5, abs=1e-3)  # 3 ms at 2000 ppm; shared ulp 0.24 µs
    estimate_line = SHARED + 0.5 * (1 - 50 * PPM) - 0.003 + 60.0 * (1 - 50 * PPM)
    assert clock.shared(10.5 + 60.0) == pytest.approx(estimate_line, abs=1e-9)


def test_far_ahead_estimate_steps_forward_and_reports_it() -> None:
    discipline = _discipline()
    discipline.steer(Estimate(10.0, SHARED, 0.0))
    event = discipline.steer(Estimate(11.0, SHARED + 1.2, 0.0))
    assert event is not None
    assert event.size_s == pytest.approx(0.2)
    assert event.local_at == 11.0
    assert discipline.map == ClockMap(local_at=11.0, shared_at=SHARED + 1.2, rate=0.0)
    assert discipline.steps == [event]


def test_far_behind_estimate_holds_the_map_instead_of_running_backwards() -> None:
    discipline = _discipline()
    discipline.steer(Estimate(10.0, SHARED, 0.0))
    event = discipline.steer(Estimate(11.0, SHARED + 0.8, 0.0))
    assert event is not None
    assert event.size_s == pytest.approx(-0.2)
    clock = discipline.map
    assert clock is not None
    # Held at SHARED + 1.0 for 0.2 s, then on the estimate's line.
    assert clock.shared(11.0) == pytest.approx(SHARED + 1.0)
    assert clock.shared(11.19) == pytest.approx(SHARED + 1.0)
    assert clock.shared(12.0) == pytest.approx(SHARED + 1.8)
    # Steering during the hold changes nothing.
    assert discipline.steer(Estimate(11.1, SHARED + 0.9, 0.0)) is None
    assert discipline.map == clock


def test_steering_with_time_going_backwards_changes_nothing() -> None:
    discipline = _discipline()
    discipline.steer(Estimate(10.0, SHARED, 0.0))
    discipline.steer(Estimate(12.0, SHARED + 2.001, 0.0))
    before = discipline.map
    assert discipline.steer(Estimate(11.0, SHARED + 5.0, 0.0)) is None
    assert discipline.map == before


def test_player_frames_are_evenly_spaced_and_on_time() -> None:
    playback = play(bench_scenario(), seed=1, fps=FPS)
    intervals = np.diff(playback.deadlines) * FPS  # in frame periods
    # The clock's rate, plus the slew, plus how far the first second's rate fit may be off
    # (the rate prior's sd): at most 49 µs of a 22.7 ms period.
    limit = (abs(BENCH_CLOCK.drift_ppm) + MAX_SLEW_PPM + 100) * PPM
    assert np.all(np.abs(intervals - 1.0) <= limit)
    assert np.all(np.diff(playback.frames) == 1)  # none skipped, none repeated
    settled = playback.deadlines >= playback.deadlines[0] + 55.0
    assert float(np.quantile(np.abs(playback.shared_error[settled]), 0.99)) <= 1 * MS
    assert playback.timebase.steps == ()


def test_small_conductor_step_is_slewed_at_no_more_than_the_limit() -> None:
    clock = replace(BENCH_CLOCK, conductor_steps=((80.0, 0.02),))
    playback = play(bench_scenario(clock=clock), seed=1, fps=FPS)
    intervals = np.diff(playback.deadlines) * FPS
    limit = (abs(BENCH_CLOCK.drift_ppm) + MAX_SLEW_PPM + 100) * PPM
    assert np.all(np.abs(intervals - 1.0) <= limit)
    assert np.all(np.diff(playback.frames) == 1)
    assert playback.timebase.steps == ()
    assert abs(playback.shared_error[-1]) <= 1 * MS  # caught up by the end


def test_large_forward_conductor_step_skips_frames_once_and_says_so() -> None:
    clock = replace(BENCH_CLOCK, conductor_steps=((80.0, 0.2),))
    playback = play(bench_scenario(clock=clock), seed=1, fps=FPS)
    jumps = np.diff(playback.frames)
    assert sorted(set(jumps.tolist())) == [1, 9]  # 200 ms at 44 fps: 8 frames skipped
    assert np.count_nonzero(jumps == 9) == 1
    (step,) = playback.timebase.steps
    # Until the jump is believed (about 4 s) the map may slew towards it.
    assert step.size_s == pytest.approx(0.2, abs=3 * MS)
    assert abs(playback.shared_error[-1]) <= 1 * MS


def test_large_backward_conductor_step_holds_a_frame_never_runs_backwards() -> None:
    clock = replace(BENCH_CLOCK, conductor_steps=((80.0, -0.2),))
    playback = play(bench_scenario(clock=clock), seed=1, fps=FPS)
    intervals = np.diff(playback.deadlines) * FPS
    assert np.all(np.diff(playback.frames) == 1)  # every frame, in order
    assert np.all(intervals > 0.99)  # never bunched
    assert np.count_nonzero(intervals > 1.01) == 1  # one hold of about 200 ms
    assert float(intervals.max()) == pytest.approx(1 + 0.2 * FPS, abs=0.2)
    (step,) = playback.timebase.steps
    assert step.size_s == pytest.approx(-0.2, abs=3 * MS)
    assert abs(playback.shared_error[-1]) <= 1 * MS
