"""A venue's bus logic without a broker: timebase, the conductor's state, signed commands."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from controller.protocols import bus
from controller.protocols.signing import Verifier, new_nonce, sign
from controller.runtime.commands import Command, CommandKind
from controller.runtime.content import ShowContent
from controller.runtime.playback import PlaybackSnapshot, PlayState
from controller.runtime.shared_grid import TrustedClockMap
from controller.runtime.venue_core import VenueCore, VenueHealth
from controller.sync.timebase import Timebase
from tests.lockstep.helpers import CONTENT, SHOW

SHARED0 = 1_800_000_000.0
OFFSET = SHARED0 - 1000.0  # shared minus local on the conductor's side of the fake wire
ONE_WAY = 0.02


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def venue(key: Ed25519PrivateKey, **kwargs: Any) -> VenueCore:
    verifier = Verifier(public_keys={"conductor": key.public_key()},
                        acl={"conductor": {k.value for k in CommandKind}})  # fmt: skip
    kwargs.setdefault("content", CONTENT)
    return VenueCore(venue="alpha", show_id=SHOW, verifier=verifier, timebase=Timebase(),
                     **kwargs)  # fmt: skip


def state(**changes: Any) -> bytes:
    fields: dict[str, Any] = {
        "show_id": SHOW, "content_hash": CONTENT.digest, "files": CONTENT.parts,
        "state": "running", "anchor_frame": 100, "anchor_tick": 400, "epoch": SHARED0, "fps": 40,
        "version": 3, "blackout": False, "master": 1.0, "conductor": "conductor",
        "issued_at": SHARED0 + 12.0,
    }  # fmt: skip
    return bus.encode(bus.ShowState(**{**fields, **changes}))


def exchange(core: VenueCore, local: float) -> float:
    """One symmetric exchange on a fake wire; returns the local time it completed."""
    topic, payload = core.time_request(local)
    request = bus.decode(bus.TimeRequest, payload)
    assert topic.endswith("/time/req/alpha")
    t2 = local + ONE_WAY + OFFSET
    response = bus.TimeResponse(seq=request.seq, t1=request.t1, t2=t2, t3=t2 + 0.0001)
    t4 = local + 2 * ONE_WAY + 0.0001
    core.time_response(bus.encode(response), t4)
    return t4


def lock(core: VenueCore, start: float = 1000.0) -> float:
    local = start
    for _ in range(200):
        local = exchange(core, local) + 0.01
    return local


def test_exchanges_lock_the_timebase_and_give_the_grid_its_map(key: Ed25519PrivateKey) -> None:
    core = venue(key)
    core.on_state(state(), 1000.0, None)
    assert core.grid is not None
    assert not core.ready  # a state, but no clock map yet
    local = lock(core)
    assert core.locked(local)
    assert core.ready
    assert core.grid.to_grid(local) == pytest.approx(local + OFFSET, abs=1e-4)
    assert core.grid.deadline(400) == pytest.approx(SHARED0 + 10.0 - OFFSET, abs=1e-4)


def test_a_different_show_names_each_part_that_differs(key: Ed25519PrivateKey) -> None:
    core = venue(key)
    theirs = {**CONTENT.parts, "mini.yaml": "1" * 64, "extra.yaml": "2" * 64}
    core.on_state(state(content_hash="f" * 64, files=theirs), 1000.0, None)
    assert core.mismatch == [
        "extra.yaml: missing here",
        f"mini.yaml: differs (here {'0' * 12}, conductor {'1' * 12})",
    ]
    lock(core)
    assert not core.ready


def test_the_show_may_load_after_the_state_came_and_is_checked_then(
    key: Ed25519PrivateKey,
) -> None:
    """A venue loads its show while the bus connects: the state can come first."""
    core = venue(key, content=None)
    core.on_state(state(), 1000.0, None)
    local = lock(core)
    assert core.locked(local)
    assert not core.ready  # locked, the conductor's state known, but not our show yet
    status = bus.decode(bus.VenueStatus, core.status(local, None)[1])
    assert status.show_hash_ok is None  # unknown, not "differs"
    other = ShowContent(digest="e" * 64, parts={"mini.yaml": "3" * 64})
    core.set_content(other)
    assert core.mismatch == [f"mini.yaml: differs (here {'3' * 12}, conductor {'0' * 12})"]
    assert not core.ready
    core.set_content(CONTENT)
    assert core.mismatch == []
    assert core.ready


def test_a_late_joiner_adopts_the_state_and_its_overrides(key: Ed25519PrivateKey) -> None:
    core = venue(key)
    core.on_state(state(blackout=True, master=0.5), 1000.0, None)
    kinds = [(c.kind, c.args) for c in core.joining_commands()]
    assert kinds == [
        (CommandKind.ADOPT, ("running", 100, 400)),
        (CommandKind.BLACKOUT, (True,)),
        (CommandKind.MASTER, (0.5,)),
    ]


def snapshot(state: PlayState, frame: int, tick: int, anchor: tuple[int, int]) -> PlaybackSnapshot:
    return PlaybackSnapshot(
        state=state, tick=tick, frame=frame, position=frame / 40, anchor_frame=anchor[0],
        anchor_tick=anchor[1], cue=None, next_cue=None, blackout=False, master=1.0,
        waiting_at=None, version=1,
    )  # fmt: skip


def test_a_venue_that_missed_a_command_adopts_the_newer_state(key: Ed25519PrivateKey) -> None:
    core = venue(key)
    submitted: list[Command] = []
    core.submit = submitted.append
    in_step = VenueHealth(snapshot=snapshot(PlayState.RUNNING, 150, 450, (50, 350)),
                          frames_dropped=0, outputs_ok=True)  # fmt: skip
    core.on_state(state(), 1000.0, in_step)  # same line: frame - tick is the same
    assert submitted == []
    behind = VenueHealth(snapshot=snapshot(PlayState.HELD, 120, 450, (120, 420)),
                         frames_dropped=0, outputs_ok=True)  # fmt: skip
    core.on_state(state(version=4), 1000.0, behind)
    assert submitted[0].kind is CommandKind.ADOPT


def test_commands_are_verified_and_a_blackout_executes_at_once(key: Ed25519PrivateKey) -> None:
    core = venue(key)
    submitted: list[Command] = []
    core.submit = submitted.append
    go = Command(kind=CommandKind.GO, id="g", exec_at=SHARED0 + 20.0)
    black = Command(kind=CommandKind.BLACKOUT, args=(True,), id="b", exec_at=SHARED0 + 20.0)
    for command in (go, black):
        envelope = sign(command.as_dict(), "conductor", key, SHARED0 + 19.0, 30.0, new_nonce())
        assert core.on_exec(envelope, SHARED0 + 19.5, 5.0) is not None
    forged = sign(
        go.as_dict(), "conductor", Ed25519PrivateKey.generate(), SHARED0, 30.0, new_nonce()
    )
    assert core.on_exec(forged, SHARED0 + 1.0, 5.0) is None
    assert core.on_exec(b"\xff", SHARED0 + 1.0, 5.0) is None
    assert [(c.kind, c.exec_at) for c in submitted] == [
        (CommandKind.GO, SHARED0 + 20.0),
        (CommandKind.BLACKOUT, None),  # no lead: the next frame
    ]


def test_trusting_the_os_clock_raises_an_alarm_when_the_estimate_disagrees(
    key: Ed25519PrivateKey,
) -> None:
    agrees = venue(key, trust_os_clock=TrustedClockMap(offset_s=OFFSET))
    agrees.on_state(state(), 1000.0, None)
    local = lock(agrees)
    assert agrees.alarm is None
    assert agrees.grid is not None
    assert agrees.grid.clock_map == TrustedClockMap(offset_s=OFFSET)
    off = venue(key, trust_os_clock=TrustedClockMap(offset_s=OFFSET + 0.03))
    off.on_state(state(), 1000.0, None)
    lock(off, local)
    assert off.alarm == "the OS clock and the bus estimate disagree by 30.0 ms"


def test_status_reports_the_timebase_and_the_show(key: Ed25519PrivateKey) -> None:
    core = venue(key)
    core.on_state(state(), 1000.0, None)
    local = lock(core)
    topic, payload = core.status(local, None, join_s=0.4)
    status = bus.decode(bus.VenueStatus, payload)
    assert topic.endswith("/status/alpha")
    assert (status.timebase_state, status.show_hash_ok, status.join_s) == ("locked", True, 0.4)
    assert status.rtt_ms == pytest.approx(2 * ONE_WAY * 1e3, abs=0.5)


def test_an_older_state_is_ignored_and_a_new_timeline_replaces_the_grid(
    key: Ed25519PrivateKey,
) -> None:
    core = venue(key)
    core.submit = lambda command: None
    core.on_state(state(version=5), 1000.0, None)
    first = core.grid
    core.on_state(state(version=4, state="held"), 1000.0, None)  # delivered late
    assert core.state is not None
    assert (core.state.version, core.state.state, core.grid) == (5, "running", first)
    # a conductor that restarted without finding this state starts a new timeline: its
    # versions start again, but its epoch is later, and the venue joins the new grid
    core.on_state(state(version=1, epoch=SHARED0 + 600.0, state="armed"), 1000.0, None)
    assert core.state.state == "armed"
    assert core.grid is not first
    assert core.grid is not None
    assert core.grid.epoch == SHARED0 + 600.0
    assert core.submit is None  # the node ends the session and joins anew
