"""Operator commands over OSC: what each command accepts, and what reaches the playback."""

from __future__ import annotations

import logging

import pytest

from controller.protocols import osc
from controller.runtime.commands import Command, CommandKind
from controller.runtime.engine import Engine
from controller.runtime.grid import LocalGrid
from controller.runtime.job import VenueJob
from controller.runtime.osc_commands import OscCommands, ParsedCommand, parse_osc_command
from controller.runtime.playback import Playback, PlaybackSnapshot, PlayState


@pytest.fixture
def engine(mini: VenueJob) -> Engine:
    plan = mini.plan
    cues = [(c.name, c.t, c.hold) for c in plan.cues]
    playback = Playback(fps=plan.fps, frame_count=plan.frame_count, cues=cues)
    engine = Engine(
        plan=plan,
        patch=mini.patch,
        playback=playback,
        outputs=[],
        grid=LocalGrid(epoch=0.0, fps=40),
    )
    engine.submit(Command(kind=CommandKind.ARM))
    engine.tick(0)
    return engine


@pytest.fixture
def commands(engine: Engine) -> OscCommands:
    return OscCommands(submit=engine.submit, venue="mini", to_grid=lambda local: local)


def msg(address: str, *args: osc.OscArg, tags: str = "") -> osc.Message:
    return osc.Message(address=address, args=args, type_tags=tags)


def test_go_hold_resume_goto_blackout_master(commands: OscCommands, engine: Engine) -> None:
    tick = iter(range(1, 100))

    def after(address: str, *args: osc.OscArg) -> PlaybackSnapshot:
        commands(msg(address, *args), None)
        engine.tick(next(tick))
        return engine.snapshot()

    assert after("/citypulse/go").state is PlayState.RUNNING
    assert after("/citypulse/mini/hold").state is PlayState.HELD
    assert after("/citypulse/resume").state is PlayState.RUNNING
    assert after("/citypulse/goto", "later").position == 10.0
    assert after("/citypulse/blackout", 1).blackout
    assert not after("/citypulse/blackout", 0.0).blackout
    assert after("/citypulse/blackout").blackout  # no argument: on
    assert not after("/citypulse/blackout", False).blackout
    assert after("/citypulse/master", 0.25).master == 0.25
    assert (commands.submitted, commands.refused, commands.ignored) == (9, 0, 0)
    assert all(o.accepted and o.command.origin == "osc" for o in engine.outcomes()[1:])


def test_go_in_a_bundle_starts_the_show_at_the_bundle_timetag(
    commands: OscCommands, engine: Engine
) -> None:
    """A GO timetagged 0.0 s that executes on the frame due at 1.0 s plays as if it had
    started at 0.0 s: the venue that heard it late is where the others are."""
    commands(msg("/citypulse/go"), 0.0)
    engine.tick(40)
    assert engine.snapshot().position == 1.0


def test_resume_only_resumes(commands: OscCommands, engine: Engine) -> None:
    """RESUME from ARMED is refused: it must not start a show that was never started."""
    commands(msg("/citypulse/resume"), None)
    engine.tick(1)
    assert engine.snapshot().state is PlayState.ARMED
    outcome = engine.outcomes()[-1]
    assert (outcome.accepted, outcome.message) == (
        False,
        "cannot RESUME while armed; only when held",
    )


def test_a_cue_the_show_does_not_have_is_refused_by_the_playback(
    commands: OscCommands, engine: Engine
) -> None:
    commands(msg("/citypulse/goto", "nope"), None)
    engine.tick(1)
    outcome = engine.outcomes()[-1]
    assert not outcome.accepted
    assert "unknown cue 'nope'" in outcome.message


