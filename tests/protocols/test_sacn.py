from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sacn.messages.data_packet import DataPacket as OracleData
from sacn.messages.sync_packet import SyncPacket as OracleSync
from sacn.messages.universe_discovery import UniverseDiscoveryPacket as OracleDiscovery

from controller.errors import LocalProtocolError, ProtocolError, RemoteProtocolError, Truncated
from controller.protocols import sacn
from controller.protocols.datagram import Datagram
from controller.protocols.sacn import (
    DataPacket,
    DiscoveryPacket,
    SacnDataBatch,
    SacnPacket,
    SacnSender,
    SyncPacket,
)
from tests.protocols import strategies
from tests.protocols.strategies import FAST
from tests.protocols.vectors import load

CID = bytes.fromhex("0123456789abcdeffedcba9876543210")
GOLDEN = [
    pytest.param(
        "data_short",
        DataPacket(
            cid=CID,
            source_name="citypulse",
            priority=100,
            sync_address=7,
            sequence=42,
            preview=True,
            force_sync=True,
            universe=257,
            data=bytes([0x10, 0x20, 0x30, 0x40]),
        ),
        id="data-4-slots",
    ),
    pytest.param(
        "data_full",
        DataPacket(
            cid=CID,
            source_name="Süd",
            priority=200,
            sequence=255,
            stream_terminated=True,
            universe=1,
            data=b"\xff" + bytes(510) + b"\x80",
        ),
        id="data-full-universe",
    ),
    pytest.param("sync", SyncPacket(cid=CID, sequence=5, sync_address=7), id="sync"),
    pytest.param(
        "discovery",
        DiscoveryPacket(
            cid=CID, source_name="citypulse", page=0, last_page=1, universes=(1, 2, 257)
        ),
        id="discovery",
    ),
]


@pytest.mark.parametrize(("name", "packet"), GOLDEN)
def test_encode_matches_golden_vector(name: str, packet: SacnPacket) -> None:
    assert sacn.encode(packet) == load("sacn", name)


@pytest.mark.parametrize(("name", "packet"), GOLDEN)
def test_decode_golden_vector(name: str, packet: SacnPacket) -> None:
    assert sacn.decode(load("sacn", name)) == packet
    assert sacn.decode(memoryview(load("sacn", name))) == packet


@FAST
@given(strategies.sacn_packets)
def test_decode_inverts_encode(packet: SacnPacket) -> None:
    assert sacn.decode(sacn.encode(packet)) == packet


@pytest.mark.parametrize("name", ["data_short", "data_full", "sync", "discovery"])
def test_every_truncated_prefix_raises_truncated(name: str) -> None:
    raw = load("sacn", name)
    for size in range(len(raw)):
        with pytest.raises(Truncated):
            sacn.decode(raw[:size])


@FAST
@given(strategies.sacn_packets, st.data())
def test_truncated_packets_raise_truncated(packet: SacnPacket, data: st.DataObject) -> None:
    raw = sacn.encode(packet)
    with pytest.raises(Truncated):
        sacn.decode(raw[: data.draw(st.integers(0, len(raw) - 1))])


@FAST
@given(strategies.sacn_packets, st.data())
def test_decode_raises_only_protocol_errors_on_corrupted_packets(
    packet: SacnPacket, data: st.DataObject
) -> None:
    with contextlib.suppress(ProtocolError):
        sacn.decode(strategies.corrupt(data, sacn.encode(packet)))


