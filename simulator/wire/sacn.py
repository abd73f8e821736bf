"""Simulator-side sACN (E1.31-2016) reader: data, universe sync and universe discovery packets.

Offsets come straight from the E1.31-2016 packet tables (data, synchronization and universe
discovery packets); every read is preceded by a length check. Every bound the standard sets
on a field is checked here, so a decoded data packet carries a universe 1..63999 and at most
512 slots whatever its (consistent) lengths say.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.errors import RemoteProtocolError, Truncated

__all__ = ["SacnDataFrame", "SacnDiscoveryFrame", "SacnSyncFrame", "parse", "sequence_is_newer"]

ROOT_PREFIX = bytes.fromhex("0010 0000") + b"ASC-E1.17\x00\x00\x00"  # @0..15
VECTOR_ROOT_DATA = 0x00000004
VECTOR_ROOT_EXTENDED = 0x00000008
VECTOR_FRAMING_DATA = 0x00000002
VECTOR_FRAMING_SYNC = 0x00000001
VECTOR_FRAMING_DISCOVERY = 0x00000002
MAX_SLOTS = 512  # E1.31-2016 carries one DMX512-A universe: a START code + up to 512 slots


@dataclass(frozen=True, slots=True)
class SacnDataFrame:
    cid: bytes
    source_name: str
    priority: int
    sync_address: int
    sequence: int
    options: int
    universe: int
    start_code: int
    data: bytes

    @property
    def preview(self) -> bool:
        return bool(self.options & 0x80)

    @property
    def stream_terminated(self) -> bool:
        return bool(self.options & 0x40)

    @property
    def force_sync(self) -> bool:
        return bool(self.options & 0x20)


@dataclass(frozen=True, slots=True)
class SacnSyncFrame:
    cid: bytes
    sequence: int
    sync_address: int


@dataclass(frozen=True, slots=True)
class SacnDiscoveryFrame:
    cid: bytes
    source_name: str
    page: int
    last_page: int
    universes: tuple[int, ...]


def _u16(buf: bytes, offset: int) -> int:
    return int.from_bytes(buf[offset : offset + 2], "big")


def _u32(buf: bytes, offset: int) -> int:
    return int.from_bytes(buf[offset : offset + 4], "big")


def _pdu_length(buf: bytes, offset: int, layer: str) -> int:
    """Length from a Flags & Length field; it must run exactly to the end of the packet."""
    value = _u16(buf, offset)
    if value >> 12 != 0x7 or (value & 0x0FFF) != len(buf) - offset:
        msg = f"{layer} flags&length {value:#06x} does not fit a {len(buf)}-byte packet"
        raise RemoteProtocolError(msg)
    return value & 0x0FFF


def _name(raw: bytes) -> str:
    try:
        return raw.split(b"\x00", 1)[0].decode("utf-8")
    except UnicodeDecodeError as exc:
        msg = "source name is not UTF-8"
        raise RemoteProtocolError(msg) from exc


def _data(buf: bytes) -> SacnDataFrame:
    if len(buf) < 126:
        msg = f"data packet of {len(buf)} bytes is shorter than 126"
        raise RemoteProtocolError(msg)
    _pdu_length(buf, 38, "framing")
    _pdu_length(buf, 115, "dmp")
    if _u32(buf, 40) != VECTOR_FRAMING_DATA or buf[117] != 0x02 or buf[118] != 0xA1:
        msg = "data packet framing/DMP vectors or address type are wrong"
        raise RemoteProtocolError(msg)
    if _u16(buf, 119) != 0 or _u16(buf, 121) != 1 or _u16(buf, 123) != len(buf) - 125:
        msg = "DMP first address, increment or property count is wrong"
        raise RemoteProtocolError(msg)
    if len(buf) > 126 + MAX_SLOTS:  # E1.31-2016, DMP layer Property Value Count: 1..513
        msg = (
            f"property value count {len(buf) - 125} is outside 1..513"
            f" (a START code and at most {MAX_SLOTS} slots)"
        )
        raise RemoteProtocolError(msg)
    universe = _u16(buf, 113)
    if not 1 <= universe <= 63999 or buf[108] > 200:
        msg = f"universe {universe} or priority {buf[108]} out of range"
        raise RemoteProtocolError(msg)
    return SacnDataFrame(
        cid=buf[22:38], source_name=_name(buf[44:108]), priority=buf[108],
        sync_address=_u16(buf, 109), sequence=buf[111], options=buf[112], universe=universe,
        start_code=buf[125], data=buf[126:],
    )  # fmt: skip


def _sync(buf: bytes) -> SacnSyncFrame:
    if len(buf) != 49:
        msg = f"sync packet is {len(buf)} bytes, not 49"
        raise RemoteProtocolError(msg)
    _pdu_length(buf, 38, "framing")
    return SacnSyncFrame(cid=buf[22:38], sequence=buf[44], sync_address=_u16(buf, 45))


def _discovery(buf: bytes) -> SacnDiscoveryFrame:
    if len(buf) < 120 or len(buf) % 2:
        msg = f"discovery packet of {len(buf)} bytes is not 120 + 2n"
        raise RemoteProtocolError(msg)
    _pdu_length(buf, 38, "framing")
    _pdu_length(buf, 112, "discovery")
    if _u32(buf, 114) != 0x00000001:
        msg = "discovery layer vector is not VECTOR_UNIVERSE_DISCOVERY_UNIVERSE_LIST"
        raise RemoteProtocolError(msg)
    universes = tuple(_u16(buf, offset) for offset in range(120, len(buf), 2))
    return SacnDiscoveryFrame(
        cid=buf[22:38], source_name=_name(buf[44:108]), page=buf[118], last_page=buf[119],
        universes=universes,
    )  # fmt: skip


def parse(
    data: bytes | bytearray | memoryview,
) -> SacnDataFrame | SacnSyncFrame | SacnDiscoveryFrame:
    """Decode one E1.31 datagram as a receiver sees it."""
    buf = bytes(data)
    head = min(len(buf), 16)
    if buf[:head] != ROOT_PREFIX[:head]:
        msg = "not an E1.31 packet: bad preamble or ACN packet identifier"
        raise RemoteProtocolError(msg)
    if len(buf) < 44:
        msg = f"truncated E1.31 packet: {len(buf)} bytes"
        raise Truncated(msg)
    root_length = _u16(buf, 16) & 0x0FFF
    if len(buf) < 16 + root_length:
        msg = f"truncated E1.31 packet: {len(buf)} of {16 + root_length} bytes"
        raise Truncated(msg)
    _pdu_length(buf, 16, "root")
    root_vector, framing_vector = _u32(buf, 18), _u32(buf, 40)
    if root_vector == VECTOR_ROOT_DATA:
        return _data(buf)
    if root_vector == VECTOR_ROOT_EXTENDED and framing_vector == VECTOR_FRAMING_SYNC:
        return _sync(buf)
    if root_vector == VECTOR_ROOT_EXTENDED and framing_vector == VECTOR_FRAMING_DISCOVERY:
        return _discovery(buf)
    msg = f"unhandled vectors root={root_vector:#010x} framing={framing_vector:#010x}"
    raise RemoteProtocolError(msg)


def sequence_is_newer(last: int, new: int) -> bool:
    """E1.31 receiver rule: discard when int8(new - last) is in -19..0 (OLA's E1.31 inflator)."""
    diff = (new - last) & 0xFF
    signed = diff - 256 if diff > 127 else diff
    return not -20 < signed <= 0
