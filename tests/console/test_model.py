"""The console's live model: the show clock from the retained state, venue rows, command fates."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from controller.console.model import ANSWER_S, LiveModel
from controller.console.show_view import ShowView
from controller.protocols import bus
from controller.render.effects import default_registry
from controller.runtime.commands import Command, CommandKind
from controller.show.load import load_show

ROOT = Path(__file__).resolve().parents[2]
TRIO = ROOT / "tests" / "data" / "lockstep" / "trio.yaml"
EPOCH = 1_800_000_000.0
T = bus.Topics("trio")


@pytest.fixture(scope="module")
def view() -> ShowView:
    return ShowView.of(load_show(TRIO, default_registry()))


def state(**fields: object) -> bytes:
    base = bus.ShowState(
        show_id="trio", content_hash="a" * 64, files={}, state="running", anchor_frame=0,
        anchor_tick=400, epoch=EPOCH, fps=40, version=3, blackout=False, master=1.0,
        conductor="main", issued_at=EPOCH + 10.0,
    ).model_dump()  # fmt: skip
    base.update(fields)
    return bus.encode(bus.ShowState.model_validate(base))


def test_the_view_knows_cues_venues_and_every_twin(view: ShowView) -> None:
    assert view.venues == ("alpha", "beta", "gamma")
    assert [c[0] for c in view.cues] == ["start", "wait", "later"]
    twin = view.twins["alpha"]
    assert twin["cells"] == 206
    assert len(twin["xy"]) == 2 * 206
    assert twin["buildings"]
    assert view.describe()["twins"][0]["venue"] == "alpha"


def test_the_clock_plays_the_state_forward_and_counts_down_to_the_next_cue(view: ShowView) -> None:
    model = LiveModel(view)
    assert model.on_message(T, T.state, state(), EPOCH) == "state"
    clock = model.snapshot(EPOCH + 10.0 + 12.5)["clock"]  # GO at tick 400 = 10 s
    assert clock["state"] == "running"
    assert clock["position_s"] == pytest.approx(12.5, abs=0.03)
    assert (clock["cue"], clock["next_cue"]) == ("start", "wait")
    assert clock["next_cue_in_s"] == pytest.approx(100.0 - 12.5, abs=0.03)
    held = model.snapshot(EPOCH + 10.0 + 104.0)["clock"]  # the conductor would hold too
    assert (held["state"], held["waiting_at"], held["next_cue_in_s"]) == ("held", "wait", None)


def test_a_venue_row_shows_its_status_and_a_frame_skew_of_zero_in_lockstep(view: ShowView) -> None:
    model = LiveModel(view)
    model.on_message(T, T.state, state(), EPOCH)
    at = EPOCH + 10.0 + 5.0 + 0.01  # between two ticks: the venue has prepared the next one
    due_next = round(5.0 * 40) + 1
    status = bus.VenueStatus(venue="beta", online=True, timebase_state="locked",
                             error_bound_ms=0.4, rtt_ms=60.0, frame=due_next,
                             show_hash_ok=True, outputs_ok=True, updated_at=at)  # fmt: skip
    assert model.on_message(T, T.status("beta"), bus.encode(status), at) == "status"
    rows = {r["venue"]: r for r in model.snapshot(at + 0.2)["venues"]}
    assert rows["beta"]["frame_skew"] == 0
    assert rows["beta"]["rtt_ms"] == 60.0
    assert rows["beta"]["stale"] is False
    assert rows["alpha"]["online"] is None
    assert {r["venue"] for r in model.snapshot(at)["venues"]} == {"alpha", "beta", "gamma"}
    late = bus.VenueStatus(venue="beta", online=True, frame=due_next + 3, updated_at=at)
    model.on_message(T, T.status("beta"), bus.encode(late), at)
    stale = {r["venue"]: r for r in model.snapshot(at + 10.0)["venues"]}["beta"]
    assert (stale["frame_skew"], stale["stale"]) == (3, True)


def test_bad_messages_are_dropped_with_the_reason(view: ShowView) -> None:
    model = LiveModel(view)
    status = bus.encode(bus.VenueStatus(venue="alpha", online=True))
    assert model.on_message(T, T.status("beta"), status, EPOCH) is None  # names another venue
    look = bus.Look(venue="alpha", tick=1, frame=1, cells=1, light="AAAA")
    assert model.on_message(T, T.look("alpha"), bus.encode(look), EPOCH) is None
    assert model.on_message(T, T.state, b"{", EPOCH) is None
    assert len(model.dropped) == 3
    assert "the show's layout has 206" in model.dropped[1]


def test_a_look_of_the_right_layout_is_kept(view: ShowView) -> None:
    model = LiveModel(view)
    light = base64.b64encode(bytes(3 * 206)).decode()
    look = bus.Look(venue="gamma", tick=5, frame=2, cells=206, light=light)
    assert model.on_message(T, T.look("gamma"), bus.encode(look), EPOCH) == "look"
    assert model.looks["gamma"] == look
    assert model.look_counts["gamma"] == 1


def test_a_commands_fate_follows_the_verdict_and_the_clock(view: ShowView) -> None:
    model = LiveModel(view)
    go = Command(kind=CommandKind.GO, id="op-1", origin="console:ada")
    blackout = Command(kind=CommandKind.BLACKOUT, args=(True,), id="op-2", origin="console:ada")
    lost = Command(kind=CommandKind.HOLD, id="op-3", origin="console:ada")
    for command in (go, blackout, lost):
        model.sent(command, "ada", EPOCH)
    accept = bus.CommandResult(id="op-1", accepted=True, exec_at=EPOCH + 0.2)
    refuse = bus.CommandResult(id="op-2", accepted=False, reason="forged: nope")
    for result in (accept, refuse):
        model.on_message(T, T.cmd_result, bus.encode(result), EPOCH + 0.05)
    fates = {c["id"]: c for c in model.snapshot(EPOCH + 0.1)["commands"]}
    assert (fates["op-1"]["fate"], fates["op-1"]["exec_at"]) == ("accepted", EPOCH + 0.2)
    assert (fates["op-2"]["fate"], fates["op-2"]["reason"]) == ("rejected", "forged: nope")
    assert fates["op-2"]["text"] == "BLACKOUT ON"
    assert fates["op-3"]["fate"] == "sent"
    later = {c["id"]: c["fate"] for c in model.snapshot(EPOCH + ANSWER_S + 1)["commands"]}
    assert later == {"op-1": "executed", "op-2": "rejected", "op-3": "no answer"}
