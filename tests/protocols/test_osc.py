from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage

from controller.errors import LocalProtocolError, ProtocolError, RemoteProtocolError, Truncated
from controller.protocols import osc
from controller.protocols.osc import IMMEDIATELY, Bundle, Message, OscPacket
from tests.protocols import strategies
from tests.protocols.strategies import FAST
from tests.protocols.vectors import load

AT = osc.to_timetag(1_700_000_000.5)
NESTED = Bundle(
    timetag=AT,
    elements=(
        Message(address="/a", args=(1,)),
        Bundle(timetag=AT + 2**32, elements=(Message(address="/b", args=(True,)),)),
    ),
)
GOLDEN = [
    pytest.param("message_if", Message(address="/show/cue", args=(42, 0.5)), id="message-if"),
    pytest.param(
        "message_all_types",
        Message(
            address="/cp/all",
            args=(-2, 1.0, "hi", b"\x01\x02\x03", True, False, None, -0.5, 2**33),
            type_tags="ifsbTFNdh",
        ),
        id="message-all-types",
    ),
    pytest.param("message_exact_multiple", Message(address="/abc"), id="string-multiple-of-4"),
    pytest.param("bundle_nested", NESTED, id="bundle-nested"),
    pytest.param("bundle_immediate", Bundle(), id="bundle-immediate-empty"),
    pytest.param(
        "universe_blob",
        osc.universe_blob_message("/cp", 1, b"\xff" + bytes(510) + b"\x01"),
        id="universe-blob",
    ),
    pytest.param(
        "fixture_attribute",
        osc.fixture_attribute_message("/cp", 12, "red", 0.25),
        id="fixture-attribute",
    ),
]


@pytest.mark.parametrize(("name", "packet"), GOLDEN)
def test_encode_matches_golden_vector(name: str, packet: OscPacket) -> None:
    assert osc.encode(packet) == load("osc", name)


@pytest.mark.parametrize(("name", "packet"), GOLDEN)
def test_decode_golden_vector(name: str, packet: OscPacket) -> None:
    assert osc.decode(load("osc", name)) == packet
    assert osc.decode(memoryview(load("osc", name))) == packet


@FAST
@given(strategies.osc_packets)
def test_decode_inverts_encode(packet: OscPacket) -> None:
    assert osc.decode(osc.encode(packet)) == packet


@pytest.mark.parametrize(
    "name", ["message_if", "message_all_types", "message_exact_multiple", "universe_blob"]
)
def test_every_truncated_message_prefix_raises_truncated(name: str) -> None:
    raw = load("osc", name)
    for size in range(len(raw)):
        with pytest.raises(Truncated):
            osc.decode(raw[:size])


def test_a_bundle_cut_at_an_element_boundary_is_a_shorter_bundle_and_elsewhere_truncated() -> None:
    raw = load("osc", "bundle_nested")
    boundaries = {16: 0, 32: 1}  # header only; after the first element
    for size in range(len(raw)):
        if size in boundaries:
            decoded = osc.decode(raw[:size])
            assert decoded == Bundle(timetag=AT, elements=NESTED.elements[: boundaries[size]])
        else:
            with pytest.raises(Truncated):
                osc.decode(raw[:size])


@FAST
@given(strategies.osc_messages(), st.data())
def test_truncated_messages_raise_truncated(message: Message, data: st.DataObject) -> None:
    raw = osc.encode(message)
    with pytest.raises(Truncated):
        osc.decode(raw[: data.draw(st.integers(0, len(raw) - 1))])


@FAST
@given(strategies.osc_packets, st.data())
def test_decode_raises_only_protocol_errors_on_corrupted_packets(
    packet: OscPacket, data: st.DataObject
) -> None:
    with contextlib.suppress(ProtocolError):
        osc.decode(strategies.corrupt(data, osc.encode(packet)))