@pytest.mark.parametrize(
    ("message", "counter", "text"),
    [
        pytest.param(msg("/other/go"), "ignored", "not under /citypulse", id="foreign-root"),
        pytest.param(msg("/citypulse/lhasa/go"), "ignored", "for venue 'lhasa'", id="other-venue"),
        pytest.param(msg("/citypulse/dance"), "refused", "unknown command 'dance'", id="unknown"),
        pytest.param(msg("/citypulse/blackout", "0"), "refused", "got ,s '0'", id="blackout-str"),
        pytest.param(msg("/citypulse/blackout", "1"), "refused", "got ,s '1'", id="blackout-s1"),
        pytest.param(msg("/citypulse/blackout", 2), "refused", "got ,i 2", id="blackout-2"),
        pytest.param(msg("/citypulse/blackout", 0.5), "refused", "got ,f 0.5", id="blackout-.5"),
        pytest.param(msg("/citypulse/blackout", None), "refused", "got ,N None", id="blackout-N"),
        pytest.param(msg("/citypulse/blackout", 1, 1), "refused", "got ,ii 1, 1", id="two-args"),
        pytest.param(msg("/citypulse/go", 1), "refused", "go takes no arguments", id="go-arg"),
        pytest.param(msg("/citypulse/hold", "x"), "refused", "hold takes no", id="hold-arg"),
        pytest.param(msg("/citypulse/goto", 3), "refused", "goto takes one string", id="goto-int"),
        pytest.param(msg("/citypulse/goto", ""), "refused", "got ,s ''", id="goto-empty"),
        pytest.param(msg("/citypulse/master", "x"), "refused", "master takes one", id="master"),
        pytest.param(msg("/citypulse/master", True), "refused", "got ,T True", id="master-T"),
        pytest.param(msg("/citypulse/master", 2.0), "refused", "got ,f 2.0", id="range"),
        pytest.param(msg("/citypulse/master", float("nan")), "refused", "got ,f nan", id="nan"),
    ],
)
def test_bad_commands_are_refused_and_change_nothing(
    commands: OscCommands, engine: Engine, message: osc.Message, counter: str, text: str
) -> None:
    before = engine.snapshot()
    commands(message, None)
    engine.tick(1)
    assert getattr(commands, counter) == 1
    assert commands.submitted == 0
    assert text in commands.last
    after = engine.snapshot()
    assert (after.state, after.frame, after.blackout, after.master, after.version) == (
        before.state,
        before.frame,
        before.blackout,
        before.master,
        before.version,
    )


def test_a_refusal_is_logged_with_its_address_and_reason(
    commands: OscCommands, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="citypulse.osc")
    commands(msg("/citypulse/blackout", "0"), None)
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        (
            "WARNING",
            "osc /citypulse/blackout refused: " + BLACKOUT + ", got ,s '0'",
        )
    ]


# -- parse_osc_command: the grammar, exactly --------------------------------------------------

ACCEPTED = [
    (msg("/citypulse/go"), ParsedCommand(verb="go")),
    (msg("/citypulse/hold"), ParsedCommand(verb="hold")),
    (msg("/citypulse/resume"), ParsedCommand(verb="resume")),
    (msg("/citypulse/beijing/go"), ParsedCommand(verb="go", venue="beijing")),
    (msg("/citypulse/blackout"), ParsedCommand(verb="blackout", value=True)),
    (msg("/citypulse/blackout", 1), ParsedCommand(verb="blackout", value=True)),
    (msg("/citypulse/blackout", 0), ParsedCommand(verb="blackout", value=False)),
    (msg("/citypulse/blackout", 1.0), ParsedCommand(verb="blackout", value=True)),
    (msg("/citypulse/blackout", 0.0, tags="d"), ParsedCommand(verb="blackout", value=False)),
    (msg("/citypulse/blackout", 1, tags="h"), ParsedCommand(verb="blackout", value=True)),
    (msg("/citypulse/blackout", True), ParsedCommand(verb="blackout", value=True)),
    (msg("/citypulse/blackout", False), ParsedCommand(verb="blackout", value=False)),
    (msg("/citypulse/master", 0.5), ParsedCommand(verb="master", value=0.5)),
    (msg("/citypulse/master", 1), ParsedCommand(verb="master", value=1.0)),
    (msg("/citypulse/master", 0, tags="h"), ParsedCommand(verb="master", value=0.0)),
    (msg("/citypulse/master", -0.0), ParsedCommand(verb="master", value=0.0)),
    (msg("/citypulse/master", 0.25, tags="d"), ParsedCommand(verb="master", value=0.25)),
    (msg("/citypulse/goto", "finale"), ParsedCommand(verb="goto", value="finale")),
]


