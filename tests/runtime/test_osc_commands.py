"""Operator commands over OSC drive the playback through the engine; bad ones are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.protocols import osc
from controller.runtime.engine import Engine
from controller.runtime.job import load_venue
from controller.runtime.osc_commands import OscCommands
from controller.runtime.playback import Playback, PlayState

MINI = Path(__file__).parents[1] / "data" / "venue" / "shows" / "mini.yaml"


@pytest.fixture
def commands() -> OscCommands:
    job = load_venue(MINI, "mini")
    cues = [(c.name, c.t, c.hold) for c in job.plan.cues]
    playback = Playback(duration=job.plan.duration, cues=cues)
    playback.arm(0.0)
    engine = Engine(plan=job.plan, patch=job.patch, playback=playback, outputs=[])
    return OscCommands(engine=engine, venue="mini", now=lambda: 1.0)


def msg(address: str, *args: osc.OscArg) -> osc.Message:
    return osc.Message(address=address, args=args)


def test_go_hold_goto_blackout_master(commands: OscCommands) -> None:
    pb = commands.engine.playback
    commands(msg("/citypulse/go"))
    assert pb.state is PlayState.RUNNING
    commands(msg("/citypulse/mini/hold"))
    assert pb.state is PlayState.HELD
    commands(msg("/citypulse/goto", "later"))
    assert pb.position(1.0) == 10.0
    commands(msg("/citypulse/blackout", 1))
    assert pb.blackout
    commands(msg("/citypulse/blackout", 0))
    assert not pb.blackout
    commands(msg("/citypulse/master", 0.25))
    assert pb.master == 0.25
    assert commands.accepted == 6


@pytest.mark.parametrize(
    ("message", "counter", "text"),
    [
        pytest.param(msg("/other/go"), "ignored", "not a /citypulse address", id="foreign-root"),
        pytest.param(msg("/citypulse/lhasa/go"), "ignored", "for venue 'lhasa'", id="other-venue"),
        pytest.param(msg("/citypulse/dance"), "refused", "unknown command 'dance'", id="unknown"),
        pytest.param(msg("/citypulse/goto", 3), "refused", "goto needs one string", id="goto-int"),
        pytest.param(
            msg("/citypulse/master", "x"), "refused", "master needs one number", id="master"
        ),
        pytest.param(msg("/citypulse/goto", "nope"), "refused", "unknown cue 'nope'", id="no-cue"),
        pytest.param(msg("/citypulse/master", 2.0), "refused", "out of range 0..1", id="range"),
    ],
)
def test_bad_commands_are_refused_and_change_nothing(
    commands: OscCommands, message: osc.Message, counter: str, text: str
) -> None:
    before = commands.engine.playback.snapshot(1.0)
    commands(message)
    assert getattr(commands, counter) == 1
    assert text in commands.last
    assert commands.engine.playback.snapshot(1.0) == before