@FAST
@given(st.binary(max_size=300))
def test_decode_raises_only_protocol_errors_on_garbage(raw: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        osc.decode(raw)


# ---- independent oracle: python-osc ---------------------------------------------------------


def _same_as_python_osc(ours: OscPacket, theirs: OscMessage | OscBundle) -> None:
    if isinstance(ours, Message):
        assert isinstance(theirs, OscMessage)
        assert theirs.address == ours.address
        assert list(theirs.params) == list(ours.args)
        return
    assert isinstance(theirs, OscBundle)
    if ours.timetag == IMMEDIATELY:
        assert theirs.timestamp == 0
    else:
        assert theirs.timestamp == pytest.approx(osc.from_timetag(ours.timetag), abs=1e-5)
    assert theirs.num_contents == len(ours.elements)
    for element, content in zip(ours.elements, theirs, strict=True):
        _same_as_python_osc(element, content)


@FAST
@given(strategies.osc_messages())
def test_messages_parse_with_python_osc(message: Message) -> None:
    _same_as_python_osc(message, OscMessage(osc.encode(message)))


@FAST
@given(strategies.osc_bundles(earliest=osc.to_timetag(1_600_000_000.0)))
def test_bundles_parse_with_python_osc(bundle: Bundle) -> None:
    _same_as_python_osc(bundle, OscBundle(osc.encode(bundle)))


def test_our_decoder_reads_python_osc_output() -> None:
    from pythonosc.osc_message_builder import OscMessageBuilder

    builder = OscMessageBuilder(address="/cp/7/dimmer")
    for value, kind in ((0.5, "f"), (3, "i"), ("x", "s"), (b"\x01", "b"), (True, "T"), (2.25, "d")):
        builder.add_arg(value, kind)
    assert osc.decode(builder.build().dgram) == Message(
        address="/cp/7/dimmer", args=(0.5, 3, "x", b"\x01", True, 2.25), type_tags="fisbTd"
    )


# ---- timetags -------------------------------------------------------------------------------


def test_timetag_of_a_unix_time_counts_from_1900() -> None:
    assert osc.to_timetag(0.0) == 2_208_988_800 << 32
    assert osc.to_timetag(1_700_000_000.5) == 0xE8FE6F80_80000000
    assert osc.from_timetag(0xE8FE6F80_80000000) == 1_700_000_000.5


@FAST
@given(st.floats(min_value=-2_208_988_800, max_value=2_085_978_495, allow_nan=False))
def test_timetag_round_trips_to_within_a_microsecond(unix_s: float) -> None:
    assert osc.from_timetag(osc.to_timetag(unix_s)) == pytest.approx(unix_s, abs=1e-6)


# ---- hostile input --------------------------------------------------------------------------

HOSTILE = [
    pytest.param(
        b"show/cue\x00\x00\x00\x00",
        "packet starts with b'show/cue', expected '/' or b'#bundle\\x00'",
        id="no-slash",
    ),
    pytest.param(
        b"#bundlx\x00" + bytes(8),
        "packet starts with b'#bundlx\\x00', expected '/' or b'#bundle\\x00'",
        id="bad-bundle-tag",
    ),
    pytest.param(
        b"/a\x00\x00i\x00\x00\x00",
        "type tag string='i' does not start with ','",
        id="tags-without-comma",
    ),
    pytest.param(
        b"/a\x00\x00,x\x00\x00",
        "type tag 'x' not supported (supported: i f s b T F N d h)",
        id="unknown-tag",
    ),
    pytest.param(
        b"/a\x00\x00,b\x00\x00\xff\xff\xff\xff", "blob size=-1 is negative", id="negative-blob"
    ),
    pytest.param(
        b"/a\x00\x00,\x00\x00\x00\x00\x00\x00\x01",
        "4 bytes after the last argument of '/a'",
        id="trailing-bytes",
    ),
    pytest.param(
        b"/\xff\x00\x00,\x00\x00\x00", "address=b'/\\xff' is not UTF-8", id="address-not-utf8"
    ),
    pytest.param(
        b"#bundle\x00" + bytes(7) + b"\x01" + b"\x00\x00\x00\x06",
        "bundle element size=6 is not a positive multiple of 4",
        id="element-size-unaligned",
    ),
    pytest.param(
        b"#bundle\x00" + bytes(7) + b"\x01" + b"\x00\x00\x00\x00",
        "bundle element size=0 is not a positive multiple of 4",
        id="element-size-zero",
    ),
    pytest.param(
        b"#bundle\x00"
        + (2).to_bytes(8, "big")
        + b"\x00\x00\x00\x10"
        + b"#bundle\x00"
        + (1).to_bytes(8, "big"),
        "nested timetag=1 is before enclosing 2",
        id="nested-timetag-earlier",
    ),
]


def _deep_bundle(depth: int) -> bytes:
    raw = b"#bundle\x00" + (1).to_bytes(8, "big")
    for _ in range(depth):
        raw = b"#bundle\x00" + (1).to_bytes(8, "big") + len(raw).to_bytes(4, "big") + raw
    return raw


@pytest.mark.parametrize(("raw", "message"), HOSTILE)
def test_decode_rejects_hostile_input(raw: bytes, message: str) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        osc.decode(raw)
    assert not isinstance(caught.value, Truncated)
    assert str(caught.value) == message


def test_deeply_nested_bundles_are_rejected_without_recursion_error() -> None:
    osc.decode(_deep_bundle(osc.MAX_BUNDLE_DEPTH))
    with pytest.raises(RemoteProtocolError, match=r"bundle nesting depth > 16"):
        osc.decode(_deep_bundle(5000))


ILLEGAL = [
    pytest.param(
        lambda: Message(address="show"),
        "address='show' must start with '/' and be UTF-8 without NUL",
        id="no-slash",
    ),
    pytest.param(
        lambda: Message(address="/a", args=(2**31,), type_tags="i"),
        "argument 2147483648 does not fit type tag 'i'",
        id="int32-overflow",
    ),
    pytest.param(
        lambda: Message(address="/a", args=(1e39,), type_tags="f"),
        "argument 1e+39 does not fit type tag 'f'",
        id="float32-overflow",
    ),
    pytest.param(
        lambda: Message(address="/a", args=(1, 2), type_tags="i"),
        "type_tags='i' does not match 2 argument(s)",
        id="tag-count",
    ),
    pytest.param(
        lambda: Message(address="/a", args=("a\x00",)),
        "argument 'a\\x00' does not fit type tag 's'",
        id="nul-in-string",
    ),
    pytest.param(
        lambda: Message(address="/a", args=(complex(1, 1),)),  # type: ignore[arg-type]
        "argument (1+1j) has no OSC type (use int, float, str, bytes, bool or None)",
        id="complex-arg",
    ),
    pytest.param(
        lambda: Message(address="/a", args=("\udc80",)),
        "argument '\\udc80' does not fit type tag 's'",
        id="lone-surrogate-string",
    ),
    pytest.param(
        lambda: Bundle(timetag=5, elements=(Bundle(timetag=4),)),
        "nested timetag=4 is before enclosing 5",
        id="nested-earlier",
    ),
    pytest.param(
        lambda: osc.to_timetag(-3e9),
        "unix_s=-3000000000.0 outside NTP era 0 (1900..2036)",
        id="before-1900",
    ),
    pytest.param(
        lambda: osc.fixture_attribute_message("/cp", "a b", "red", 1.0),
        "address '/cp' + ('a b', 'red') has an empty or reserved-character part",
        id="space-in-fixture",
    ),
    pytest.param(
        lambda: osc.universe_blob_message("/cp", 1, bytes(513)),
        "universe=1 with 513 bytes: need universe >= 0, <= 512 bytes",
        id="blob-513",
    ),
]


@pytest.mark.parametrize(("build", "message"), ILLEGAL)
def test_illegal_values_raise_local_protocol_error(
    build: Callable[[], object], message: str
) -> None:
    with pytest.raises(LocalProtocolError) as caught:
        build()
    assert str(caught.value) == message


def test_floats_are_stored_as_the_float32_the_wire_carries() -> None:
    message = Message(address="/a", args=(0.1,))
    assert message.args == (0.10000000149011612,)
    assert osc.decode(osc.encode(message)) == message


def test_type_tags_are_inferred_like_python_osc() -> None:
    message = Message(address="/a", args=(1, 2**40, 1.5, "s", b"b", True, False, None))
    assert message.type_tags == "ihfsbTFN"


def test_blob_mode_pads_short_universes_to_512() -> None:
    message = osc.universe_blob_message("/cp", 3, b"\x01\x02")
    assert message.address == "/cp/universe/3"
    assert message.args == (b"\x01\x02" + bytes(510),)
