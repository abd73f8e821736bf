"""The real-time player in virtual time: absolute deadlines, render-ahead, latest frame wins."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

import numpy as np
import pytest

from controller.runtime.commands import Command, CommandKind
from controller.runtime.engine import Engine
from controller.runtime.grid import LocalGrid
from controller.runtime.job import VenueJob
from controller.runtime.playback import Playback, PlayState
from controller.runtime.player import Player, request_realtime
from controller.runtime.thread_usage import ThreadUsage, thread_usage
from controller.testing import ManualClock
from tests.runtime.fakes import RecordingOutput
from tests.runtime.helpers import expected_dmx, light, playing

T0 = 1000.0
FPS = 40
PERIOD = 1.0 / FPS
START_AT = 6.0  # show position at T0


def deadline(k: int) -> float:
    return T0 + k / FPS  # the frame grid's own expression, so equality is exact


def engine_for(job: VenueJob, out: RecordingOutput, playback: Playback | None = None) -> Engine:
    return Engine(
        plan=job.plan,
        patch=job.patch,
        playback=playback or playing(job, at=START_AT),
        outputs=[out],
        grid=LocalGrid(epoch=T0, fps=FPS),
    )


def player(engine: Engine, clock: ManualClock, until: Callable[[float], bool] | None) -> Player:
    """A player without the stop frame, so commits count the frames played."""
    return Player(engine=engine, clock=clock, until=until, stop_dark=False)


def rig(
    job: VenueJob,
    *,
    on_stage: Callable[[int, float], None] | None = None,
    clock: ManualClock | None = None,
) -> tuple[Engine, RecordingOutput, ManualClock]:
    clock = clock or ManualClock(T0, autojump=True)
    out = RecordingOutput(on_stage=on_stage)
    return engine_for(job, out), out, clock


def bounded(done: Callable[[float], bool], max_frames: int = 5_000) -> Callable[[float], bool]:
    """`done`, or True after `max_frames` calls anyway: a broken loop fails, never hangs."""
    calls = 0

    def until(now: float) -> bool:
        nonlocal calls
        calls += 1
        return done(now) or calls >= max_frames

    return until


def frames_until(n: int) -> Callable[[float], bool]:
    return bounded(lambda now: now >= deadline(n - 1))


def commit_times(out: RecordingOutput) -> list[float]:
    return [c.now for c in out.commits]


def test_frames_are_committed_exactly_on_absolute_deadlines(mini: VenueJob) -> None:
    engine, out, clock = rig(mini)
    player(engine, clock, frames_until(41)).run()
    assert commit_times(out) == [deadline(k) for k in range(41)]
    assert clock.now() == deadline(40)
    stats = engine.statistics()
    assert (stats.frames_sent, stats.frames_dropped, stats.late_frames) == (41, 0, 0)


def test_each_frame_is_staged_before_its_deadline_and_only_committed_at_it(
    mini: VenueJob,
) -> None:
    engine, out, clock = rig(mini)
    player(engine, clock, frames_until(20)).run()
    sends = [c for c in out.calls if c.op in ("stage", "commit")]
    # frame 0 is rendered before the loop and sent whole at T0; then, for every frame k,
    # its data goes right after frame k-1's commit, a whole period before its deadline
    assert [(c.op, c.now) for c in sends[:2]] == [("stage", T0), ("commit", T0)]
    pairs = list(zip(sends[2::2], sends[3::2], strict=True))
    assert len(pairs) == 19
    for k, (stage, commit) in enumerate(pairs, start=1):
        assert (stage.op, commit.op) == ("stage", "commit")
        assert stage.now == deadline(k - 1) < commit.now == deadline(k)
        assert commit.dmx is stage.dmx


def test_committed_frames_show_the_show_at_their_deadline(mini: VenueJob) -> None:
    engine, out, clock = rig(mini)
    player(engine, clock, frames_until(12)).run()
    for k in (0, 1, 5, 11):
        position = START_AT + k / FPS
        np.testing.assert_array_equal(out.commits[k].dmx, expected_dmx(mini, position))


def test_poll_follows_every_delivery(mini: VenueJob) -> None:
    engine, out, clock = rig(mini)
    player(engine, clock, frames_until(5)).run()
    ops = [c.op for c in out.calls if c.op in ("commit", "poll")]
    assert ops == ["commit", "poll"] * 5


def test_a_command_while_the_next_frame_is_staged_reaches_that_frame(mini: VenueJob) -> None:
    engine: Engine | None = None

    def operator(stages: int, now: float) -> None:
        assert engine is not None
        if stages == 6:  # frame 5 is staged (lit); BLACKOUT comes before its deadline
            engine.submit(Command(kind=CommandKind.BLACKOUT, args=(True,)))

    engine, out, clock = rig(mini, on_stage=operator)
    player(engine, clock, frames_until(8)).run()
    lit = [light(mini, c.dmx).max() for c in out.commits if c.dmx is not None]
    assert all(level > 0.9 for level in lit[:5])
    assert lit[5:] == [0.0, 0.0, 0.0]
    assert commit_times(out) == [deadline(k) for k in range(8)]


def test_a_sustained_blackout_never_sends_lit_data_ahead(mini: VenueJob) -> None:
    engine, out, clock = rig(mini)
    engine.submit(Command(kind=CommandKind.BLACKOUT, args=(True,)))
    player(engine, clock, frames_until(10)).run()
    assert all(light(mini, c.dmx).max() == 0.0 for c in out.commits if c.dmx is not None)
    staged = [float(light(mini, c.dmx).max()) for c in out.of("stage") if c.dmx is not None]
    assert max(staged) == 0.0, f"lit data staged during blackout: {staged}"


def test_the_end_of_the_show_stops_the_player_with_until(mini: VenueJob) -> None:
    clock = ManualClock(T0, autojump=True)
    out = RecordingOutput()
    playback = playing(mini, at=19.0)  # one second before the end
    engine = engine_for(mini, out, playback)

    def ended(now: float) -> bool:
        return engine.snapshot().state is PlayState.ENDED

    player(engine, clock, bounded(ended)).run()
    assert len(out.commits) == FPS + 1  # show frames 760 .. 799, then the first ended frame
    assert playback.state is PlayState.ENDED
    last = out.commits[-2].dmx
    assert last is not None
    np.testing.assert_array_equal(last, expected_dmx(mini, 799 / FPS))  # the last show frame
    assert not out.latched[0, :2].any()  # end_action blackout: flood 1's intensity is 0


# -- latest frame wins ----------------------------------------------------------------------


def stall(clock: ManualClock, at_stage: int, periods: float) -> Callable[[int, float], None]:
    """An output whose stage of one frame takes `periods` frame periods of virtual time."""

    def hook(stages: int, now: float) -> None:
        if stages == at_stage:
            clock.advance(periods * PERIOD)

    return hook


def test_a_stall_drops_the_missed_frame_and_returns_to_the_frame_grid(mini: VenueJob) -> None:
    clock = ManualClock(T0, autojump=True)
    engine, out, _ = rig(mini, clock=clock, on_stage=stall(clock, at_stage=11, periods=2.5))
    player(engine, clock, frames_until(20)).run()
    times = commit_times(out)
    # frames 0..9 on time; staging frame 10 stalls until 11.5 periods: frame 10 is too late,
    # and frame 11 would leave half a period late, right before frame 12: both are dropped
    # and frame 12 goes on its own deadline, back on the grid (no bunching, no burst)
    assert times[:10] == [deadline(k) for k in range(10)]
    assert times[10:] == [deadline(k) for k in range(12, 20)]
    stats = engine.statistics()
    assert (stats.frames_dropped, stats.late_frames, stats.frames_sent) == (2, 0, 18)
    # The drop says why: preparing frame 10 took 2.5 periods (slow work, not a late wake).
    ((tick, frames, late_ms, busy_ms, _, _, _),) = engine.drops
    period_ms = 1e3 / mini.plan.fps
    assert (tick, frames) == (10, 2)
    assert busy_ms == pytest.approx(2.5 * period_ms, abs=0.01)
    assert late_ms == pytest.approx(1.5 * period_ms, abs=0.01)
    position = START_AT + 12 / FPS
    np.testing.assert_array_equal(out.commits[10].dmx, expected_dmx(mini, position))


class Preemption:
    """A thread usage for virtual time: a stall spent off the CPU, preempted once, while
    the rest of the thread's time counts as running."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock, self.off_cpu, self.preempted = clock, 0.0, 0

    def stall(self, at_stage: int, periods: float) -> Callable[[int, float], None]:
        def hook(stages: int, now: float) -> None:
            if stages == at_stage:
                self.clock.advance(periods * PERIOD)
                self.off_cpu += periods * PERIOD
                self.preempted += 1

        return hook

    def __call__(self) -> ThreadUsage:
        return ThreadUsage(self.clock.now() - self.off_cpu, 0, self.preempted)


