from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.errors import LocalProtocolError, ProtocolError, RemoteProtocolError, Truncated
from controller.protocols import artnet
from controller.protocols.artnet import (
    ArtDmx,
    ArtDmxBatch,
    ArtNetPacket,
    ArtNetSender,
    ArtPoll,
    ArtPollReply,
    ArtSync,
)
from controller.protocols.datagram import Datagram
from tests.protocols import strategies
from tests.protocols.strategies import FAST
from tests.protocols.vectors import load

REPLY = ArtPollReply(
    ip="10.0.0.5",
    version_info=0x0102,
    net_switch=1,
    sub_switch=2,
    oem=0x04B1,
    status1=0xD0,
    esta_man=0x7FF0,
    short_name="cp-node",
    long_name="citypulse test node",
    node_report="#0001 [0042] ok",
    num_ports=2,
    port_types=bytes([0x80, 0x80, 0, 0]),
    good_output_a=bytes([0x80, 0x80, 0, 0]),
    sw_out=bytes([3, 4, 0, 0]),
    acn_priority=100,
    mac=bytes.fromhex("02000a000005"),
    bind_ip="10.0.0.5",
    bind_index=1,
    status2=0x0E,
    good_output_b=bytes([0xC0, 0xC0, 0, 0]),
    refresh_rate=44,
)
POLL = ArtPoll(
    flags=0x26,
    diag_priority=0x10,
    target_port_address_top=0x0123,
    target_port_address_bottom=0x0100,
    esta_man=0x1234,
    oem=0x00FF,
)
FULL = ArtDmx(sequence=255, physical=3, port_address=0x7FFF, data=b"\x01" + bytes(510) + b"\xff")
# (vector name, packet to encode, what decoding the vector gives)
GOLDEN = [
    pytest.param(
        "artdmx_odd_length",
        ArtDmx(sequence=7, port_address=0x0123, data=b"\xff\x80\x01"),
        ArtDmx(sequence=7, port_address=0x0123, data=b"\xff\x80\x01\x00"),
        id="artdmx-odd-length-padded",
    ),
    pytest.param("artdmx_full", FULL, FULL, id="artdmx-full-universe"),
    pytest.param("artsync", ArtSync(), ArtSync(), id="artsync"),
    pytest.param("artpoll", POLL, POLL, id="artpoll"),
    pytest.param("artpollreply", REPLY, REPLY, id="artpollreply"),
]
MINIMUM_SIZE = {"artpoll": 14, "artpollreply": 198}


@pytest.mark.parametrize(("name", "packet", "decoded"), GOLDEN)
def test_encode_matches_golden_vector(
    name: str, packet: ArtNetPacket, decoded: ArtNetPacket
) -> None:
    assert artnet.encode(packet) == load("artnet", name)


@pytest.mark.parametrize(("name", "packet", "decoded"), GOLDEN)
def test_decode_golden_vector(name: str, packet: ArtNetPacket, decoded: ArtNetPacket) -> None:
    assert artnet.decode(load("artnet", name)) == decoded
    assert artnet.decode(memoryview(load("artnet", name))) == decoded


def test_decode_accepts_the_14_byte_artpoll_of_older_controllers() -> None:
    assert artnet.decode(load("artnet", "artpoll_14_byte")) == ArtPoll(flags=0x02)


def test_decode_reads_missing_pollreply_fields_as_zero() -> None:
    reply = artnet.decode(load("artnet", "artpollreply")[:198])
    assert isinstance(reply, ArtPollReply)
    assert reply.sw_out == REPLY.sw_out
    assert (reply.style, reply.mac, reply.bind_ip, reply.refresh_rate) == (
        0,
        bytes(6),
        "0.0.0.0",
        0,
    )


def test_pollreply_lists_the_port_addresses_its_outputs_consume() -> None:
    assert REPLY.output_port_addresses == (0x0123, 0x0124)


@FAST
@given(strategies.artnet_packets)
def test_decode_inverts_encode(packet: ArtNetPacket) -> None:
    assert artnet.decode(artnet.encode(packet)) == packet


@pytest.mark.parametrize(
    "name", ["artdmx_odd_length", "artdmx_full", "artsync", "artpoll", "artpollreply"]
)
def test_every_truncated_prefix_raises_truncated(name: str) -> None:
    raw = load("artnet", name)
    for size in range(MINIMUM_SIZE.get(name, len(raw))):
        with pytest.raises(Truncated):
            artnet.decode(raw[:size])


