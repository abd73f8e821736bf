"""Fuzz the simulator's decoders and core with hostile packets whose lengths agree.

Random bytes rarely pass a length check, and flipping bytes of a golden packet keeps its
lengths, so neither finds a packet that is well formed except for a bound the standard
sets (one sACN data packet with 600 slots and consistent lengths killed `simulate`). These
strategies build every kind of packet the simulator reads with consistent lengths and vary
the bounded fields: slot counts 0..1100, universes over 16 bits, the Art-Net Net byte, OSC
blob sizes that lie, ENTTEC label lengths; then they flip a few bytes.

The contract:
- every `simulator.wire` decoder returns a frame or raises `RemoteProtocolError` (its
  documented error, `Truncated` included), and a decoded DMX payload holds at most 512
  slots;
- `SimulatorCore.receive` never raises: each datagram is counted once, each malformed one
  is logged once, and the core keeps working.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.cli.common import VenueJob
from controller.errors import RemoteProtocolError
from controller.show.rig import Protocol
from controller.testing import ManualClock
from simulator.core import PROTOCOLS, WireProtocol
from simulator.listeners import Simulator
from simulator.wire import artnet as sim_artnet
from simulator.wire import enttec as sim_enttec
from simulator.wire import osc as sim_osc
from simulator.wire import sacn as sim_sacn
from tests.protocols.strategies import FAST
from tests.simulator.helpers import MakeCore, collect_warnings, level
from tests.simulator.test_core_hostile import PEER, all_routes_core, still_works

MAX_SLOTS = 512
# The packet space is wide: 40 examples (FAST) miss whole classes. Capped by the profile.
FUZZ = settings(max_examples=min(150, settings().max_examples), deadline=None)

# ---- packet builders: consistent lengths, any field value -----------------------------------


def sacn_data(
    slots: bytes,
    *,
    universe: int = 1,
    priority: int = 100,
    sync: int = 0,
    sequence: int = 0,
    options: int = 0,
    start_code: int = 0,
) -> bytes:
    """An E1.31 data packet whose three Flags & Length fields and value count agree."""
    n = len(slots)
    return b"".join(
        (
            bytes.fromhex("0010 0000") + b"ASC-E1.17\x00\x00\x00",
            (0x7000 | (110 + n) & 0x0FFF).to_bytes(2, "big"),
            (4).to_bytes(4, "big") + bytes(range(16)),
            (0x7000 | (88 + n) & 0x0FFF).to_bytes(2, "big"),
            (2).to_bytes(4, "big") + b"fuzz".ljust(64, b"\x00"),
            bytes([priority]) + sync.to_bytes(2, "big") + bytes([sequence, options]),
            universe.to_bytes(2, "big"),
            (0x7000 | (11 + n) & 0x0FFF).to_bytes(2, "big"),
            bytes.fromhex("02 A1 0000 0001") + (n + 1).to_bytes(2, "big"),
            bytes([start_code]) + slots,
        )
    )


def art_dmx(data: bytes, *, sequence: int = 0, sub_uni: int = 1, net: int = 0) -> bytes:
    """An ArtDmx whose Length field is the length of `data`."""
    head = b"Art-Net\x00" + bytes([0x00, 0x50, 0, 14, sequence, 0, sub_uni, net])
    return head + len(data).to_bytes(2, "big") + data


def _osc_string(text: bytes) -> bytes:
    return text + bytes(4 - len(text) % 4)


def osc_blob(blob: bytes, *, address: bytes = b"/f/universe/1", size: int | None = None) -> bytes:
    """`address ,b blob`; `size` overrides the blob's int32 size field (a lie)."""
    told = len(blob) if size is None else size
    pad = bytes((4 - len(blob) % 4) % 4)
    body = told.to_bytes(4, "big", signed=True) + blob + pad
    return _osc_string(address) + _osc_string(b",b") + body


def osc_bundle(*elements: bytes) -> bytes:
    out = b"#bundle\x00" + (1).to_bytes(8, "big")
    return out + b"".join(len(e).to_bytes(4, "big") + e for e in elements)


def enttec_frame(label: int, data: bytes, *, length: int | None = None) -> bytes:
    """A widget frame; `length` overrides the length field (a lie)."""
    told = len(data) if length is None else length
    return bytes([0x7E, label, told & 0xFF, told >> 8 & 0xFF]) + data + b"\xe7"