@FAST
@given(st.binary(max_size=300))
def test_decode_raises_only_protocol_errors_on_garbage(raw: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        sacn.decode(raw)


# ---- independent oracle: Hundemeier/sacn ----------------------------------------------------


@FAST
@given(strategies.sacn_data)
def test_data_packets_parse_with_the_sacn_library(packet: DataPacket) -> None:
    oracle = OracleData.make_data_packet(sacn.encode(packet))
    assert bytes(oracle.cid) == packet.cid
    assert oracle.sourceName == packet.source_name
    assert (oracle.universe, oracle.priority, oracle.syncAddr) == (
        packet.universe,
        packet.priority,
        packet.sync_address,
    )
    assert (oracle.sequence, oracle.dmxStartCode) == (packet.sequence, packet.start_code)
    assert (oracle.option_PreviewData, oracle.option_StreamTerminated, oracle.option_ForceSync) == (
        packet.preview,
        packet.stream_terminated,
        packet.force_sync,
    )
    assert bytes(oracle.dmxData) == packet.data.ljust(512, b"\x00")  # the library pads to 512


@FAST
@given(strategies.sacn_sync)
def test_sync_packets_parse_with_the_sacn_library(packet: SyncPacket) -> None:
    oracle = OracleSync.make_sync_packet(sacn.encode(packet))
    assert (bytes(oracle.cid), oracle.sequence, oracle.syncAddr) == (
        packet.cid,
        packet.sequence,
        packet.sync_address,
    )


@FAST
@given(strategies.sacn_discovery())
def test_discovery_packets_parse_with_the_sacn_library(packet: DiscoveryPacket) -> None:
    oracle = OracleDiscovery.make_universe_discovery_packet(sacn.encode(packet))
    assert (bytes(oracle.cid), oracle.sourceName, oracle.page, oracle.lastPage) == (
        packet.cid,
        packet.source_name,
        packet.page,
        packet.last_page,
    )
    assert tuple(oracle.universes) == packet.universes


def test_our_decoder_reads_the_sacn_library_output() -> None:
    theirs = OracleData(cid=tuple(CID), sourceName="lib", universe=9, dmxData=(1, 2, 3), sequence=3)
    ours = sacn.decode(bytes(theirs.getBytes()))
    assert ours == DataPacket(
        cid=CID, source_name="lib", universe=9, sequence=3, data=bytes([1, 2, 3]) + bytes(509)
    )


# ---- hostile input --------------------------------------------------------------------------


def _patched(name: str, offset: int, value: bytes) -> bytes:
    raw = bytearray(load("sacn", name))
    raw[offset : offset + len(value)] = value
    return bytes(raw)


PREAMBLE = "00100000415343 2d45312e3137000000".replace(" ", "")
HOSTILE = [
    pytest.param(
        _patched("sync", 0, b"\x00\x11"),
        f"preamble='0011{PREAMBLE[4:]}', expected '{PREAMBLE}'",
        id="bad-preamble",
    ),
    pytest.param(
        _patched("sync", 4, b"ASC-E1.18"),
        f"preamble='{PREAMBLE[:8]}4153432d45312e3138000000', expected '{PREAMBLE}'",
        id="bad-acn-identifier",
    ),
    pytest.param(
        _patched("sync", 16, b"\x30\x21"), "root flags=0x3, expected 0x7", id="root-flags"
    ),
    pytest.param(
        load("sacn", "sync") + b"\x00", "datagram length=50, expected 49", id="trailing-byte"
    ),
    pytest.param(
        _patched("sync", 18, b"\x00\x00\x00\x05"),
        "root vector=0x00000005 not supported (expected 0x00000004 or 0x00000008)",
        id="root-vector",
    ),
    pytest.param(
        _patched("sync", 40, b"\x00\x00\x00\x07"),
        "framing vector=0x00000007 not supported (expected 0x00000001 or 0x00000002)",
        id="extended-framing-vector",
    ),
    pytest.param(
        _patched("data_short", 40, b"\x00\x00\x00\x03"),
        "framing vector=0x00000003, expected 0x00000002",
        id="data-framing-vector",
    ),
    pytest.param(
        _patched("data_short", 38, b"\x70\x5d"),
        "framing flags&length=0x705d, expected 0x705c",
        id="data-framing-length",
    ),
    pytest.param(
        _patched("data_short", 117, b"\x03"), "dmp vector=0x03, expected 0x02", id="dmp-vector"
    ),
    pytest.param(
        _patched("data_short", 118, b"\xa2"),
        "dmp address&data type=0xa2, expected 0xa1",
        id="dmp-type",
    ),
    pytest.param(
        _patched("data_short", 123, b"\x00\x04"),
        "dmp property value count=4, expected 5",
        id="dmp-count",
    ),
    pytest.param(
        _patched("data_short", 113, b"\x00\x00"),
        "universe=0 out of range 1..63999",
        id="universe-0",
    ),
    pytest.param(
        _patched("data_short", 113, b"\xfa\x00"),
        "universe=64000 out of range 1..63999",
        id="universe-64000",
    ),
    pytest.param(
        _patched("data_short", 108, b"\xc9"), "priority=201 out of range 0..200", id="priority-201"
    ),
    pytest.param(
        _patched("data_short", 44, b"x" * 64),
        "source_name is not NUL-terminated",
        id="name-unterminated",
    ),
    pytest.param(
        _patched("data_short", 44, b"\xff\xfe\x00"),
        "source_name=b'\\xff\\xfe' is not UTF-8",
        id="name-not-utf8",
    ),
    pytest.param(
        _patched("sync", 45, b"\x00\x00"),
        "sync_address=0 out of range 1..63999",
        id="sync-address-0",
    ),
    pytest.param(
        _patched("discovery", 120, b"\x00\x02\x00\x01"),
        "universes=(2, 1, 257) must be sorted ascending without repeats",
        id="discovery-unsorted",
    ),
    pytest.param(
        _patched("discovery", 118, b"\x02"), "page=2 out of range 0..1", id="page-after-last"
    ),
]


@pytest.mark.parametrize(("raw", "message"), HOSTILE)
def test_decode_rejects_hostile_input(raw: bytes, message: str) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        sacn.decode(raw)
    assert not isinstance(caught.value, Truncated)
    assert str(caught.value) == message


ILLEGAL = [
    pytest.param(
        lambda: DataPacket(cid=CID, source_name="", universe=0, data=b""),
        "universe=0 out of range 1..63999",
        id="universe-0",
    ),
    pytest.param(
        lambda: DataPacket(cid=CID, source_name="", universe=64000, data=b""),
        "universe=64000 out of range 1..63999",
        id="universe-64000",
    ),
    pytest.param(
        lambda: DataPacket(cid=CID[:15], source_name="", universe=1, data=b""),
        "len(cid)=15, expected 16",
        id="cid-15",
    ),
    pytest.param(
        lambda: DataPacket(cid=CID, source_name="ü" * 32, universe=1, data=b""),
        f"source_name={'ü' * 32!r} must be at most 63 UTF-8 bytes without NUL",
        id="name-64-bytes",
    ),
    pytest.param(
        lambda: DataPacket(cid=CID, source_name="", universe=1, data=bytes(513)),
        "len(data)=513 out of range 0..512",
        id="513-slots",
    ),
    pytest.param(lambda: sacn.multicast_group(0), "universe=0 out of range 1..63999", id="group-0"),
    pytest.param(
        lambda: DataPacket(cid=CID, source_name="\ud800", universe=1, data=b""),
        "source_name='\\ud800' is not UTF-8 text",
        id="name-lone-surrogate",
    ),
]


@pytest.mark.parametrize(("build", "message"), ILLEGAL)
def test_illegal_values_raise_local_protocol_error(
    build: Callable[[], object], message: str
) -> None:
    with pytest.raises(LocalProtocolError) as caught:
        build()
    assert str(caught.value) == message


def test_multicast_group_is_239_255_hi_lo() -> None:
    assert sacn.multicast_group(1) == "239.255.0.1"
    assert sacn.multicast_group(63999) == "239.255.249.255"
    assert sacn.multicast_group(sacn.DISCOVERY_UNIVERSE) == "239.255.250.214"


# ---- batch fast path ----------------------------------------------------------------------


@FAST
@given(
    st.lists(strategies.sacn_universes, min_size=1, max_size=5, unique=True),
    strategies.sacn_data,
    st.data(),
)
def test_batch_rows_are_byte_identical_to_dataclass_encoding(
    universes: list[int], like: DataPacket, data: st.DataObject
) -> None:
    batch = SacnDataBatch(
        universes,
        cid=like.cid,
        source_name=like.source_name,
        priority=like.priority,
        sync_address=like.sync_address,
        preview=like.preview,
        force_sync=like.force_sync,
    )
    for index, universe in enumerate(universes):
        sequence, terminated = data.draw(st.integers(0, 255)), data.draw(st.booleans())
        payload = data.draw(st.binary(min_size=512, max_size=512))
        batch.sequences[index] = sequence
        batch.options[index] |= 0x40 * terminated
        batch.payloads[index] = np.frombuffer(payload, np.uint8)
        expected = DataPacket(
            cid=like.cid,
            source_name=like.source_name,
            priority=like.priority,
            sync_address=like.sync_address,
            sequence=sequence,
            preview=like.preview,
            stream_terminated=terminated,
            force_sync=like.force_sync,
            universe=universe,
            data=payload,
        )
        assert batch.packet(index) == sacn.encode(expected)


# ---- sender ---------------------------------------------------------------------------------


def _decoded(datagrams: list[Datagram]) -> list[SacnPacket]:
    return [sacn.decode(d.data) for d in datagrams]


def _sender(**options: Any) -> SacnSender:
    return SacnSender(cid=CID, source_name="citypulse", universes=[1, 2], **options)


def test_sender_sends_each_universe_to_its_multicast_group() -> None:
    out = _sender(discovery_interval_s=None).frame(0.0, {2: b"\x02" * 512, 1: b"\x01" * 512})
    assert [d.address for d in out] == [("239.255.0.1", 5568), ("239.255.0.2", 5568)]
    first, second = _decoded(out)
    assert isinstance(first, DataPacket)
    assert (first.universe, first.sequence, first.data) == (1, 0, b"\x01" * 512)
    assert isinstance(second, DataPacket)
    assert second.universe == 2


def test_sender_sequence_wraps_255_to_0() -> None:
    sender = _sender(mode="constant", discovery_interval_s=None)
    sequences = []
    for frame in range(258):
        out = _decoded(sender.frame(frame / 44, {1: bytes(512)}))
        assert isinstance(out[0], DataPacket)
        sequences.append(out[0].sequence)
    assert sequences == [*range(256), 0, 1]


def test_sender_follows_data_with_a_sync_packet_that_has_its_own_sequence() -> None:
    sender = _sender(sync_address=7, discovery_interval_s=None, mode="constant")
    for frame in range(3):
        out = sender.frame(float(frame), {1: bytes(512), 2: bytes(512)})
        *data, sync = _decoded(out)
        assert all(isinstance(p, DataPacket) and p.sync_address == 7 for p in data)
        assert sync == SyncPacket(cid=CID, sequence=frame, sync_address=7)
        assert out[-1].address == ("239.255.0.7", 5568)


def test_sender_keepalive_resends_unchanged_universes_driven_by_now() -> None:
    sender = _sender(discovery_interval_s=None, keepalive_s=0.9)
    assert sender.next_deadline() is None
    sender.frame(0.0, {1: bytes(512), 2: bytes(512)})
    assert sender.frame(0.5, {1: bytes(512), 2: bytes(512)}) == []
    changed = sender.frame(0.6, {1: b"\x01" * 512, 2: bytes(512)})
    assert [p.universe for p in _decoded(changed) if isinstance(p, DataPacket)] == [1]
    assert sender.next_deadline() == 0.9
    assert sender.poll(0.899) == []
    keepalive = _decoded(sender.poll(0.9))
    assert [(p.universe, p.sequence) for p in keepalive if isinstance(p, DataPacket)] == [(2, 1)]
    assert sender.next_deadline() == pytest.approx(1.5)


def test_sender_terminate_emits_three_terminated_packets_per_universe() -> None:
    sender = _sender(discovery_interval_s=None)
    sender.frame(0.0, {1: b"\x05" * 512, 2: bytes(512)})
    out = _decoded(sender.terminate(0.1))
    assert len(out) == 6
    for universe in (1, 2):
        mine = [p for p in out if isinstance(p, DataPacket) and p.universe == universe]
        assert [p.sequence for p in mine] == [1, 2, 3]
        assert all(p.stream_terminated for p in mine)
    assert sender.next_deadline() is None
    assert sender.poll(10.0) == []
    restarted = _decoded(sender.frame(11.0, {1: b"\x05" * 512}))
    assert isinstance(restarted[0], DataPacket)
    assert not restarted[0].stream_terminated


def test_sender_discovery_every_10_s_to_the_discovery_group() -> None:
    sender = _sender()
    out = sender.frame(0.0, {1: bytes(512)})
    assert out[-1].address == (sacn.DISCOVERY_GROUP, 5568)
    assert _decoded(out[-1:]) == [DiscoveryPacket(cid=CID, source_name="citypulse", universes=(1,))]
    assert sender.discovery(9.9) == []
    sender.frame(5.0, {2: bytes(512)})
    assert _decoded(sender.discovery(10.0)) == [
        DiscoveryPacket(cid=CID, source_name="citypulse", universes=(1, 2))
    ]


def test_discovery_pages_hold_at_most_512_universes() -> None:
    sender = SacnSender(cid=CID, source_name="x", universes=range(1, 601), mode="constant")
    frames = np.zeros((600, 512), np.uint8)
    pages = [p for p in _decoded(sender.frame_array(0.0, frames)) if isinstance(p, DiscoveryPacket)]
    assert [(p.page, p.last_page, len(p.universes)) for p in pages] == [(0, 1, 512), (1, 1, 88)]
    assert pages[1].universes[0] == 513


def test_sender_unicast_overrides_the_multicast_group() -> None:
    sender = _sender(unicast={2: ("10.0.0.9", 5568)}, discovery_interval_s=None)
    out = sender.frame(0.0, {1: bytes(512), 2: bytes(512)})
    assert [d.address for d in out] == [("239.255.0.1", 5568), ("10.0.0.9", 5568)]


def test_sender_burst_keeps_data_and_discovery_apart_from_the_sync_packet() -> None:
    """Issue #7 item 14: data (and discovery) may go ahead; the sync is returned apart."""
    sender = _sender(sync_address=7, mode="constant")
    sender.stage_array(np.zeros((2, 512), np.uint8))
    burst = sender.burst(0.0)
    kinds = [type(p).__name__ for p in _decoded(burst.data)]
    assert kinds == ["DataPacket", "DataPacket", "DiscoveryPacket"]
    assert _decoded(burst.sync) == [SyncPacket(cid=CID, sequence=0, sync_address=7)]
    assert burst.sync[0].address == ("239.255.0.7", 5568)
    assert sender.poll(0.1) == []
