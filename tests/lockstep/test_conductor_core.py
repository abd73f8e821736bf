"""The conductor's logic without a broker: verdicts, fan-out, the grid, the retained state."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from controller.protocols import bus
from controller.protocols.signing import Verifier, sign
from controller.runtime.commands import Command, CommandKind
from controller.runtime.conductor_core import LEAD_MIN_S, ConductorCore, Publish
from tests.lockstep.helpers import OPERATOR_KINDS, SHOW, show_info

EPOCH = 1_800_000_000.0
NOW = EPOCH + 10.0  # tick 400 at 40 fps


class Audit:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, event: str, **fields: Any) -> None:
        self.events.append((event, fields))


@pytest.fixture
def keys() -> tuple[Ed25519PrivateKey, Ed25519PrivateKey, Ed25519PrivateKey]:
    return Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()


def conductor(
    keys: tuple[Ed25519PrivateKey, ...], audit: Audit, venues: tuple[str, ...] = ()
) -> ConductorCore:
    operator, conductor_key, _ = keys
    verifier = Verifier(
        public_keys={"operator": operator.public_key()}, acl={"operator": OPERATOR_KINDS}
    )
    return ConductorCore(
        show=show_info(), node="beijing-main", issuer="conductor", sign_key=conductor_key,
        verifier=verifier, epoch=EPOCH, venues=venues, audit=audit,
    )  # fmt: skip


def signed(
    key: Ed25519PrivateKey, command: Command, at: float = NOW, nonce: str = "a" * 32
) -> bytes:
    return sign(command.as_dict(), "operator", key, at, 30.0, nonce)


def exec_of(publishes: list[Publish]) -> dict[str, Any]:
    (envelope,) = [p for p in publishes if p.topic.endswith("cmd/exec")]
    data: dict[str, Any] = json.loads(envelope.payload)
    return data


def result_of(publishes: list[Publish]) -> bus.CommandResult:
    (result,) = [p for p in publishes if p.topic.endswith("cmd/result")]
    return bus.decode(bus.CommandResult, result.payload)


def test_an_accepted_go_is_fanned_out_signed_with_a_lead_and_executes_on_its_tick(
    keys: tuple[Ed25519PrivateKey, ...],
) -> None:
    audit = Audit()
    core = conductor(keys, audit)
    core.submit(signed(keys[0], Command(kind=CommandKind.ARM, id="arm-1")), NOW)
    core.advance(NOW + 0.2)
    out = core.submit(
        signed(keys[0], Command(kind=CommandKind.GO, id="go-1"), nonce="b" * 32), NOW + 0.2
    )
    result = result_of(out)
    assert result.accepted
    assert result.exec_at == pytest.approx(NOW + 0.2 + LEAD_MIN_S)
    envelope = exec_of(out)
    assert envelope["issuer"] == "conductor"
    assert envelope["command"]["kind"] == "go"
    assert envelope["command"]["exec_at"] == result.exec_at
    # the venues trust the conductor's key: the fan-out verifies with it
    venue_side = Verifier(public_keys={"conductor": keys[1].public_key()},
                          acl={"conductor": {k.value for k in CommandKind}})  # fmt: skip
    assert venue_side.verify(out[0].payload, NOW + 0.2).command_id == "go-1"
    states = core.advance(NOW + 1.0)
    (state,) = [bus.decode(bus.ShowState, p.payload) for p in states]
    go_tick = core.tick_for(result.exec_at or 0.0)
    assert (state.state, state.anchor_frame, state.anchor_tick) == ("running", 0, go_tick)
    assert [e for e, _ in audit.events] == [
        "received",
        "accepted",
        "executed",
        "received",
        "accepted",
        "executed",
    ]


@pytest.mark.parametrize("attack", ["forged", "replayed", "expired"])
def test_forged_replayed_and_expired_commands_are_rejected_and_audited(
    keys: tuple[Ed25519PrivateKey, ...], attack: str
) -> None:
    audit = Audit()
    core = conductor(keys, audit)
    good = signed(keys[0], Command(kind=CommandKind.ARM, id="arm-1"))
    if attack == "forged":
        payload = signed(keys[2], Command(kind=CommandKind.ARM, id="arm-1"))
    elif attack == "replayed":
        assert result_of(core.submit(good, NOW)).accepted
        payload = good
    else:
        payload = signed(keys[0], Command(kind=CommandKind.ARM, id="arm-1"), at=NOW - 60)
    out = core.submit(payload, NOW + 0.01)
    assert [p.topic.rsplit("/", 1)[-1] for p in out] == ["result"]
    result = result_of(out)
    assert not result.accepted
    assert result.reason is not None
    assert result.reason.startswith(attack)
    event, fields = audit.events[-1]
    assert (event, fields["reason"]) == ("rejected", attack)


def test_a_start_is_refused_while_a_venue_is_offline_unless_forced(
    keys: tuple[Ed25519PrivateKey, ...],
) -> None:
    core = conductor(keys, Audit(), venues=("lhasa",))
    core.venue_status("lhasa", bus.encode(bus.VenueStatus(venue="lhasa", online=False)))
    refused = result_of(core.submit(signed(keys[0], Command(kind=CommandKind.ARM, id="a")), NOW))
    assert not refused.accepted
    assert refused.reason == "new start refused: venue 'lhasa' is offline (force it with --force)"
    forced = Command(kind=CommandKind.ARM, id="b", force=True)
    assert result_of(core.submit(signed(keys[0], forced, nonce="c" * 32), NOW)).accepted


def test_a_command_the_playback_would_refuse_is_refused_with_its_reason(
    keys: tuple[Ed25519PrivateKey, ...],
) -> None:
    core = conductor(keys, Audit())
    result = result_of(
        core.submit(signed(keys[0], Command(kind=CommandKind.GOTO, args=("nope",), id="g")), NOW)
    )
    assert not result.accepted
    assert result.reason == "unknown cue 'nope' (cues: start, go, later)"


def test_blackout_executes_at_once_and_an_early_exec_at_is_refused(
    keys: tuple[Ed25519PrivateKey, ...],
) -> None:
    core = conductor(keys, Audit())
    out = core.submit(
        signed(keys[0], Command(kind=CommandKind.BLACKOUT, args=(True,), id="b")), NOW
    )
    assert result_of(out).exec_at == NOW
    soon = Command(kind=CommandKind.ARM, id="s", exec_at=NOW + 0.01)
    result = result_of(core.submit(signed(keys[0], soon, nonce="d" * 32), NOW))
    assert not result.accepted
    assert result.reason is not None
    assert "need at least 0.100 s" in result.reason


def test_the_time_service_echoes_t1_and_refuses_a_request_naming_another_node(
    keys: tuple[Ed25519PrivateKey, ...],
) -> None:
    core = conductor(keys, Audit())
    request = bus.encode(bus.TimeRequest(node="lhasa", seq=7, t1=12.5))
    answer = core.time_response("lhasa", request, NOW)
    assert answer is not None
    topic, parsed = answer
    assert topic == f"citypulse/v1/{SHOW}/time/resp/lhasa"
    assert (parsed.seq, parsed.t1) == (7, 12.5)
    assert core.time_response("singapore", request, NOW) is None
    assert core.time_response("lhasa", b"{", NOW) is None


def test_a_restarted_or_standby_conductor_continues_the_retained_state(
    keys: tuple[Ed25519PrivateKey, ...],
) -> None:
    first = conductor(keys, Audit())
    first.submit(signed(keys[0], Command(kind=CommandKind.ARM, id="a")), NOW)
    first.submit(
        signed(keys[0], Command(kind=CommandKind.GO, id="g", exec_at=NOW + 1), nonce="e" * 32), NOW
    )
    first.advance(NOW + 3.0)
    retained = first.state(NOW + 3.0)
    second = conductor(keys, Audit())
    second.adopt(retained)
    assert second.state(NOW + 5.0).model_dump(exclude={"issued_at"}) == first.state(
        NOW + 5.0
    ).model_dump(exclude={"issued_at"})