# ---- strategies ---------------------------------------------------------------------------

_byte = st.integers(0, 255)
_u16 = st.integers(0, 0xFFFF)
# slot counts at the bounds the standards set (DMX512 24..512, label 6 25..513) and between
_counts = st.one_of(
    st.sampled_from([0, 1, 2, 23, 24, 25, 511, 512, 513, 514, 600, 1100]), st.integers(0, 1100)
)
_slots = st.one_of(_counts.map(lambda n: bytes([7]) * n), st.binary(max_size=600))


def _or(default: int, *others: st.SearchStrategy[int]) -> st.SearchStrategy[int]:
    """Half the time the value that lets the packet reach the output, else anything."""
    return st.one_of(st.just(default), *others)


sacn_packets = st.builds(
    sacn_data,
    _slots,
    universe=_or(1, st.sampled_from([0, 2, 3, 63999, 64000, 64214, 0xFFFF]), _u16),
    priority=_or(100, _byte),
    sync=_or(0, st.sampled_from([1, 7, 63999, 64000, 0xFFFF])),
    sequence=_byte,
    options=_or(0, st.sampled_from([0x20, 0x40, 0x80, 0xFF])),
    start_code=_or(0, st.sampled_from([0xDD, 0xCC])),
)
artnet_packets = st.builds(
    art_dmx,
    _slots,
    sequence=_byte,
    sub_uni=_or(1, st.sampled_from([0, 2, 3, 0xFF])),
    net=_or(0, st.sampled_from([1, 0x7F, 0x80, 0xFF])),
)
_blob = st.builds(
    osc_blob,
    _slots,
    address=st.sampled_from([b"/f/universe/1", b"/citypulse/mini/2", b"/x/universe/99999"]),
    size=st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1), st.integers(0, 1100)),
)
osc_packets = st.one_of(_blob, st.lists(_blob, max_size=4).map(lambda e: osc_bundle(*e)))
enttec_streams = st.lists(
    st.builds(
        enttec_frame,
        _or(6, st.sampled_from([3, 10, 0xFF])),
        st.one_of(_slots, _slots.map(lambda s: b"\x00" + s)),
        length=st.one_of(st.none(), _u16),
    ),
    min_size=1,
    max_size=3,
).map(b"".join)
opendmx_packets = st.builds(bytes.__add__, st.sampled_from([b"\x00", b"\xcc", b""]), _slots)

PACKETS: dict[WireProtocol, st.SearchStrategy[bytes]] = {
    "artnet": artnet_packets,
    "sacn": sacn_packets,
    "osc": osc_packets,
    "enttec": enttec_streams,
    "opendmx": opendmx_packets,
}


def hostile(protocol: WireProtocol) -> st.SearchStrategy[bytes]:
    """A length-consistent packet for `protocol`, sometimes with a few bytes flipped."""

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        raw = bytearray(draw(PACKETS[protocol]))
        for _ in range(draw(_or(0, st.integers(1, 3))) if raw else 0):
            raw[draw(st.integers(0, len(raw) - 1))] = draw(_byte)
        return bytes(raw)

    return build()


# ---- decoders -----------------------------------------------------------------------------


def _payloads(protocol: WireProtocol, raw: bytes) -> list[bytes]:
    """Decode `raw` with the simulator's own decoder; the DMX payloads it yields."""
    if protocol == "artnet":
        frame = sim_artnet.parse(raw)
        return [frame.data] if isinstance(frame, sim_artnet.ArtDmxFrame) else []
    if protocol == "sacn":
        packet = sim_sacn.parse(raw)
        return [packet.data] if isinstance(packet, sim_sacn.SacnDataFrame) else []
    if protocol == "osc":
        parsed = sim_osc.parse(raw)
        return [a for a in _osc_args(parsed) if isinstance(a, bytes)]
    if protocol == "enttec":
        stream = sim_enttec.WidgetStream()
        frames = stream.feed(raw)
        return [sim_enttec.parse_send_dmx(f.data).slots for f in frames if f.label == 6]
    return []  # Open DMX has no decoder of its own: the core checks start code + slots


