"""The playback state machine: every command in every state, auto-hold, scheduled GO, end."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from controller.runtime.playback import CommandResult, EndAction, Playback, PlayState

MINI_CUES = [("start", 0.0, False), ("go", 5.0, True), ("later", 10.0, False)]


def make(
    *,
    duration: float = 20.0,
    cues: list[tuple[str, float, bool]] | None = None,
    end_action: EndAction = EndAction.BLACKOUT,
) -> Playback:
    return Playback(
        duration=duration, cues=MINI_CUES if cues is None else cues, end_action=end_action
    )


def running(
    now: float = 0.0,
    *,
    duration: float = 20.0,
    cues: list[tuple[str, float, bool]] | None = None,
    end_action: EndAction = EndAction.BLACKOUT,
) -> Playback:
    pb = make(duration=duration, cues=cues, end_action=end_action)
    assert pb.arm(now).accepted
    assert pb.go(now).accepted
    return pb


def refused(result: CommandResult, message: str) -> None:
    assert result == CommandResult(False, message)


def accepted(result: CommandResult, message: str) -> None:
    assert result == CommandResult(True, message)


# -- construction and LOADED --------------------------------------------------------------


@pytest.mark.parametrize("duration", [0.0, -1.0])
def test_a_playback_needs_a_positive_duration(duration: float) -> None:
    with pytest.raises(ValueError, match=rf"duration={duration!r} must be positive"):
        Playback(duration=duration)


def test_a_new_playback_is_loaded_at_zero_with_full_master() -> None:
    snap = make().snapshot(0.0)
    assert snap.state is PlayState.LOADED
    assert (snap.position, snap.cue, snap.next_cue) == (0.0, "start", "go")
    assert (snap.blackout, snap.master, snap.waiting_at, snap.version) == (False, 1.0, None, 0)


def test_cues_are_sorted_by_time() -> None:
    pb = make(cues=[("b", 8.0, False), ("a", 2.0, True)])
    assert [c.name for c in pb.cues] == ["a", "b"]


def test_commands_before_arm_are_refused_with_a_reason() -> None:
    pb = make()
    refused(pb.go(0.0), "cannot GO while loaded; arm the show first")
    refused(pb.hold(0.0), "cannot HOLD while loaded")
    refused(pb.goto(0.0, "later"), "arm the show before GOTO")
    refused(pb.seek(0.0, 3.0), "arm the show before seeking")
    assert (pb.state, pb.version, pb.position(9.0)) == (PlayState.LOADED, 0, 0.0)


def test_an_unknown_cue_is_refused_naming_the_known_ones_in_any_state() -> None:
    pb = make()
    refused(pb.goto(0.0, "finale"), "unknown cue 'finale' (cues: start, go, later)")
    pb.arm(0.0)
    refused(pb.goto(0.0, "finale"), "unknown cue 'finale' (cues: start, go, later)")
    refused(make(cues=[]).goto(0.0, "x"), "unknown cue 'x' (cues: none)")


# -- ARMED and GO --------------------------------------------------------------------------


def test_arm_puts_the_show_at_the_top_and_it_stays_there() -> None:
    pb = make()
    accepted(pb.arm(1.0), "armed at the top of the show")
    assert (pb.state, pb.position(100.0), pb.version) == (PlayState.ARMED, 0.0, 1)
    refused(pb.hold(2.0), "cannot HOLD while armed")


def test_go_from_armed_runs_one_second_per_second() -> None:
    pb = make()
    pb.arm(10.0)
    accepted(pb.go(10.0), "go from 0.000 s")
    assert pb.state is PlayState.RUNNING
    assert pb.position(10.0) == 0.0
    assert pb.position(12.5) == 2.5
    refused(pb.go(11.0), "already running")
    refused(pb.arm(11.0), "cannot arm while running; stop first")


def test_scheduled_go_keeps_position_zero_until_at() -> None:
    pb = make()
    pb.arm(0.0)
    accepted(pb.go(1.0, at=4.0), "go from 0.000 s at 4.000")
    assert pb.state is PlayState.RUNNING
    for now in (1.0, 2.0, 3.999, 4.0):
        assert pb.position(now) == 0.0
        assert pb.snapshot(now).position == 0.0
    assert pb.position(4.5) == 0.5
    assert pb.position(6.0) == 2.0


def test_a_go_scheduled_in_the_past_joins_the_show_late() -> None:
    pb = make()
    pb.arm(10.0)
    pb.go(10.0, at=7.0)  # the shared start was 3 s ago
    assert pb.position(10.0) == 3.0


def test_re_arming_returns_to_the_top() -> None:
    pb = make()
    pb.arm(0.0)
    pb.seek(0.0, 7.0)
    accepted(pb.arm(1.0), "armed at the top of the show")
    assert pb.position(1.0) == 0.0


# -- HOLD, hold cues and GO -----------------------------------------------------------------


def test_hold_freezes_the_position_and_go_resumes_from_it() -> None:
    pb = running()
    accepted(pb.hold(2.5), "held at 2.500 s")
    assert (pb.state, pb.position(4.0)) == (PlayState.HELD, 2.5)
    snap = pb.snapshot(4.0)
    assert (snap.waiting_at, snap.cue) == (None, "start")  # not at a hold cue
    refused(pb.hold(4.0), "cannot HOLD while held")
    refused(pb.arm(4.0), "cannot arm while held; stop first")
    accepted(pb.go(4.0), "resume from 2.500 s")
    assert pb.position(5.0) == 3.5


def test_running_holds_exactly_at_a_hold_cue() -> None:
    pb = running()
    assert pb.position(4.999) == pytest.approx(4.999)
    assert pb.position(7.0) == 5.0  # never past the hold, even before update()
    assert pb.update(7.0) is PlayState.HELD
    snap = pb.snapshot(9.0)
    assert (snap.state, snap.position, snap.waiting_at) == (PlayState.HELD, 5.0, "go")
    assert (snap.cue, snap.next_cue) == ("go", "later")


def test_go_resumes_past_a_hold_cue_and_the_next_hold_is_strictly_later() -> None:
    cues = [("a", 5.0, True), ("twin", 5.0, True), ("b", 8.0, True)]
    pb = running(cues=cues)
    assert pb.update(6.0) is PlayState.HELD
    assert pb.position(6.0) == 5.0
    accepted(pb.go(10.0), "resume from 5.000 s")
    assert pb.update(10.5) is PlayState.RUNNING  # neither 'a' nor 'twin' at 5.0 again
    assert pb.position(10.5) == 5.5
    assert pb.update(20.0) is PlayState.HELD
    assert pb.snapshot(20.0).waiting_at == "b"
    assert pb.position(20.0) == 8.0


def test_a_scheduled_resume_from_a_hold_waits_for_at() -> None:
    pb = running()
    pb.update(6.0)
    accepted(pb.go(6.0, at=8.0), "resume from 5.000 s")
    assert pb.position(7.5) == 5.0
    assert pb.position(9.0) == 6.0


def test_a_hold_cue_at_the_very_end_ends_the_show_instead() -> None:
    pb = running(duration=10.0, cues=[("last", 10.0, True)])
    assert pb.update(12.0) is PlayState.ENDED


def test_the_automatic_hold_bumps_the_version_once() -> None:
    pb = running()
    before = pb.version
    pb.update(6.0)
    pb.update(7.0)
    assert pb.version == before + 1


# -- GOTO and SEEK ----------------------------------------------------------------------


def test_goto_while_running_keeps_running_from_the_cue() -> None:
    pb = running()
    accepted(pb.goto(2.0, "later"), "goto later at 10.000 s (running)")
    assert pb.state is PlayState.RUNNING
    assert pb.position(3.0) == 11.0


def test_goto_while_held_stays_held_at_the_cue() -> None:
    pb = running()
    pb.hold(1.0)
    accepted(pb.goto(2.0, "later"), "goto later at 10.000 s (held)")
    assert (pb.state, pb.position(9.0)) == (PlayState.HELD, 10.0)


def test_goto_a_hold_cue_while_held_waits_at_it() -> None:
    pb = running()
    pb.hold(1.0)
    pb.goto(2.0, "go")
    assert pb.snapshot(3.0).waiting_at == "go"


def test_goto_after_the_end_holds_at_the_cue() -> None:
    pb = running()
    pb.seek(0.0, 15.0)
    assert pb.update(30.0) is PlayState.ENDED
    accepted(pb.goto(31.0, "later"), "goto later at 10.000 s (held)")
    assert (pb.state, pb.position(40.0)) == (PlayState.HELD, 10.0)


def test_goto_while_armed_moves_the_start_point() -> None:
    pb = make()
    pb.arm(0.0)
    accepted(pb.goto(0.0, "later"), "goto later at 10.000 s (armed)")
    assert (pb.state, pb.position(5.0)) == (PlayState.ARMED, 10.0)
    pb.go(5.0)
    assert pb.position(6.0) == 11.0


@pytest.mark.parametrize(
    ("position", "ok"),
    [
        pytest.param(-0.001, False, id="before-start"),
        pytest.param(0.0, True, id="start"),
        pytest.param(20.0, True, id="end"),
        pytest.param(20.001, False, id="past-end"),
        pytest.param(float("nan"), False, id="nan"),
    ],
)
def test_seek_bounds(position: float, ok: bool) -> None:
    pb = make()
    pb.arm(0.0)
    result = pb.seek(0.0, position)
    assert result.accepted is ok
    if not ok:
        assert result.message == f"position={position!r} outside 0..20 s"
        assert pb.position(0.0) == 0.0
    else:
        assert pb.position(0.0) == position


def test_seek_keeps_running_or_held() -> None:
    pb = running()
    accepted(pb.seek(1.0, 12.0), "seek to 12.000 s (running)")
    assert pb.position(2.0) == 13.0
    pb.hold(2.0)
    accepted(pb.seek(3.0, 1.5), "seek to 1.500 s (held)")
    assert (pb.state, pb.position(9.0)) == (PlayState.HELD, 1.5)


def test_seek_onto_a_hold_cue_does_not_hold_there() -> None:
    pb = running()
    pb.seek(0.0, 5.0)
    assert pb.update(1.0) is PlayState.RUNNING
    assert pb.position(1.0) == 6.0


def test_seek_to_the_end_ends_the_show_at_once() -> None:
    pb = running()
    pb.seek(1.0, 20.0)
    assert pb.update(1.0) is PlayState.ENDED


def test_seek_after_the_end_holds_there() -> None:
    pb = running()
    pb.seek(0.0, 19.0)
    pb.update(5.0)
    accepted(pb.seek(5.0, 2.0), "seek to 2.000 s (held)")
    assert (pb.state, pb.position(6.0)) == (PlayState.HELD, 2.0)


# -- END, BLACKOUT and master ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("end_action", "dark"), [(EndAction.BLACKOUT, True), (EndAction.HOLD, False)]
)
def test_the_end_is_ended_at_the_duration_and_dark_per_end_action(
    end_action: EndAction, dark: bool
) -> None:
    pb = running(end_action=end_action)
    pb.seek(0.0, 18.0)
    assert pb.output_dark(1.999) is False
    assert pb.update(1.999) is PlayState.RUNNING
    assert pb.output_dark(2.0) is dark
    snap = pb.snapshot(3.0)
    assert (snap.state, snap.position, snap.next_cue) == (PlayState.ENDED, 20.0, None)
    refused(pb.go(3.0), "cannot GO while ended; arm the show first")
    refused(pb.hold(3.0), "cannot HOLD while ended")
    accepted(pb.arm(4.0), "armed at the top of the show")
    assert pb.output_dark(4.0) is False


@pytest.mark.parametrize("state", ["loaded", "armed", "running", "held", "ended"])
def test_blackout_is_accepted_in_every_state_and_does_not_move_the_show(state: str) -> None:
    pb = make(end_action=EndAction.HOLD)
    if state != "loaded":
        pb.arm(0.0)
    if state in ("running", "held", "ended"):
        pb.go(0.0)
    if state == "held":
        pb.hold(1.0)
    if state == "ended":
        pb.seek(1.0, 20.0)
    now = 1.0
    before = pb.snapshot(now)
    assert before.state.value == state
    accepted(pb.set_blackout(now, True), "blackout on")
    after = pb.snapshot(now)
    assert (after.state, after.position, after.blackout) == (before.state, before.position, True)
    assert pb.output_dark(now) is True
    accepted(pb.set_blackout(now, False), "blackout off")
    assert pb.output_dark(now) is False
    assert pb.version == before.version + 2


@pytest.mark.parametrize(
    ("level", "message"),
    [(0.0, "grand master 0%"), (0.5, "grand master 50%"), (1.0, "grand master 100%")],
)
def test_master_in_range_is_accepted(level: float, message: str) -> None:
    pb = make()
    accepted(pb.set_master(0.0, level), message)
    assert pb.snapshot(0.0).master == level


@pytest.mark.parametrize("level", [-0.1, 1.01, float("nan")])
def test_master_out_of_range_is_refused(level: float) -> None:
    pb = make()
    refused(pb.set_master(0.0, level), f"master={level!r} out of range 0..1")
    assert (pb.master, pb.version) == (1.0, 0)


def test_refused_commands_do_not_bump_the_version() -> None:
    pb = running()
    before = pb.version
    pb.go(1.0)
    pb.arm(1.0)
    pb.goto(1.0, "nope")
    pb.seek(1.0, 99.0)
    pb.set_master(1.0, 2.0)
    assert pb.version == before


# -- stateful: random commands and clock advances against a model ---------------------------
#
# Times, cue times and durations are multiples of 1/64 s, so every sum is exact in binary
# floating point and "advances by exactly the elapsed time" can be asserted with ==.

TICK = 1 / 64


def ticks(lo: int, hi: int) -> st.SearchStrategy[float]:
    return st.integers(lo, hi).map(lambda n: n * TICK)


@st.composite
def shows(draw: st.DrawFn) -> tuple[float, list[tuple[str, float, bool]], EndAction]:
    duration = draw(ticks(1, 64 * 12))
    times = draw(st.lists(ticks(0, int(duration / TICK)), max_size=5))
    cues = [(f"c{i}", t, draw(st.booleans())) for i, t in enumerate(times)]
    return duration, cues, draw(st.sampled_from(EndAction))


class Model:
    """What the playback should do, written from the module's rules (integrated step by step)."""

    def __init__(self, duration: float, cues: list[tuple[str, float, bool]]) -> None:
        self.duration = duration
        self.cues = sorted(cues, key=lambda c: c[1])
        self.state = PlayState.LOADED
        self.position = 0.0
        self.anchor = 0.0  # where the current run started (holds are strictly after it)
        self.starts_at = 0.0  # clock time from which RUNNING counts (scheduled GO)
        self.settled_at = 0.0
        self.version = 0

    def limit(self) -> tuple[float, bool]:
        for _, t, hold in self.cues:
            if hold and self.anchor < t < self.duration:
                return t, True
        return self.duration, False

    def settle(self, now: float) -> None:
        if self.state is PlayState.RUNNING:
            elapsed = max(0.0, now - max(self.settled_at, self.starts_at))
            limit, is_hold = self.limit()
            self.position = min(self.position + elapsed, limit)
            if self.position >= limit:
                self.state = PlayState.HELD if is_hold else PlayState.ENDED
                self.anchor = self.position
                self.version += 1
        self.settled_at = now

    def jump(self, now: float, position: float) -> None:
        self.position = self.anchor = position
        self.starts_at = now
        if self.state is PlayState.ENDED:
            self.state = PlayState.HELD

    def waiting_at(self) -> str | None:
        if self.state is not PlayState.HELD:
            return None
        return next((n for n, t, h in self.cues if h and t == self.position), None)


class PlaybackMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.pb = Playback(duration=1.0)
        self.model = Model(1.0, [])
        self.blackout = False
        self.master = 1.0
        self.end_action = EndAction.BLACKOUT
        self.before = (0.0, 0)

    @initialize(show=shows(), start=ticks(0, 640))
    def load(
        self, show: tuple[float, list[tuple[str, float, bool]], EndAction], start: float
    ) -> None:
        duration, cues, self.end_action = show
        self.pb = Playback(duration=duration, cues=cues, end_action=self.end_action)
        self.model = Model(duration, cues)
        self.now = self.model.settled_at = start

    # -- the clock -------------------------------------------------------------------------
    @rule(dt=ticks(0, 64 * 4))
    def advance(self, dt: float) -> None:
        m = self.model
        state, position, version = m.state, self.pb.position(self.now), self.pb.version
        limit, _ = m.limit()
        run_from = max(self.now, m.starts_at)
        self.now += dt
        m.settle(self.now)
        snap = self.pb.snapshot(self.now)
        assert snap.position >= position  # no command: never backwards
        if state is PlayState.RUNNING:  # exactly the elapsed time, up to a hold or the end
            assert snap.position == min(position + max(0.0, self.now - run_from), limit)
        else:
            assert snap.position == position
        assert snap.version == version + (snap.state is not state)

    # -- commands --------------------------------------------------------------------------
    def _begin(self) -> None:
        self.model.settle(self.now)
        self.pb.update(self.now)
        self.before = (self.pb.position(self.now), self.pb.version)

    def _check(self, result: CommandResult, ok: bool, *, jumps: bool = False) -> None:
        assert result.accepted is ok, (result, self.model.state)
        assert result.message
        position, version = self.before
        assert self.pb.version == version + ok  # +1 when accepted, unchanged when refused
        self.model.version += ok
        if not jumps or not ok:  # only an accepted GOTO / SEEK / ARM may move backwards
            assert self.pb.position(self.now) >= position

    @rule()
    def arm(self) -> None:
        self._begin()
        m = self.model
        ok = m.state not in (PlayState.RUNNING, PlayState.HELD)
        if ok:
            m.state, m.position, m.anchor = PlayState.ARMED, 0.0, 0.0
        self._check(self.pb.arm(self.now), ok, jumps=True)

    @rule(offset=st.none() | ticks(-128, 256))
    def go(self, offset: float | None) -> None:
        self._begin()
        m = self.model
        start = self.now if offset is None else self.now + offset
        ok = m.state in (PlayState.ARMED, PlayState.HELD)
        if m.state is PlayState.ARMED:
            m.starts_at = start
            m.settled_at = min(self.now, start)  # a start in the past counts from it
        elif m.state is PlayState.HELD:
            m.starts_at = max(start, self.now)
        if ok:
            m.state, m.anchor = PlayState.RUNNING, m.position
        self._check(self.pb.go(self.now, at=None if offset is None else start), ok)

    @rule()
    def hold(self) -> None:
        self._begin()
        m = self.model
        ok = m.state is PlayState.RUNNING
        if ok:
            m.state, m.anchor = PlayState.HELD, m.position
        self._check(self.pb.hold(self.now), ok)

    @rule(data=st.data())
    def goto(self, data: st.DataObject) -> None:
        self._begin()
        m = self.model
        names = [n for n, _, _ in m.cues]
        name = data.draw(st.sampled_from([*names, "no-such-cue"]), label="cue")
        ok = name in names and m.state is not PlayState.LOADED
        if ok:
            m.jump(self.now, next(t for n, t, _ in m.cues if n == name))
        self._check(self.pb.goto(self.now, name), ok, jumps=True)

    @rule(position=ticks(-64, 64 * 13))
    def seek(self, position: float) -> None:
        self._begin()
        m = self.model
        ok = 0.0 <= position <= m.duration and m.state is not PlayState.LOADED
        if ok:
            m.jump(self.now, position)
        self._check(self.pb.seek(self.now, position), ok, jumps=True)

    @rule(on=st.booleans())
    def blackout_(self, on: bool) -> None:
        self._begin()
        self.blackout = on
        self._check(self.pb.set_blackout(self.now, on), True)

    @rule(level=st.floats(-0.5, 1.5))
    def master_(self, level: float) -> None:
        self._begin()
        ok = 0.0 <= level <= 1.0
        if ok:
            self.master = level
        self._check(self.pb.set_master(self.now, level), ok)

    # -- invariants ------------------------------------------------------------------------
    @invariant()
    def matches_the_model(self) -> None:
        self.model.settle(self.now)
        snap = self.pb.snapshot(self.now)
        assert isinstance(snap.state, PlayState)
        assert snap.state is self.model.state
        assert 0.0 <= snap.position <= self.pb.duration
        assert snap.position == self.model.position
        assert snap.version == self.model.version
        assert (snap.blackout, snap.master) == (self.blackout, self.master)
        assert snap.waiting_at == self.model.waiting_at()
        ended_dark = snap.state is PlayState.ENDED and self.end_action is EndAction.BLACKOUT
        assert self.pb.output_dark(self.now) is (self.blackout or ended_dark)


PlaybackMachine.TestCase.settings = settings(
    max_examples=min(200, settings().max_examples), stateful_step_count=40, deadline=None
)
test_playback_state_machine = PlaybackMachine.TestCase