def test_a_drop_says_the_player_was_kept_off_the_cpu(mini: VenueJob) -> None:
    clock = ManualClock(T0, autojump=True)
    usage = Preemption(clock)
    out = RecordingOutput(on_stage=usage.stall(at_stage=11, periods=2.5))
    engine = engine_for(mini, out)
    Player(engine=engine, clock=clock, until=frames_until(20), stop_dark=False, usage=usage).run()
    ((tick, frames, _, busy_ms, cpu_ms, waits, preempted),) = engine.drops
    # preparing took 2.5 periods, all of it off the CPU (virtual time: no work takes time)
    assert (tick, frames, waits, preempted) == (10, 2, 0, 1)
    assert busy_ms == pytest.approx(2.5 * 1e3 / FPS, abs=0.01)
    assert cpu_ms == pytest.approx(0.0, abs=0.01)


def test_the_real_thread_usage_counts_this_threads_cpu_time_and_its_waits() -> None:
    before = thread_usage()
    spin_until = time.thread_time() + 0.02
    while time.thread_time() < spin_until:
        pass
    spun = thread_usage().since(before)
    assert spun.cpu_s >= 0.02
    threading.Event().wait(0.005)  # blocks: a voluntary context switch
    assert thread_usage().since(before).waits > spun.waits