@FAST
@given(strategies.art_dmx, st.data())
def test_truncated_artdmx_raises_truncated(packet: ArtDmx, data: st.DataObject) -> None:
    raw = artnet.encode(packet)
    with pytest.raises(Truncated):
        artnet.decode(raw[: data.draw(st.integers(0, len(raw) - 1))])


def _patched(name: str, offset: int, value: bytes) -> bytes:
    """A golden vector with `value` written over it at `offset`."""
    raw = bytearray(load("artnet", name))
    raw[offset : offset + len(value)] = value
    return bytes(raw)


def _dmx(offset: int, value: int) -> bytes:
    return _patched("artdmx_odd_length", offset, bytes([value]))


def _reply(offset: int, value: bytes) -> bytes:
    return _patched("artpollreply", offset, value)


HOSTILE = [
    pytest.param(b"Art-Nex\x00\x00\x50", "id=b'Art-Nex\\x00' is not b'Art-Net\\x00'", id="bad-id"),
    pytest.param(b"GET / HTTP/1.1\r\n", "id=b'GET / HT' is not b'Art-Net\\x00'", id="not-art-net"),
    pytest.param(
        b"Art-Net\x00\x00\x60" + bytes(10),
        "opcode=0x6000 not supported (expected one of 0x2000, 0x2100, 0x5000, 0x5200)",
        id="opaddress-unsupported",
    ),
    pytest.param(
        _dmx(11, 13), "protocol version=13 unsupported, need >= 14", id="artdmx-version-13"
    ),
    pytest.param(_dmx(17, 0), "ArtDmx length=0 out of range 2..512", id="artdmx-length-0"),
    pytest.param(_dmx(17, 1), "ArtDmx length=1 out of range 2..512", id="artdmx-length-1"),
    pytest.param(
        _patched("artdmx_odd_length", 16, b"\x02\x01"),
        "ArtDmx length=513 out of range 2..512",
        id="artdmx-length-513",
    ),
    pytest.param(
        _dmx(15, 0x80),
        "port_address=32803 out of range 0..32767 (15-bit Port-Address)",
        id="artdmx-net-bit-7",
    ),
    pytest.param(
        load("artnet", "artsync")[:11] + b"\x00\x00\x00",
        "protocol version=0 unsupported, need >= 14",
        id="artsync-version-0",
    ),
    pytest.param(
        load("artnet", "artpoll")[:11] + b"\x0d" + bytes(10),
        "protocol version=13 unsupported, need >= 14",
        id="artpoll-version-13",
    ),
    pytest.param(
        load("artnet", "artpoll")[:14] + b"\x80\x00",
        "target_port_address_top=32768 out of range 0..32767",
        id="artpoll-target-out-of-range",
    ),
    pytest.param(
        _reply(26, b"x" * 18),
        "ArtPollReply short_name is not NUL-terminated",
        id="reply-name-unterminated",
    ),
    pytest.param(_reply(172, b"\x00\x05"), "num_ports=5 out of range 0..4", id="reply-five-ports"),
    pytest.param(
        _reply(18, b"\x80"), "net_switch=128 out of range 0..127", id="reply-net-switch-bit-7"
    ),
    pytest.param(
        _reply(19, b"\x10"), "sub_switch=16 out of range 0..15", id="reply-sub-switch-too-big"
    ),
]


@pytest.mark.parametrize(("raw", "message"), HOSTILE)
def test_decode_rejects_hostile_input(raw: bytes, message: str) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        artnet.decode(raw)
    assert not isinstance(caught.value, Truncated)
    assert str(caught.value) == message