def _osc_args(packet: sim_osc.OscMessageFrame | sim_osc.OscBundleFrame) -> list[object]:
    if isinstance(packet, sim_osc.OscMessageFrame):
        return list(packet.args)
    return [a for e in packet.elements for a in _osc_args(e)]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_decoders_return_a_frame_or_their_documented_error(protocol: WireProtocol) -> None:
    @FUZZ
    @given(hostile(protocol))
    def check(raw: bytes) -> None:
        _check_decoder(protocol, raw)

    check()


def _check_decoder(protocol: WireProtocol, raw: bytes) -> None:
    try:
        payloads = _payloads(protocol, raw)
    except RemoteProtocolError:
        return
    if protocol != "osc":  # an OSC blob is any size; the core bounds universe blobs
        assert all(len(p) <= MAX_SLOTS for p in payloads), [len(p) for p in payloads]


DECODERS: dict[str, Callable[[bytes], object]] = {
    "artnet": sim_artnet.parse,
    "sacn": sim_sacn.parse,
    "osc": sim_osc.parse,
    "enttec-label6": sim_enttec.parse_send_dmx,
    "enttec-stream": sim_enttec.WidgetStream().feed,
}


@FAST
@given(st.sampled_from(sorted(DECODERS)), st.binary(max_size=1200))
def test_decoders_raise_only_their_documented_error_on_random_bytes(
    decoder: str, raw: bytes
) -> None:
    with contextlib.suppress(RemoteProtocolError):
        DECODERS[decoder](raw)


@pytest.mark.parametrize("slots", [513, 600, 1100])
def test_sacn_decoder_refuses_more_than_512_slots_with_consistent_lengths(slots: int) -> None:
    with pytest.raises(RemoteProtocolError, match=f"property value count {slots + 1}"):
        sim_sacn.parse(sacn_data(bytes(slots)))


def test_sacn_decoder_reads_512_slots_and_none() -> None:
    full = sim_sacn.parse(sacn_data(level(3)))
    empty = sim_sacn.parse(sacn_data(b""))
    assert isinstance(full, sim_sacn.SacnDataFrame)
    assert isinstance(empty, sim_sacn.SacnDataFrame)
    assert (full.data, empty.data) == (level(3), b"")


def test_artnet_decoder_refuses_a_net_with_bit_7_set() -> None:
    with pytest.raises(RemoteProtocolError, match="Net=0x80"):
        sim_artnet.parse(art_dmx(level(1), net=0x80))


# ---- the core -----------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_core_never_raises_counts_and_keeps_working(mini: VenueJob, protocol: WireProtocol) -> None:
    @FUZZ
    @given(hostile(protocol))
    def check(raw: bytes) -> None:
        _check_core(mini, protocol, raw)

    check()


def _check_core(mini: VenueJob, protocol: WireProtocol, raw: bytes) -> None:
    core = all_routes_core(mini)
    with collect_warnings() as warnings:
        core.receive(0.0, protocol, raw, PEER)
    stats = core.statistics()
    assert warnings.count == stats.malformed.total
    if protocol != "enttec":  # a widget stream may hold several frames, or half of one
        assert stats.packets.total == 1
    still_works(core, protocol)


def test_sacn_packet_with_600_slots_is_counted_dropped_and_logged(mini: VenueJob) -> None:
    core = all_routes_core(mini)
    with collect_warnings() as warnings:
        core.receive(0.0, "sacn", sacn_data(bytes([9]) * 600), PEER)
    stats = core.statistics()
    assert (stats.packets.sacn, stats.malformed.sacn, warnings.count) == (1, 1, 1)
    assert "property value count 601" in warnings.records[0].getMessage()
    assert not core.dmx.any()
    still_works(core, "sacn")


@pytest.mark.network
async def test_sacn_listener_survives_a_600_slot_packet_over_udp(make_core: MakeCore) -> None:
    """What killed `citypulse simulate`: the packet over a real socket, then a good one."""
    core = make_core(Protocol.SACN)
    async with Simulator(core=core, clock=ManualClock(), artnet_port=None, osc_port=None) as sim:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            tx.sendto(sacn_data(bytes([9]) * 600), ("127.0.0.1", sim.sacn_port))
            tx.sendto(sacn_data(level(4), sequence=1), ("127.0.0.1", sim.sacn_port))
            async with asyncio.timeout(5):
                await sim.wait_received(2)
    stats = core.statistics()
    assert (stats.packets.sacn, stats.malformed.sacn) == (2, 1)
    assert (core.dmx[0] == 4).all()