def test_a_long_stall_counts_every_missed_frame(mini: VenueJob) -> None:
    clock = ManualClock(T0, autojump=True)
    engine, out, _ = rig(mini, clock=clock, on_stage=stall(clock, at_stage=3, periods=10.5))
    player(engine, clock, frames_until(30)).run()
    # a 10.5-period stall: the 10 frames due during it (and half a period after it) drop
    assert engine.frames_dropped == 10
    assert len(out.commits) == 30 - 10
    assert len(set(commit_times(out))) == len(out.commits)  # never two frames at once


def _burst_frame() -> int:
    """A frame k where a wake exactly on deadline k+2 gives `int((now - deadline) / period)`
    == 1 instead of 2 (binary floating point: 1/40 is not exact)."""
    return next(k for k in range(5, 200) if int((deadline(k + 2) - deadline(k)) / PERIOD) == 1)


def _run_with_stall(
    job: VenueJob, wake: Callable[[int, float], float]
) -> tuple[Engine, list[float]]:
    """Staging frame k (right after frame k-1's commit) stalls until `wake(k, now)`."""
    clock = ManualClock(T0, autojump=True)
    k = _burst_frame()

    def hook(stages: int, now: float) -> None:
        if stages == k + 1:
            clock.jump_to(wake(k, now))

    engine, out, _ = rig(job, clock=clock, on_stage=hook)
    player(engine, clock, frames_until(k + 10)).run()
    return engine, commit_times(out)


def test_a_stall_ending_on_a_deadline_does_not_commit_two_frames_at_once(mini: VenueJob) -> None:
    engine, times = _run_with_stall(mini, lambda k, _: deadline(k + 2))
    assert engine.frames_dropped == 2  # frames k and k+1 were both due before the wake
    assert len(set(times)) == len(times), "two frames committed at the same instant"