ILLEGAL = [
    pytest.param(
        lambda: ArtDmx(port_address=32768, data=b"\x00\x00"),
        "port_address=32768 out of range 0..32767 (15-bit Port-Address)",
        id="port-address-32768",
    ),
    pytest.param(
        lambda: ArtDmx(port_address=0, data=b""), "len(data)=0 out of range 1..512", id="no-data"
    ),
    pytest.param(
        lambda: ArtDmx(port_address=0, data=bytes(513)),
        "len(data)=513 out of range 1..512",
        id="513-slots",
    ),
    pytest.param(
        lambda: ArtDmx(sequence=256, port_address=0, data=b"\x00\x00"),
        "sequence=256 out of range 0..255",
        id="sequence-256",
    ),
    pytest.param(
        lambda: artnet.port_address(128, 0, 0), "net=128 out of range 0..127", id="net-128"
    ),
    pytest.param(
        lambda: artnet.port_address(0, 16, 0), "sub_net=16 out of range 0..15", id="sub-net-16"
    ),
    pytest.param(
        lambda: artnet.port_address(0, 0, 16), "universe=16 out of range 0..15", id="universe-16"
    ),
    pytest.param(
        lambda: ArtPollReply(ip="10.0.0.256"), "ip='10.0.0.256' is not an IPv4 address", id="bad-ip"
    ),
    pytest.param(
        lambda: ArtPollReply(ip="10.0.0.1", short_name="x" * 18),
        f"short_name={'x' * 18!r} must be at most 17 latin-1 chars without NUL",
        id="short-name-18",
    ),
    pytest.param(
        lambda: ArtPollReply(ip="10.0.0.1", long_name="\u2603"),
        "long_name='\u2603' must be at most 63 latin-1 chars without NUL",
        id="long-name-not-latin-1",
    ),
    pytest.param(
        lambda: ArtPollReply(ip="10.0.0.1", mac=bytes(5)), "len(mac)=5, expected 6", id="mac-5"
    ),
    pytest.param(
        lambda: ArtPollReply(ip="10.0.0.1", port=70000),
        "port=70000 out of range 0..65535",
        id="port-70000",
    ),
    pytest.param(
        lambda: ArtPollReply(ip="10.0.0.1", esta_man=-1),
        "esta_man=-1 out of range 0..65535",
        id="esta-man-negative",
    ),
]


@pytest.mark.parametrize(("build", "message"), ILLEGAL)
def test_illegal_values_raise_local_protocol_error(
    build: Callable[[], object], message: str
) -> None:
    with pytest.raises(LocalProtocolError) as caught:
        build()
    assert str(caught.value) == message


def test_port_address_packs_net_sub_net_universe() -> None:
    assert artnet.port_address(1, 2, 3) == 0x0123
    assert artnet.split_port_address(0x7FFF) == (127, 15, 15)


@FAST
@given(st.integers(0, 32767))
def test_split_port_address_inverts_port_address(address: int) -> None:
    assert artnet.port_address(*artnet.split_port_address(address)) == address


def test_odd_length_is_padded_to_even() -> None:
    raw = artnet.encode(ArtDmx(port_address=0, data=bytes(511)))
    assert (len(raw), raw[16:18]) == (18 + 512, b"\x02\x00")


@FAST
@given(strategies.artnet_packets, st.data())
def test_decode_raises_only_protocol_errors_on_corrupted_packets(
    packet: ArtNetPacket, data: st.DataObject
) -> None:
    with contextlib.suppress(ProtocolError):
        artnet.decode(strategies.corrupt(data, artnet.encode(packet)))


