"""Bus payloads and topic names: golden bytes, round trips, hostile payloads with exact reasons."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from controller.errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from controller.protocols import bus
from controller.protocols.bus import (
    MAX_PAYLOAD,
    BusModel,
    BusPayloadError,
    CommandResult,
    ConductorPresence,
    ShowState,
    TimeRequest,
    TimeResponse,
    VenueStatus,
    decode,
    encode,
)
from controller.protocols.bus_topics import TopicKind, TopicNameError, TopicRef, Topics

HASH_A = "a" * 64
HASH_B = "0123456789abcdef" * 4
STATE = ShowState(
    show_id="digital-night",
    content_hash=HASH_A,
    files={"show.yaml": HASH_B},
    state="running",
    anchor_frame=120,
    anchor_tick=-3,
    epoch=1_760_000_000.25,
    fps=40,
    version=7,
    blackout=False,
    master=0.5,
    conductor="beijing",
    issued_at=1_760_000_001.5,
)

GOLDEN = [
    pytest.param(
        TimeRequest(node="lhasa", seq=7, t1=12.5),
        b'{"v":1,"node":"lhasa","seq":7,"t1":12.5}',
        id="time-request",
    ),
    pytest.param(
        TimeResponse(seq=7, t1=12.5, t2=1_760_000_000.125, t3=1_760_000_000.25),
        b'{"v":1,"seq":7,"t1":12.5,"t2":1760000000.125,"t3":1760000000.25}',
        id="time-response",
    ),
    pytest.param(
        STATE,
        b'{"v":1,"show_id":"digital-night","content_hash":"' + HASH_A.encode() + b'",'
        b'"files":{"show.yaml":"' + HASH_B.encode() + b'"},"state":"running",'
        b'"anchor_frame":120,"anchor_tick":-3,"epoch":1760000000.25,"fps":40,"version":7,'
        b'"blackout":false,"master":0.5,"conductor":"beijing","issued_at":1760000001.5}',
        id="show-state",
    ),
    pytest.param(
        VenueStatus.offline("lhasa"),
        b'{"v":1,"venue":"lhasa","online":false,"frames_dropped":0}',
        id="venue-status-will",
    ),
    pytest.param(
        VenueStatus(
            venue="singapore",
            online=True,
            timebase_state="locked",
            error_bound_ms=0.4,
            rtt_ms=101.5,
            offset_ms=-499.75,
            position_s=12.25,
            frame=490,
            frames_dropped=0,
            show_hash_ok=True,
            outputs_ok=True,
            updated_at=1_760_000_002.0,
        ),
        b'{"v":1,"venue":"singapore","online":true,"timebase_state":"locked",'
        b'"error_bound_ms":0.4,"rtt_ms":101.5,"offset_ms":-499.75,"position_s":12.25,'
        b'"frame":490,"frames_dropped":0,"show_hash_ok":true,"outputs_ok":true,'
        b'"updated_at":1760000002.0}',
        id="venue-status",
    ),
    pytest.param(
        ConductorPresence(conductor="beijing", online=True, since=1_760_000_000.0),
        b'{"v":1,"conductor":"beijing","online":true,"standby":false,"since":1760000000.0}',
        id="conductor-presence",
    ),
    pytest.param(
        CommandResult(id="op-1", accepted=False, reason="replayed nonce"),
        b'{"v":1,"id":"op-1","accepted":false,"reason":"replayed nonce"}',
        id="command-result",
    ),
]


@pytest.mark.parametrize(("message", "golden"), GOLDEN)
def test_encode_matches_golden_bytes(message: BusModel, golden: bytes) -> None:
    assert encode(message) == golden


@pytest.mark.parametrize(("message", "golden"), GOLDEN)
def test_decode_golden_bytes(message: BusModel, golden: bytes) -> None:
    assert decode(type(message), golden) == message


@pytest.mark.parametrize(("message", "golden"), GOLDEN)
def test_stdlib_json_reads_what_we_encode(message: BusModel, golden: bytes) -> None:
    # Independent reader: the standard library, with the values compared field by field.
    assert json.loads(encode(message)) == message.model_dump(exclude_none=True)
    assert json.loads(golden)["v"] == 1


finite = st.floats(allow_nan=False, allow_infinity=False)
names = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp")),
    min_size=1,
    max_size=20,
).filter(lambda s: not set(s) & set("/+#") and s == s.strip())
counts = st.integers(0, 2**53)


@given(node=names, seq=counts, t1=finite)
def test_time_request_round_trips(node: str, seq: int, t1: float) -> None:
    message = TimeRequest(node=node, seq=seq, t1=t1)
    assert decode(TimeRequest, encode(message)) == message


@given(seq=counts, t1=finite, t2=finite, t3=finite)
def test_time_response_round_trips(seq: int, t1: float, t2: float, t3: float) -> None:
    message = TimeResponse(seq=seq, t1=t1, t2=t2, t3=t3)
    assert decode(TimeResponse, encode(message)) == message


@given(
    venue=names,
    online=st.booleans(),
    state=st.none() | st.sampled_from(["free", "locked", "holdover"]),
    bound=st.none() | st.floats(0, 1e6),
    offset=st.none() | finite,
    frame=st.none() | counts,
    hash_ok=st.none() | st.booleans(),
    updated=st.none() | finite,
)
def test_venue_status_round_trips(
    venue: str,
    online: bool,
    state: bus.TimebaseStateName | None,
    bound: float | None,
    offset: float | None,
    frame: int | None,
    hash_ok: bool | None,
    updated: float | None,
) -> None:
    message = VenueStatus(
        venue=venue,
        online=online,
        timebase_state=state,
        error_bound_ms=bound,
        offset_ms=offset,
        frame=frame,
        show_hash_ok=hash_ok,
        updated_at=updated,
    )
    assert decode(VenueStatus, encode(message)) == message


@given(
    files=st.dictionaries(st.text(min_size=1, max_size=40), st.just(HASH_B), max_size=5),
    epoch=finite,
    tick=st.integers(-(2**53), 2**53),
    master=st.floats(0, 1),
)
def test_show_state_round_trips(
    files: dict[str, str], epoch: float, tick: int, master: float
) -> None:
    message = STATE.model_copy(
        update={"files": files, "epoch": epoch, "anchor_tick": tick, "master": master}
    )
    message = ShowState.model_validate(message.model_dump())  # re-validated copy
    assert decode(ShowState, encode(message)) == message


def _request(**fields: object) -> bytes:
    body = {"v": 1, "node": "lhasa", "seq": 1, "t1": 2.5} | fields
    return json.dumps(body).encode()


HOSTILE = [
    pytest.param(b"", "empty payload (a cleared retained message)", id="empty"),
    pytest.param(
        b" " * (MAX_PAYLOAD + 1),
        f"payload of {MAX_PAYLOAD + 1} bytes over the {MAX_PAYLOAD}-byte limit",
        id="oversize",
    ),
    pytest.param(b'{"v":1,"node":"\xff"}', "not UTF-8 (byte 15)", id="not-utf8"),
    pytest.param(
        b'{"v":1,',
        "not JSON: expecting property name enclosed in double quotes at line 1 column 8",
        id="truncated-json",
    ),
    pytest.param(b"hello", "not JSON: expecting value at line 1 column 1", id="not-json"),
    pytest.param(b"[" * 60_000, "not JSON: nested too deeply", id="deep-nesting"),
    pytest.param(
        b'{"v":1,"seq":' + b"9" * 5000 + b"}",
        "not JSON: a number of more than 4300 digits",
        id="huge-integer",
    ),
    pytest.param(b'{"v":1,"t1":NaN}', "NaN is not a JSON number (RFC 8259 §6)", id="nan-literal"),
    pytest.param(
        b'{"v":1,"t1":-Infinity}',
        "-Infinity is not a JSON number (RFC 8259 §6)",
        id="infinity-literal",
    ),
    pytest.param(b'{"v":1,"v":1}', "duplicate key 'v'", id="duplicate-key"),
    pytest.param(b"[1]", "not a JSON object (got an array)", id="array"),
    pytest.param(b'"x"', "not a JSON object (got a string)", id="string"),
    pytest.param(b"null", "not a JSON object (got a number or literal)", id="null"),
    pytest.param(b'{"seq":1}', "missing field 'v'", id="no-version"),
    pytest.param(_request(v=2), "unsupported version v=2 (this node speaks v=1)", id="version-2"),
    pytest.param(
        _request(v=True), "unsupported version v=True (this node speaks v=1)", id="version-bool"
    ),
    pytest.param(
        _request(v="1"), "unsupported version v='1' (this node speaks v=1)", id="version-string"
    ),
    pytest.param(b'{"v":1,"node":"lhasa","t1":2.5}', "missing field 'seq'", id="missing"),
    pytest.param(_request(extra=1), "unknown field 'extra'", id="unknown-field"),
    pytest.param(
        _request(seq="1"), "field 'seq': input should be a valid integer", id="seq-string"
    ),
    pytest.param(_request(seq=True), "field 'seq': input should be a valid integer", id="seq-bool"),
    pytest.param(_request(seq=1.5), "field 'seq': input should be a valid integer", id="seq-float"),
    pytest.param(
        _request(seq=-1),
        "field 'seq': input should be greater than or equal to 0",
        id="seq-negative",
    ),
    pytest.param(
        b'{"v":1,"node":"lhasa","seq":1,"t1":1e999}',
        "field 't1': input should be a finite number",
        id="t1-overflow",
    ),
    pytest.param(
        _request(node="a/b"),
        "field 'node': node name 'a/b' contains '/' (MQTT topic level separator or wildcard)",
        id="node-slash",
    ),
    pytest.param(
        _request(node="", seq="x"), "field 'node': node name is empty (and 1 more)", id="two"
    ),
]


@pytest.mark.parametrize(("payload", "reason"), HOSTILE)
def test_hostile_payload_is_refused_with_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(BusPayloadError) as info:
        decode(TimeRequest, payload)
    assert info.value.reason == reason
    assert str(info.value) == f"bad TimeRequest payload: {reason}"
    assert isinstance(info.value, RemoteProtocolError)
    assert isinstance(info.value, ProtocolError)


@pytest.mark.parametrize(
    ("update", "reason"),
    [
        pytest.param(
            {"content_hash": "A" * 64},
            "field 'content_hash': expected a SHA-256 as 64 lowercase hex digits",
            id="hash-uppercase",
        ),
        pytest.param(
            {"files": {"show.yaml": "abc"}},
            "field 'files.show.yaml': expected a SHA-256 as 64 lowercase hex digits",
            id="file-hash-short",
        ),
        pytest.param(
            {"state": "playing"},
            "field 'state': input should be 'loaded', 'armed', 'running', 'held' or 'ended'",
            id="state-unknown",
        ),
        pytest.param(
            {"fps": 0}, "field 'fps': input should be greater than or equal to 1", id="fps-zero"
        ),
        pytest.param(
            {"master": 1.5},
            "field 'master': input should be less than or equal to 1",
            id="master-over-one",
        ),
        pytest.param(
            {"show_id": "a+b"},
            "field 'show_id': show id 'a+b' contains '+' (MQTT topic level separator or wildcard)",
            id="show-id-wildcard",
        ),
    ],
)
def test_show_state_field_errors_name_the_field(update: dict[str, object], reason: str) -> None:
    payload = json.dumps(STATE.model_dump() | update).encode()
    with pytest.raises(BusPayloadError) as info:
        decode(ShowState, payload)
    assert info.value.reason == reason


def test_a_payload_of_exactly_the_limit_is_read() -> None:
    body = b'{"v":1,"node":"lhasa","seq":1,"t1":2.5}'
    payload = body[:-1] + b" " * (MAX_PAYLOAD - len(body)) + b"}"
    assert len(payload) == MAX_PAYLOAD
    assert decode(TimeRequest, payload).seq == 1


def test_encoding_past_the_limit_is_a_local_error() -> None:
    files = {f"clips/{i:05}.yaml": HASH_B for i in range(1000)}
    big = STATE.model_copy(update={"files": files})
    with pytest.raises(LocalProtocolError, match=r"ShowState payload of \d+ bytes over the"):
        encode(big)


def test_models_refuse_nan_and_are_frozen() -> None:
    with pytest.raises(ValidationError):
        TimeRequest(node="lhasa", seq=1, t1=float("nan"))
    message = TimeRequest(node="lhasa", seq=1, t1=1.0)
    with pytest.raises(ValidationError):
        message.seq = 2  # type: ignore[misc]


# --- topics -----------------------------------------------------------------------------


def test_topic_names_follow_the_tree() -> None:
    t = Topics("digital-night")
    root = "citypulse/v1/digital-night"
    assert t.root == root
    assert t.all == f"{root}/#"
    assert t.time_req("lhasa") == f"{root}/time/req/lhasa"
    assert t.time_resp("lhasa") == f"{root}/time/resp/lhasa"
    assert t.time_req_all == f"{root}/time/req/+"
    assert t.state == f"{root}/state"
    assert t.cmd_submit == f"{root}/cmd/submit"
    assert t.cmd_exec == f"{root}/cmd/exec"
    assert t.cmd_result == f"{root}/cmd/result"
    assert t.status("singapore") == f"{root}/status/singapore"
    assert t.status_all == f"{root}/status/+"
    assert t.conductor_online == f"{root}/conductor/online"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param("", "show id is empty", id="empty"),
        pytest.param("a/b", "show id 'a/b' contains '/' (MQTT topic level separator or wildcard)"),
        pytest.param("a+", "show id 'a+' contains '+' (MQTT topic level separator or wildcard)"),
        pytest.param("#", "show id '#' contains '#' (MQTT topic level separator or wildcard)"),
        pytest.param("a\x00b", "show id 'a\\x00b' contains control character U+0000", id="nul"),
        pytest.param("a\x85", "show id 'a\\x85' contains control character U+0085", id="c1"),
        pytest.param(" a", "show id ' a' starts or ends with white space", id="space"),
        pytest.param("x" * 129, "show id of 129 characters is over the 128 limit", id="long"),
    ],
)
def test_bad_show_ids_are_refused(name: str, message: str) -> None:
    with pytest.raises(TopicNameError) as info:
        Topics(name)
    assert str(info.value) == message
    assert isinstance(info.value, LocalProtocolError)


def test_bad_node_names_are_refused_per_topic() -> None:
    t = Topics("show")
    with pytest.raises(TopicNameError, match=r"^node name 'a/b' contains '/'"):
        t.time_req("a/b")
    with pytest.raises(TopicNameError, match=r"^venue name 'x#' contains '#'"):
        t.status("x#")


@pytest.mark.parametrize(
    ("topic", "ref"),
    [
        ("citypulse/v1/show/time/req/lhasa", TopicRef(TopicKind.TIME_REQ, "lhasa")),
        ("citypulse/v1/show/time/resp/lhasa", TopicRef(TopicKind.TIME_RESP, "lhasa")),
        ("citypulse/v1/show/status/sg", TopicRef(TopicKind.STATUS, "sg")),
        ("citypulse/v1/show/state", TopicRef(TopicKind.STATE)),
        ("citypulse/v1/show/cmd/submit", TopicRef(TopicKind.CMD_SUBMIT)),
        ("citypulse/v1/show/cmd/exec", TopicRef(TopicKind.CMD_EXEC)),
        ("citypulse/v1/show/cmd/result", TopicRef(TopicKind.CMD_RESULT)),
        ("citypulse/v1/show/conductor/online", TopicRef(TopicKind.CONDUCTOR_ONLINE)),
        ("citypulse/v1/other/state", None),
        ("citypulse/v1/show/status", None),
        ("citypulse/v1/show/status/", None),
        ("citypulse/v1/show/status/a/b", None),
        ("citypulse/v1/show/time/req", None),
        ("citypulse/v1/show/nope", None),
        ("citypulse/v1/showx/state", None),
    ],
)
def test_parse_tells_which_topic_a_message_came_on(topic: str, ref: TopicRef | None) -> None:
    assert Topics("show").parse(topic) == ref