def test_no_two_commits_are_closer_than_one_period_after_a_stall(mini: VenueJob) -> None:
    engine, times = _run_with_stall(mini, lambda _, now: now + 2.5 * PERIOD)
    assert engine.frames_dropped == 2  # the stalled frame, and the one it would crowd
    gaps = np.diff(times)
    assert gaps.min() >= PERIOD - 1e-9, f"commits {gaps.min() / PERIOD:.3f} periods apart"


# -- the thread -----------------------------------------------------------------------------


def test_start_and_stop_run_the_loop_in_a_named_thread(mini: VenueJob) -> None:
    clock = ManualClock(T0, autojump=True)
    out = RecordingOutput(commits_wanted=10)
    engine = engine_for(mini, out)
    player = Player(engine=engine, clock=clock)
    names: list[str] = []
    out.on_stage = lambda _, __: names.append(threading.current_thread().name)
    player.start()
    try:
        assert out.enough.wait(10), "the output thread delivered nothing"
    finally:
        player.stop()
        player.join(10)
    assert not player.running
    assert player.error is None
    assert names[0] == "citypulse-output"
    times = commit_times(out)
    assert times == [deadline(k) for k in range(len(times))]  # the stop frame on the grid too
    assert light(mini, out.latched).max() == 0.0  # the stop frame is black
    assert (out.calls[0].op, out.calls[-1].op) == ("open", "close")


def test_an_error_in_the_loop_is_kept_for_the_caller(mini: VenueJob) -> None:
    engine = engine_for(mini, RecordingOutput())
    player = Player(engine=engine, clock=ManualClock(T0))  # no autojump: wait_until refuses
    player.start()
    player.join(10)
    assert not player.running
    assert isinstance(player.error, RuntimeError)
    assert "would block a ManualClock" in str(player.error)


def test_realtime_is_requested_and_what_is_reported_is_what_the_thread_got() -> None:
    results: list[tuple[str, int]] = []

    def ask() -> None:  # a throwaway thread: only it becomes SCHED_FIFO if granted
        status = request_realtime(10)
        results.append((status, os.sched_getscheduler(0)))

    thread = threading.Thread(target=ask)
    thread.start()
    thread.join(10)
    ((status, policy),) = results
    if policy == os.SCHED_FIFO:
        assert status == "SCHED_FIFO priority 10"
    else:
        assert status.startswith("real-time priority refused: ")
    assert os.sched_getscheduler(0) != os.SCHED_FIFO  # the test's own thread is untouched


def test_a_lateness_sample_is_kept_per_delivered_frame(mini: VenueJob) -> None:
    engine, out, clock = rig(mini)
    played = player(engine, clock, frames_until(10))
    played.run()
    assert played.lateness == [0.0] * 10
    assert len(out.commits) == 10


def test_playback_commands_can_come_from_another_thread(mini: VenueJob) -> None:
    clock = ManualClock(T0, autojump=True)
    out = RecordingOutput(commits_wanted=5, pause=True)  # the output thread waits in commit 5
    engine = engine_for(mini, out)
    played = player(engine, clock, frames_until(20))
    played.start()
    try:
        assert out.enough.wait(10), "the output thread delivered nothing"
        engine.submit(Command(kind=CommandKind.HOLD, origin="other-thread"))
    finally:
        out.release.set()
        played.join(10)
    assert not played.running
    assert played.error is None
    (outcome,) = engine.outcomes()
    # sent while frame 4 was on the wire: it executes on the next frame prepared, frame 5
    assert (outcome.accepted, outcome.tick) == (True, 5)
    assert outcome.message == f"held at {START_AT + 5 / FPS:.3f} s"
    held = engine.snapshot().position
    frozen = [c.dmx for c in out.commits[5:]]
    assert len(frozen) == 15
    for dmx in frozen:  # every frame from the HOLD on shows the held look
        np.testing.assert_array_equal(dmx, expected_dmx(mini, held))