@pytest.mark.parametrize(("message", "parsed"), ACCEPTED, ids=lambda x: getattr(x, "address", ""))
def test_parse_accepts(message: osc.Message, parsed: ParsedCommand) -> None:
    got = parse_osc_command(message)
    assert got == parsed
    assert type(got) is ParsedCommand
    assert type(got.value) is type(parsed.value)


BLACKOUT = "blackout takes no argument (on) or one 0/1 as i, h, f, d, T or F"
MASTER = "master takes one number 0..1 as i, h, f or d"
GOTO = "goto takes one string (the cue name)"
WANT = "(want /citypulse/COMMAND or /citypulse/VENUE/COMMAND)"
REFUSED = [
    (msg("/other/go"), "/other/go is not under /citypulse"),
    (msg("/citypulsex/go"), "/citypulsex/go is not under /citypulse"),
    (msg("/citypulse"), f"unknown address /citypulse {WANT}"),
    (msg("/citypulse/a/b/go"), f"unknown address /citypulse/a/b/go {WANT}"),
    (msg("/citypulse//go"), f"unknown address /citypulse//go {WANT}"),
    (msg("/citypulse/go/"), f"unknown address /citypulse/go/ {WANT}"),
    (msg("/citypulse/dance"), "unknown command 'dance' (blackout, go, goto, hold, master, resume)"),
    (msg("/citypulse/GO"), "unknown command 'GO' (blackout, go, goto, hold, master, resume)"),
    (msg("/citypulse/go", 1), "go takes no arguments, got ,i 1"),
    (msg("/citypulse/hold", 0.0), "hold takes no arguments, got ,f 0.0"),
    (msg("/citypulse/resume", None), "resume takes no arguments, got ,N None"),
    (msg("/citypulse/blackout", "0"), f"{BLACKOUT}, got ,s '0'"),
    (msg("/citypulse/blackout", "on"), f"{BLACKOUT}, got ,s 'on'"),
    (msg("/citypulse/blackout", -1), f"{BLACKOUT}, got ,i -1"),
    (msg("/citypulse/blackout", 0.999), f"{BLACKOUT}, got ,f 0.9990000128746033"),
    (msg("/citypulse/blackout", float("nan")), f"{BLACKOUT}, got ,f nan"),
    (msg("/citypulse/blackout", b"\x01"), f"{BLACKOUT}, got ,b <1-byte blob>"),
    (msg("/citypulse/blackout", 0, 1), f"{BLACKOUT}, got ,ii 0, 1"),
    (msg("/citypulse/master"), f"{MASTER}, got no arguments"),
    (msg("/citypulse/master", "0.5"), f"{MASTER}, got ,s '0.5'"),
    (msg("/citypulse/master", False), f"{MASTER}, got ,F False"),
    (msg("/citypulse/master", 1.5), f"{MASTER}, got ,f 1.5"),
    (msg("/citypulse/master", -1), f"{MASTER}, got ,i -1"),
    (msg("/citypulse/master", float("inf")), f"{MASTER}, got ,f inf"),
    (msg("/citypulse/master", 0.5, 0.5), f"{MASTER}, got ,ff 0.5, 0.5"),
    (msg("/citypulse/goto"), f"{GOTO}, got no arguments"),
    (msg("/citypulse/goto", 1), f"{GOTO}, got ,i 1"),
    (msg("/citypulse/goto", ""), f"{GOTO}, got ,s ''"),
    (msg("/citypulse/goto", "a", "b"), f"{GOTO}, got ,ss 'a', 'b'"),
    (msg("/citypulse/goto", bytes(512)), f"{GOTO}, got ,b <512-byte blob>"),
    (msg("/citypulse/goto", 1, "x" * 50), f"{GOTO}, got ,is 1, '{'x' * 36}..."),
]


@pytest.mark.parametrize(("message", "reason"), REFUSED, ids=lambda x: getattr(x, "address", ""))
def test_parse_refuses_with_an_exact_reason(message: osc.Message, reason: str) -> None:
    assert parse_osc_command(message) == reason


def test_parse_takes_another_prefix() -> None:
    assert parse_osc_command(msg("/show/a/go"), prefix="/show") == ParsedCommand(
        verb="go", venue="a"
    )
    assert parse_osc_command(msg("/a/b/hold"), prefix="/a/b") == ParsedCommand(verb="hold")
