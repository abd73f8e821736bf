"""The playback state machine on the frame grid: every command in every state, holds, catch-up,
the end, and a model test that also calls it with ticks from the past."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from controller.runtime.commands import Command, CommandKind, CommandResult
from controller.runtime.playback import EndAction, Playback, PlayState

FPS = 10
MINI_CUES = [("start", 0.0, False), ("go", 5.0, True), ("later", 10.0, False)]


def make(
    *,
    frames: int = 200,
    cues: list[tuple[str, float, bool]] | None = None,
    end_action: EndAction = EndAction.BLACKOUT,
) -> Playback:
    return Playback(
        fps=FPS,
        frame_count=frames,
        cues=MINI_CUES if cues is None else cues,
        end_action=end_action,
    )


def cmd(kind: CommandKind, *args: str | float | bool) -> Command:
    return Command(kind=kind, args=args)


ARM, GO, RESUME, HOLD = (
    cmd(k) for k in (CommandKind.ARM, CommandKind.GO, CommandKind.RESUME, CommandKind.HOLD)
)


def running(tick: int = 0, **kwargs: object) -> Playback:
    pb = make(**kwargs)  # type: ignore[arg-type]
    assert pb.apply(ARM, tick).accepted
    assert pb.apply(GO, tick).accepted
    return pb


def refused(result: CommandResult, message: str) -> None:
    assert result == CommandResult(False, message)


# -- construction -------------------------------------------------------------------------


@pytest.mark.parametrize(("frames", "fps"), [(0, 10), (10, 0), (-1, 10)])
def test_a_playback_needs_frames_and_a_rate(frames: int, fps: int) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        Playback(fps=fps, frame_count=frames)


def test_a_new_playback_is_loaded_on_frame_zero_with_full_master() -> None:
    snap = make().snapshot(0)
    assert snap.state is PlayState.LOADED
    assert (snap.frame, snap.position, snap.cue, snap.next_cue) == (0, 0.0, "start", "go")
    assert (snap.blackout, snap.master, snap.waiting_at, snap.version) == (False, 1.0, None, 0)


def test_cue_times_land_on_the_nearest_frame_inside_the_show() -> None:
    pb = make(frames=50, cues=[("a", 0.26, False), ("b", 0.24, True), ("c", 99.0, False)])
    assert [(c.name, c.frame) for c in pb.cues] == [("b", 2), ("a", 3), ("c", 49)]


def test_commands_before_arm_are_refused_with_a_reason() -> None:
    pb = make()
    refused(pb.apply(GO, 0), "cannot GO while loaded; arm the show first")
    refused(pb.apply(RESUME, 0), "cannot RESUME while loaded; only when held")
    refused(pb.apply(HOLD, 0), "cannot HOLD while loaded")
    refused(pb.apply(cmd(CommandKind.GOTO, "go"), 0), "arm the show before GOTO")
    refused(pb.apply(cmd(CommandKind.SEEK, 1.0), 0), "arm the show before seeking")
    assert pb.version == 0


def test_an_unknown_cue_is_refused_naming_the_known_ones() -> None:
    refused(
        running().apply(cmd(CommandKind.GOTO, "nope"), 3),
        "unknown cue 'nope' (cues: start, go, later)",
    )


# -- the frame grid (issue 7, item 1) -----------------------------------------------------


def test_running_shows_one_show_frame_per_tick_from_the_tick_of_go() -> None:
    pb = make()
    pb.apply(ARM, 100)
    pb.apply(GO, 103)
    assert [pb.frame(k) for k in range(103, 108)] == [0, 1, 2, 3, 4]
    assert pb.snapshot(107).position == 4 / FPS


def test_every_position_is_a_whole_frame_even_from_a_seek_between_frames() -> None:
    pb = make()
    pb.apply(ARM, 0)
    pb.apply(cmd(CommandKind.SEEK, 1.234), 0)
    pb.apply(GO, 0)
    assert pb.frame(0) == 12
    assert pb.snapshot(5).position == pytest.approx(1.7)


# -- late commands catch up alike (items 2 and 3) -----------------------------------------


def test_a_late_go_from_armed_catches_up_to_where_the_show_should_be() -> None:
    pb = make()
    pb.apply(ARM, 0)
    result = pb.apply(GO, 10, 7)  # due on tick 7, heard on tick 10
    assert result == CommandResult(True, "go from 0.000 s (3 frames late)")
    assert pb.frame(10) == 3


def test_a_late_resume_from_held_catches_up_exactly_like_a_late_go() -> None:
    pb = running()
    pb.apply(HOLD, 20)
    assert pb.frame(20) == 20
    pb.apply(RESUME, 30, 25)
    assert pb.frame(30) == 25  # as if resumed on tick 25
    other = running()
    other.apply(HOLD, 20)
    other.apply(GO, 30, 25)
    assert other.frame(30) == pb.frame(30)


def test_catch_up_never_starts_before_the_show_stopped() -> None:
    pb = running()
    pb.apply(HOLD, 20)
    pb.apply(GO, 30, 5)  # due before the hold: counts from the hold
    assert pb.frame(30) == 30


def test_a_hold_holds_the_frame_of_its_tick_and_never_goes_back() -> None:
    pb = running()
    assert pb.frame(40) == 40
    pb.apply(HOLD, 40, 35)  # even when it was due earlier, a hold never rewinds the wire
    assert [pb.frame(k) for k in (40, 41, 80)] == [40, 40, 40]


def test_a_catch_up_through_a_hold_cue_stops_on_it() -> None:
    pb = make()
    pb.apply(ARM, 0)
    pb.apply(GO, 80, 0)
    snap = pb.snapshot(80)
    assert (snap.state, snap.frame, snap.waiting_at) == (PlayState.HELD, 50, "go")
    assert snap.anchor_tick == 50  # the tick it reached the hold


def test_a_late_goto_while_running_lands_where_the_others_are() -> None:
    pb = running()
    pb.apply(cmd(CommandKind.GOTO, "later"), 40, 37)
    assert pb.frame(40) == 103


# -- holds, the end ------------------------------------------------------------------------


def test_running_holds_exactly_on_a_hold_cue_and_go_resumes_past_it() -> None:
    pb = running()
    snap = pb.snapshot(60)
    assert (snap.state, snap.frame, snap.waiting_at) == (PlayState.HELD, 50, "go")
    pb.apply(GO, 60)
    assert pb.frame(61) == 51
    assert pb.state is PlayState.RUNNING


def test_the_automatic_hold_bumps_the_version_once() -> None:
    pb = running()
    version = pb.version
    pb.update(55)
    pb.update(56)
    assert pb.version == version + 1


def test_a_hold_cue_on_the_last_frame_holds_and_one_past_the_end_is_ignored() -> None:
    pb = running(frames=20, cues=[("end", 1.9, True), ("after", 5.0, True)])
    snap = pb.snapshot(40)
    assert (snap.state, snap.frame) == (PlayState.HELD, 19)


@pytest.mark.parametrize(("end", "dark"), [(EndAction.BLACKOUT, True), (EndAction.HOLD, False)])
def test_the_last_frame_plays_then_the_show_ends(end: EndAction, dark: bool) -> None:
    pb = running(frames=30, cues=[], end_action=end)
    assert pb.frame(29) == 29
    assert pb.update(29) is PlayState.RUNNING
    assert pb.update(30) is PlayState.ENDED
    assert pb.frame(31) == 29
    assert pb.output_dark(31) is dark


def test_goto_after_the_end_holds_at_the_cue() -> None:
    pb = running(frames=120)
    pb.apply(GO, 60)  # past the hold
    pb.update(200)
    assert pb.state is PlayState.ENDED
    assert pb.apply(cmd(CommandKind.GOTO, "later"), 201).accepted
    assert (pb.state, pb.frame(210)) == (PlayState.HELD, 100)


def test_goto_while_armed_moves_the_start_point() -> None:
    pb = make()
    pb.apply(ARM, 0)
    pb.apply(cmd(CommandKind.GOTO, "later"), 4)
    pb.apply(GO, 10)
    assert pb.frame(12) == 102


@pytest.mark.parametrize(("seconds", "ok"), [(0.0, True), (20.0, True), (20.1, False)])
def test_seek_bounds(seconds: float, ok: bool) -> None:
    pb = running()
    assert pb.apply(cmd(CommandKind.SEEK, seconds), 1).accepted is ok


def test_blackout_and_master_never_move_the_show() -> None:
    pb = running()
    frame = pb.frame(10)
    assert pb.apply(cmd(CommandKind.BLACKOUT, True), 10) == CommandResult(True, "blackout on")
    assert pb.apply(cmd(CommandKind.MASTER, 0.5), 10) == CommandResult(True, "grand master 50%")
    assert pb.frame(10) == frame
    assert pb.output_dark(10)


def test_refused_commands_do_not_bump_the_version() -> None:
    pb = running()
    version = pb.version
    refused(pb.apply(GO, 3), "already running")
    refused(pb.apply(RESUME, 3), "cannot RESUME while running; only when held")
    refused(pb.apply(ARM, 3), "cannot arm while running; stop first")
    assert pb.version == version


# -- calls from the past (item 17) --------------------------------------------------------


def test_a_tick_from_the_past_is_answered_as_of_the_latest_tick() -> None:
    pb = running()
    assert pb.frame(20) == 20
    pb.update(20)
    assert pb.frame(12) == 20  # the engine prepares k + 1 before it delivers it
    pb.apply(HOLD, 15)  # executes on the latest tick, not back in time
    assert pb.frame(25) == 20


# -- a model of the rules, stepped tick by tick ---------------------------------------------


@st.composite
def shows(draw: st.DrawFn) -> tuple[int, list[tuple[str, float, bool]], EndAction]:
    frames = draw(st.integers(1, 120))
    times = draw(st.lists(st.integers(0, frames + 5), max_size=5))
    cues = [(f"c{i}", t / FPS, draw(st.booleans())) for i, t in enumerate(times)]
    return frames, cues, draw(st.sampled_from(EndAction))


class Model:
    """What the playback should do, written from the module's rules, integrated step by step."""

    def __init__(self, frames: int, cues: list[tuple[str, float, bool]]) -> None:
        self.frames = frames
        self.cues = sorted(
            ((n, min(max(round(t * FPS), 0), frames - 1), h) for n, t, h in cues),
            key=lambda c: c[1],
        )
        self.state = PlayState.LOADED
        self.frame = 0
        self.anchor = 0  # the frame the current run started from (holds are strictly after)
        self.counted_to = 0  # the tick up to which RUNNING frames have been counted
        self.stopped_at = 0  # the tick the show last stopped (armed, held, moved while stopped)
        self.version = 0

    def limit(self) -> tuple[int, bool]:
        for _, f, hold in self.cues:
            if hold and f > self.anchor:
                return f, True
        return self.frames, False

    def settle(self, tick: int) -> None:
        if self.state is PlayState.RUNNING:
            limit, is_hold = self.limit()
            reach = self.frame + (tick - self.counted_to)
            if reach >= limit:
                self.counted_to += limit - self.frame
                self.frame = limit if is_hold else self.frames - 1
                self.state = PlayState.HELD if is_hold else PlayState.ENDED
                self.anchor = self.frame
                self.stopped_at = self.counted_to
                self.version += 1
                return
            self.frame = reach
        self.counted_to = max(self.counted_to, tick)

    def waiting_at(self) -> str | None:
        if self.state is not PlayState.HELD:
            return None
        return next((n for n, f, h in self.cues if h and f == self.frame), None)


class PlaybackMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tick = 0
        self.pb = Playback(fps=FPS, frame_count=1)
        self.model = Model(1, [])
        self.end_action = EndAction.BLACKOUT
        self.blackout, self.master = False, 1.0

    @initialize(show=shows(), start=st.integers(0, 1000))
    def load(self, show: tuple[int, list[tuple[str, float, bool]], EndAction], start: int) -> None:
        frames, cues, self.end_action = show
        self.pb = Playback(fps=FPS, frame_count=frames, cues=cues, end_action=self.end_action)
        self.model = Model(frames, cues)
        self.tick = self.model.counted_to = start

    @rule(dt=st.integers(0, 40))
    def advance(self, dt: int) -> None:
        before = self.pb.snapshot(self.tick)
        self.tick += dt
        self.model.settle(self.tick)
        snap = self.pb.snapshot(self.tick)
        assert snap.frame >= before.frame  # no command: never backwards
        if before.state is PlayState.RUNNING and snap.state is PlayState.RUNNING:
            assert snap.frame == before.frame + dt  # one show frame per tick
        assert snap.version == before.version + (snap.state is not before.state)

    @rule(back=st.integers(1, 30))
    def look_back(self, back: int) -> None:
        """The engine asks about a tick it already passed: nothing changes, nothing rewinds."""
        now = self.pb.snapshot(self.tick)
        past = self.pb.snapshot(self.tick - back)
        assert (past.state, past.frame, past.version) == (now.state, now.frame, now.version)

    def _apply(self, command: Command, ok: bool, late: int = 0, back: int = 0) -> None:
        before = self.pb.snapshot(self.tick)
        result = self.pb.apply(command, self.tick - back, self.tick - late)
        assert result.accepted is ok, (result, self.model.state)
        assert result.message
        self.model.version += ok
        if not ok or not command.moves_position or command.kind is CommandKind.HOLD:
            assert self.pb.frame(self.tick) >= before.frame or command.kind is CommandKind.ARM

    def _settle(self) -> Model:
        self.model.settle(self.tick)
        return self.model

    @rule(back=st.integers(0, 3))
    def arm(self, back: int) -> None:
        m = self._settle()
        ok = m.state not in (PlayState.RUNNING, PlayState.HELD)
        if ok:
            m.state, m.frame, m.anchor, m.stopped_at = PlayState.ARMED, 0, 0, self.tick
        self._apply(Command(kind=CommandKind.ARM), ok, back=back)

    @rule(late=st.integers(0, 30), resume=st.booleans())
    def go(self, late: int, resume: bool) -> None:
        m = self._settle()
        ok = m.state is PlayState.HELD or (m.state is PlayState.ARMED and not resume)
        if ok:
            m.state, m.anchor = PlayState.RUNNING, m.frame
            m.counted_to = max(self.tick - late, m.stopped_at)
        kind = CommandKind.RESUME if resume else CommandKind.GO
        self._apply(Command(kind=kind), ok, late=late)
        self.model.settle(self.tick)

    @rule()
    def hold(self) -> None:
        m = self._settle()
        ok = m.state is PlayState.RUNNING
        if ok:
            m.state, m.anchor, m.stopped_at = PlayState.HELD, m.frame, self.tick
        self._apply(Command(kind=CommandKind.HOLD), ok)

    def _jump(self, frame: int, late: int) -> None:
        m = self.model
        running = m.state is PlayState.RUNNING
        m.frame = m.anchor = frame
        m.counted_to = self.tick - late if running else self.tick
        if not running:
            m.stopped_at = self.tick
        if m.state is PlayState.ENDED:
            m.state = PlayState.HELD

    @rule(data=st.data(), late=st.integers(0, 10))
    def goto(self, data: st.DataObject, late: int) -> None:
        m = self._settle()
        names = [n for n, _, _ in m.cues]
        name = data.draw(st.sampled_from([*names, "no-such-cue"]), label="cue")
        ok = name in names and m.state is not PlayState.LOADED
        if ok:
            self._jump(next(f for n, f, _ in m.cues if n == name), late)
        self._apply(Command(kind=CommandKind.GOTO, args=(name,)), ok, late=late)
        self.model.settle(self.tick)

    @rule(frame=st.integers(-5, 130), late=st.integers(0, 10))
    def seek(self, frame: int, late: int) -> None:
        m = self._settle()
        seconds = frame / FPS
        ok = 0 <= frame <= m.frames and m.state is not PlayState.LOADED
        if ok:
            self._jump(min(frame, m.frames - 1), late)
        if frame >= 0:
            self._apply(Command(kind=CommandKind.SEEK, args=(seconds,)), ok, late=late)
            self.model.settle(self.tick)
        else:
            assert not ok

    @rule(on=st.booleans(), level=st.sampled_from([0.0, 0.25, 1.0]))
    def overrides(self, on: bool, level: float) -> None:
        self._settle()
        self.blackout, self.master = on, level
        self._apply(Command(kind=CommandKind.BLACKOUT, args=(on,)), True)
        self._apply(Command(kind=CommandKind.MASTER, args=(level,)), True)

    @invariant()
    def matches_the_model(self) -> None:
        self.model.settle(self.tick)
        snap = self.pb.snapshot(self.tick)
        m = self.model
        assert (snap.state, snap.frame, snap.version) == (
            m.state,
            min(m.frame, m.frames - 1),
            m.version,
        )
        assert 0 <= snap.frame < m.frames
        assert (snap.blackout, snap.master) == (self.blackout, self.master)
        assert snap.waiting_at == m.waiting_at()
        ended_dark = snap.state is PlayState.ENDED and self.end_action is EndAction.BLACKOUT
        assert self.pb.output_dark(self.tick) is (self.blackout or ended_dark)


PlaybackMachine.TestCase.settings = settings(
    max_examples=min(200, settings().max_examples), stateful_step_count=40, deadline=None
)
test_playback_state_machine = PlaybackMachine.TestCase


def test_adopt_takes_another_playbacks_state_and_anchor() -> None:
    """A venue joining late takes the conductor's RUNNING state anchored in the past and
    shows what the conductor shows now."""
    pb = make()
    result = pb.apply(Command(kind=CommandKind.ADOPT, args=("running", 10, 100)), 130)
    assert result.accepted
    assert (pb.state, pb.frame(130)) == (PlayState.RUNNING, 40)
    pb.apply(Command(kind=CommandKind.ADOPT, args=("held", 50, 120)), 131)
    snap = pb.snapshot(140)
    assert (snap.state, snap.frame, snap.waiting_at) == (PlayState.HELD, 50, "go")
    refused(
        pb.apply(Command(kind=CommandKind.ADOPT, args=("armed", 500, 0)), 141),
        "frame=500 is past the show's last frame",
    )