@FAST
@given(st.binary(max_size=300))
def test_decode_raises_only_protocol_errors_on_garbage(raw: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        artnet.decode(raw)


# ---- batch fast path ----------------------------------------------------------------------


@FAST
@given(
    st.lists(st.integers(0, 32767), min_size=1, max_size=6, unique=True),
    st.integers(0, 255),
    st.data(),
)
def test_batch_rows_are_byte_identical_to_dataclass_encoding(
    addresses: list[int], physical: int, data: st.DataObject
) -> None:
    batch = ArtDmxBatch(addresses, physical=physical)
    for index, address in enumerate(addresses):
        sequence = data.draw(st.integers(0, 255))
        payload = data.draw(st.binary(min_size=512, max_size=512))
        batch.sequences[index] = sequence
        batch.payloads[index] = np.frombuffer(payload, np.uint8)
        expected = ArtDmx(sequence=sequence, physical=physical, port_address=address, data=payload)
        assert batch.packet(index) == artnet.encode(expected)


# ---- sender ---------------------------------------------------------------------------------

NODE = ("10.0.0.5", artnet.PORT)
BROADCAST = ("10.255.255.255", artnet.PORT)


def _decoded(datagrams: list[Datagram]) -> list[ArtNetPacket]:
    return [artnet.decode(d.data) for d in datagrams]


def test_sender_sequence_runs_1_to_255_then_wraps_to_1() -> None:
    sender = ArtNetSender(targets={0: NODE}, mode="constant")
    sequences = []
    for frame in range(257):
        (datagram,) = sender.frame(frame / 44, {0: bytes(512)})
        packet = artnet.decode(datagram.data)
        assert isinstance(packet, ArtDmx)
        sequences.append(packet.sequence)
    assert sequences == [*range(1, 256), 1, 2]


def test_sender_sends_one_artdmx_per_universe_to_its_target_then_one_artsync() -> None:
    other = ("10.0.0.6", artnet.PORT)
    sender = ArtNetSender(targets={2: other, 1: NODE}, sync_address=BROADCAST)
    out = sender.frame(0.0, {1: b"\x01" * 512, 2: b"\x02" * 512})
    assert [d.address for d in out] == [NODE, other, BROADCAST]
    assert _decoded(out) == [
        ArtDmx(sequence=1, port_address=1, data=b"\x01" * 512),
        ArtDmx(sequence=1, port_address=2, data=b"\x02" * 512),
        ArtSync(),
    ]


def test_sender_on_change_skips_unchanged_universes_until_keepalive() -> None:
    sender = ArtNetSender(targets={1: NODE, 2: NODE})
    assert len(sender.frame(0.0, {1: bytes(512), 2: bytes(512)})) == 2
    changed = b"\xff" + bytes(511)
    out = sender.frame(0.5, {1: bytes(512), 2: changed})
    assert _decoded(out) == [ArtDmx(sequence=2, port_address=2, data=changed)]
    assert sender.frame(0.999, {1: bytes(512), 2: changed}) == []
    assert _decoded(sender.frame(1.0, {1: bytes(512), 2: changed})) == [
        ArtDmx(sequence=2, port_address=1, data=bytes(512))
    ]


def test_sender_keepalive_timing_is_driven_by_now() -> None:
    sender = ArtNetSender(targets={1: NODE}, sync_address=BROADCAST, keepalive_s=1.0)
    assert sender.next_deadline() is None
    assert sender.poll(100.0) == []
    sender.frame(0.0, {1: bytes(512)})
    assert sender.next_deadline() == 1.0
    assert sender.poll(0.99) == []
    assert _decoded(sender.poll(1.0)) == [
        ArtDmx(sequence=2, port_address=1, data=bytes(512)),
        ArtSync(),
    ]
    assert sender.next_deadline() == 2.0


def test_sender_frame_array_matches_frame() -> None:
    frames = np.arange(2 * 512, dtype=np.uint8).reshape(2, 512)
    by_mapping = ArtNetSender(targets={7: NODE, 3: NODE})
    by_array = ArtNetSender(targets={7: NODE, 3: NODE})
    assert by_array.universes == (3, 7)
    expected = by_mapping.frame(0.0, {3: frames[0].tobytes(), 7: bytearray(frames[1].tobytes())})
    assert by_array.frame_array(0.0, frames) == expected
    assert by_array.frame_array(0.1, frames) == []


def test_sender_rejects_limited_broadcast_and_unknown_universes() -> None:
    with pytest.raises(ValueError, match=r"not 255\.255\.255\.255"):
        ArtNetSender(targets={1: NODE}, sync_address=("255.255.255.255", artnet.PORT))
    sender = ArtNetSender(targets={1: NODE})
    with pytest.raises(ValueError, match=r"universe=9 is not configured"):
        sender.frame(0.0, {9: bytes(512)})
    with pytest.raises(ValueError, match=r"expected uint8 \(512,\)"):
        sender.frame(0.0, {1: bytes(511)})


def test_sender_burst_keeps_artdmx_and_artsync_apart_from_encoding() -> None:
    """Issue #7 item 14: the sender says which datagram is the sync; nobody re-parses."""
    sender = ArtNetSender(targets={1: NODE, 2: NODE}, sync_address=BROADCAST, mode="constant")
    sender.stage_array(np.zeros((2, 512), np.uint8))
    burst = sender.burst(0.0)
    assert _decoded(burst.data) == [
        ArtDmx(sequence=1, port_address=1, data=bytes(512)),
        ArtDmx(sequence=1, port_address=2, data=bytes(512)),
    ]
    assert burst.sync == [Datagram(artnet.encode(ArtSync()), BROADCAST)]
    assert burst.datagrams == burst.data + burst.sync
    assert sender.burst(0.1) == ([], [])  # nothing staged, no keep-alive due: no sync either


def test_sender_without_sync_address_has_an_empty_sync_part() -> None:
    sender = ArtNetSender(targets={1: NODE}, mode="constant")
    sender.stage({1: bytes(512)})
    burst = sender.burst(0.0)
    assert (len(burst.data), burst.sync) == (1, [])
