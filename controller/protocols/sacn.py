"""L5 sans-IO sACN (ANSI E1.31-2016): data, sync and discovery packets, and the sender.

Byte layouts follow ANSI E1.31-2016 (root, framing, DMP, synchronization and universe
discovery layers). Every multi-byte field is big-endian; every PDU starts with
Flags & Length = 0x7000 | length, counted from that field to the end of the packet.
The codec and its sender share this module (one protocol, one module), which takes it a
little past the 400-line guide.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias, assert_never

import numpy as np
from numpy.typing import NDArray

from controller.errors import LocalProtocolError, RemoteProtocolError, Truncated
from controller.protocols.datagram import (
    DMX_SLOTS,
    Burst,
    Datagram,
    Mode,
    PacketBatch,
    UniverseStream,
)
from controller.protocols.fields import check_range, from_peer

__all__ = [
    "DISCOVERY_GROUP",
    "DISCOVERY_UNIVERSE",
    "PORT",
    "DataPacket",
    "DiscoveryPacket",
    "ExtendedVector",
    "RootVector",
    "SacnDataBatch",
    "SacnPacket",
    "SacnSender",
    "SyncPacket",
    "decode",
    "encode",
    "multicast_group",
]

PORT = 5568  # E1.31: ACN_SDT_MULTICAST_PORT, always the destination port
ACN_PACKET_IDENTIFIER = b"ASC-E1.17\x00\x00\x00"  # E1.31 root layer @4, 12 bytes
_PREAMBLE = struct.pack(">HH", 0x0010, 0x0000) + ACN_PACKET_IDENTIFIER  # @0..15, fixed
DISCOVERY_UNIVERSE = 64214  # E1.31: universe discovery is sent on universe 64214 ...
DISCOVERY_GROUP = "239.255.250.214"  # ... i.e. this multicast group
DISCOVERY_PAGE_SIZE = 512  # E1.31 universe discovery: at most 512 universes per page
_FLAGS = 0x7000  # E1.31: high nibble of every Flags & Length field
_VECTOR_DATA_PACKET = 0x00000002  # framing layer vector of a data packet
_VECTOR_DMP_SET_PROPERTY = 0x02  # DMP layer vector
_VECTOR_UNIVERSE_LIST = 0x00000001  # universe discovery layer vector
_PREVIEW, _TERMINATED, _FORCE_SYNC = 0x80, 0x40, 0x20  # E1.31 framing Options bits 7, 6, 5


class RootVector(enum.IntEnum):
    """E1.31 root layer vector @18."""

    DATA = 0x00000004  # VECTOR_ROOT_E131_DATA
    EXTENDED = 0x00000008  # VECTOR_ROOT_E131_EXTENDED: sync and discovery


class ExtendedVector(enum.IntEnum):
    """E1.31 framing layer vector @40 under the EXTENDED root vector."""

    SYNCHRONIZATION = 0x00000001
    DISCOVERY = 0x00000002


_ROOT = ">HH12sHI16s"  # preamble, post-amble, ACN id, flags&length, vector, CID (38 bytes)
_DATA = struct.Struct(_ROOT + "HI64sBHBBH" + "HBBHHHB")  # + framing @38, DMP @115 (126 bytes)
_SYNC = struct.Struct(_ROOT + "HIBHH")  # + flags&length, vector, sequence, sync, reserved
_DISCOVERY = struct.Struct(_ROOT + "HI64s4x" + "HIBB")  # + framing @38, discovery layer @112


def _check_source(cid: bytes, source_name: str) -> None:
    if len(cid) != 16:  # E1.31: CID is a 16-byte UUID
        msg = f"len(cid)={len(cid)!r}, expected 16"
        raise LocalProtocolError(msg)
    try:
        raw = source_name.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate
        msg = f"source_name={source_name!r} is not UTF-8 text"
        raise LocalProtocolError(msg) from exc
    if len(raw) > 63 or b"\x00" in raw:  # E1.31: 64-byte field, NUL-terminated UTF-8
        msg = f"source_name={source_name!r} must be at most 63 UTF-8 bytes without NUL"
        raise LocalProtocolError(msg)


@dataclass(frozen=True, slots=True, kw_only=True)
class DataPacket:
    """One universe of DMX (E1.31 data packet, 126 + N bytes)."""

    cid: bytes  # E1.31 root @22: sender UUID, constant for the life of the source
    source_name: str  # E1.31 framing @44: UTF-8, <= 63 bytes
    priority: int = 100  # E1.31 framing @108: 0..200, default 100
    sync_address: int = 0  # E1.31 framing @109: 0 = unsynchronised, else sync universe
    sequence: int = 0  # E1.31 framing @111: per-universe counter, wraps 255 -> 0
    preview: bool = False  # E1.31 framing @112 Options bit 7: Preview_Data
    stream_terminated: bool = False  # Options bit 6: Stream_Terminated
    force_sync: bool = False  # Options bit 5: Force_Synchronization
    universe: int  # E1.31 framing @113: 1..63999
    start_code: int = 0  # E1.31 DMP @125: property value 0, 0x00 levels, 0xDD priorities
    data: bytes  # E1.31 DMP @126: slots 1..N, N = 0..512

    def __post_init__(self) -> None:
        _check_source(self.cid, self.source_name)
        check_range("priority", self.priority, 200)
        check_range("sync_address", self.sync_address, 63999)
        check_range("sequence", self.sequence, 255)
        check_range("universe", self.universe, 63999, lo=1)
        check_range("start_code", self.start_code, 255)
        check_range("len(data)", len(self.data), DMX_SLOTS)

    @property
    def options(self) -> int:
        """The framing layer Options byte."""
        return (
            self.preview * _PREVIEW
            | self.stream_terminated * _TERMINATED
            | self.force_sync * _FORCE_SYNC
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncPacket:
    """Latch every data packet carrying `sync_address` (E1.31 universe sync, 49 bytes)."""

    cid: bytes  # E1.31 root @22
    sequence: int = 0  # E1.31 sync @44: its own counter per sync universe
    sync_address: int  # E1.31 sync @45: the sync universe, 1..63999

    def __post_init__(self) -> None:
        _check_source(self.cid, "")
        check_range("sequence", self.sequence, 255)
        check_range("sync_address", self.sync_address, 63999, lo=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscoveryPacket:
    """One page of the universes a source sends (E1.31 universe discovery, 120 + 2n bytes)."""

    cid: bytes  # E1.31 root @22
    source_name: str  # E1.31 framing @44
    page: int = 0  # E1.31 discovery @118: 0-based page number
    last_page: int = 0  # E1.31 discovery @119
    universes: tuple[int, ...] = ()  # E1.31 discovery @120: sorted ascending, <= 512 per page

    def __post_init__(self) -> None:
        _check_source(self.cid, self.source_name)
        check_range("last_page", self.last_page, 255)
        check_range("page", self.page, self.last_page)
        check_range("len(universes)", len(self.universes), DISCOVERY_PAGE_SIZE)
        for universe in self.universes:
            check_range("universe", universe, 63999, lo=1)
        if any(a >= b for a, b in zip(self.universes, self.universes[1:], strict=False)):
            msg = f"universes={self.universes!r} must be sorted ascending without repeats"
            raise LocalProtocolError(msg)


SacnPacket: TypeAlias = DataPacket | SyncPacket | DiscoveryPacket


def multicast_group(universe: int) -> str:
    """IPv4 group of a universe: 239.255.hi.lo (E1.31 §9.3.1); also for 64214 (discovery)."""
    if universe != DISCOVERY_UNIVERSE:
        check_range("universe", universe, 63999, lo=1)
    return f"239.255.{universe >> 8}.{universe & 0xFF}"


def encode(packet: SacnPacket) -> bytes:
    """Serialise one E1.31 packet. Values were validated when the packet was built."""
    match packet:
        case DataPacket():
            n = len(packet.data)
            p = packet
            return _DATA.pack(
                0x0010, 0, ACN_PACKET_IDENTIFIER, _FLAGS | (110 + n), RootVector.DATA, p.cid,
                _FLAGS | (88 + n), _VECTOR_DATA_PACKET, p.source_name.encode(), p.priority,
                p.sync_address, p.sequence, p.options, p.universe,
                _FLAGS | (11 + n), _VECTOR_DMP_SET_PROPERTY, 0xA1, 0x0000, 0x0001, n + 1,
                p.start_code,
            ) + p.data  # fmt: skip
        case SyncPacket():
            return _SYNC.pack(
                0x0010, 0, ACN_PACKET_IDENTIFIER, _FLAGS | 33, RootVector.EXTENDED, packet.cid,
                _FLAGS | 11, ExtendedVector.SYNCHRONIZATION, packet.sequence,
                packet.sync_address, 0,
            )  # fmt: skip
        case DiscoveryPacket():
            n = len(packet.universes)
            d = packet
            return _DISCOVERY.pack(
                0x0010, 0, ACN_PACKET_IDENTIFIER, _FLAGS | (104 + 2 * n), RootVector.EXTENDED,
                d.cid, _FLAGS | (82 + 2 * n), ExtendedVector.DISCOVERY, d.source_name.encode(),
                _FLAGS | (8 + 2 * n), _VECTOR_UNIVERSE_LIST, d.page, d.last_page,
            ) + struct.pack(f">{n}H", *d.universes)  # fmt: skip
        case _:  # pragma: no cover - exhaustive over SacnPacket
            assert_never(packet)


def _expect(name: str, got: int, want: int, width: int = 4) -> None:
    """Compare a fixed field; shown as `width` hex digits, or in decimal when 0."""
    if got != want:
        fmt = f"#0{width + 2}x" if width else "d"
        msg = f"{name}={got:{fmt}}, expected {want:{fmt}}"
        raise RemoteProtocolError(msg)


def _source_name(raw: bytes) -> str:
    end = raw.find(b"\x00")
    if end < 0:
        msg = "source_name is not NUL-terminated"
        raise RemoteProtocolError(msg)
    try:
        return raw[:end].decode("utf-8")
    except UnicodeDecodeError as exc:
        msg = f"source_name={raw[:end]!r} is not UTF-8"
        raise RemoteProtocolError(msg) from exc


def _decode_data(buf: bytes) -> DataPacket:
    if len(buf) < _DATA.size:
        msg = f"root length={len(buf) - 16} too short for a data packet (minimum 110)"
        raise RemoteProtocolError(msg)
    f = _DATA.unpack_from(buf)
    n = len(buf) - _DATA.size
    _expect("framing flags&length", f[6], _FLAGS | (88 + n))
    _expect("framing vector", f[7], _VECTOR_DATA_PACKET, 8)
    _expect("dmp flags&length", f[14], _FLAGS | (11 + n))
    _expect("dmp vector", f[15], _VECTOR_DMP_SET_PROPERTY, 2)
    _expect("dmp address&data type", f[16], 0xA1, 2)
    _expect("dmp first property address", f[17], 0x0000)
    _expect("dmp address increment", f[18], 0x0001)
    _expect("dmp property value count", f[19], n + 1, 0)
    name, options = _source_name(f[8]), f[12]
    return from_peer(
        lambda: DataPacket(
            cid=f[5], source_name=name, priority=f[9], sync_address=f[10], sequence=f[11],
            preview=bool(options & _PREVIEW), stream_terminated=bool(options & _TERMINATED),
            force_sync=bool(options & _FORCE_SYNC), universe=f[13], start_code=f[20],
            data=buf[_DATA.size :],
        )
    )  # fmt: skip


def _decode_sync(buf: bytes) -> SyncPacket:
    _expect("root length", len(buf) - 16, _SYNC.size - 16, 0)
    f = _SYNC.unpack(buf)
    _expect("framing flags&length", f[6], _FLAGS | 11)
    return from_peer(lambda: SyncPacket(cid=f[5], sequence=f[8], sync_address=f[9]))


def _decode_discovery(buf: bytes) -> DiscoveryPacket:
    n, odd = divmod(len(buf) - _DISCOVERY.size, 2)
    if n < 0 or odd or n > DISCOVERY_PAGE_SIZE:
        msg = f"root length={len(buf) - 16} is not 104 + 2n with n in 0..512"
        raise RemoteProtocolError(msg)
    f = _DISCOVERY.unpack_from(buf)
    _expect("framing flags&length", f[6], _FLAGS | (82 + 2 * n))
    _expect("discovery flags&length", f[9], _FLAGS | (8 + 2 * n))
    _expect("discovery vector", f[10], _VECTOR_UNIVERSE_LIST, 8)
    name, universes = _source_name(f[8]), struct.unpack_from(f">{n}H", buf, _DISCOVERY.size)
    return from_peer(
        lambda: DiscoveryPacket(
            cid=f[5], source_name=name, page=f[11], last_page=f[12], universes=universes
        )
    )


def decode(data: bytes | memoryview) -> SacnPacket:
    """Parse one E1.31 datagram, dispatching on the root and framing vectors.

    Raises:
        Truncated: the datagram ends before the root layer says it does.
        RemoteProtocolError: bad preamble or identifier, unknown vector, inconsistent lengths
            or a field out of range.
    """
    buf = bytes(data)
    if not _PREAMBLE.startswith(buf[:16]):  # a short prefix of the preamble is merely truncated
        msg = f"preamble={buf[:16].hex()!r}, expected {_PREAMBLE.hex()!r}"
        raise RemoteProtocolError(msg)
    if len(buf) < 38:  # the fixed root layer, through the CID
        msg = f"truncated root layer: need 38 bytes, got {len(buf)}"
        raise Truncated(msg)
    flags_length, vector = struct.unpack_from(">HI", buf, 16)
    _expect("root flags", flags_length >> 12, 0x7, 1)
    total = 16 + (flags_length & 0x0FFF)  # root PDU length counts from offset 16
    if len(buf) < total:
        msg = f"truncated E1.31 packet: root length says {total} bytes, got {len(buf)}"
        raise Truncated(msg)
    _expect("datagram length", len(buf), total, 0)
    if vector == RootVector.DATA:
        return _decode_data(buf)
    if vector != RootVector.EXTENDED:
        msg = f"root vector={vector:#010x} not supported (expected 0x00000004 or 0x00000008)"
        raise RemoteProtocolError(msg)
    if len(buf) < 44:
        msg = f"root length={len(buf) - 16} too short for an extended packet"
        raise RemoteProtocolError(msg)
    framing_vector = int.from_bytes(buf[40:44], "big")
    if framing_vector == ExtendedVector.SYNCHRONIZATION:
        return _decode_sync(buf)
    if framing_vector == ExtendedVector.DISCOVERY:
        return _decode_discovery(buf)
    msg = f"framing vector={framing_vector:#010x} not supported (expected 0x00000001 or 0x00000002)"
    raise RemoteProtocolError(msg)


class SacnDataBatch(PacketBatch):
    """512-slot data packets, one row per universe; rows match `encode(DataPacket(...))`.

    Besides `sequences` and `payloads`, the owner may write the `options` column.
    """

    def __init__(self, universes: Sequence[int], *, cid: bytes, source_name: str,
                 priority: int = 100, sync_address: int = 0, preview: bool = False,
                 force_sync: bool = False) -> None:  # fmt: skip
        self.universes = tuple(universes)
        templates = [
            encode(DataPacket(cid=cid, source_name=source_name, priority=priority,
                              sync_address=sync_address, preview=preview, force_sync=force_sync,
                              universe=universe, data=bytes(DMX_SLOTS)))
            for universe in self.universes
        ]  # fmt: skip
        super().__init__(templates, sequence_offset=111, payload_offset=_DATA.size)  # framing @111
        self.options: NDArray[np.uint8] = self.packets[:, 112]  # framing: Options @112


class SacnSender(UniverseStream):
    """Stateful E1.31 source: sequences, keep-alive, sync, termination and discovery by `now`.

    Rules:
    - Data goes to each universe's multicast group on port 5568 unless `unicast` names a
      destination for that universe (or for the sync or discovery universe).
    - Each universe has its own Sequence, 0..255 wrapping to 0; the sync packet has its own.
    - "on_change" sends a universe when its data changed, then a keep-alive every
      `keepalive_s` (E1.31 §6.6.2: 800..1000 ms; the default 0.9 s leaves room for a late
      `poll`; the three-packet burst before suppression is not sent); "constant" sends every
      universe passed to `frame`.
    - With `sync_address`, data packets carry it and one sync packet follows every burst.
    - `terminate` sends 3 packets with Stream_Terminated per universe (E1.31 §6.2.6), then
      stops their keep-alives until they are sent again.
    - Universe discovery (E1.31 §8) lists the active universes every
      `discovery_interval_s` seconds, to 239.255.250.214.
    """

    def __init__(
        self,
        *,
        cid: bytes,
        source_name: str,
        universes: Iterable[int],
        priority: int = 100,
        sync_address: int = 0,
        preview: bool = False,
        force_sync: bool = False,
        unicast: Mapping[int, tuple[str, int]] | None = None,
        keepalive_s: float = 0.9,
        discovery_interval_s: float | None = 10.0,
        mode: Mode = "on_change",
    ) -> None:
        order = sorted(set(universes))
        batch = SacnDataBatch(
            order, cid=cid, source_name=source_name, priority=priority,
            sync_address=sync_address, preview=preview, force_sync=force_sync,
        )  # fmt: skip
        batch.sequences[:] = 255  # so that the first packet of each universe carries 0
        destinations = {u: (multicast_group(u), PORT) for u in [*order, sync_address] if u}
        destinations |= {DISCOVERY_UNIVERSE: (DISCOVERY_GROUP, PORT)} | dict(unicast or {})
        super().__init__(
            batch=batch,
            universes=order,
            destinations=[destinations[u] for u in order],
            keepalive_s=keepalive_s,
            mode=mode,
        )
        self._data_batch = batch
        self._cid, self._source_name = cid, source_name
        self._sync_address, self._sync_sequence = sync_address, 0
        self._sync_destination = destinations.get(sync_address)
        self._discovery_destination = destinations[DISCOVERY_UNIVERSE]
        self._discovery_interval_s = discovery_interval_s
        self._next_discovery: float | None = None

    def burst(self, now: float) -> Burst:
        """Data due at `now` and universe discovery if due; the sync packet apart."""
        data, sync = super().burst(now)
        return Burst(data + self.discovery(now), sync)

    def next_deadline(self) -> float | None:
        """The next `now` at which `poll` has a keep-alive or discovery to send, or None."""
        keepalive = self._schedule.next_deadline()  # None: nothing active, nothing to discover
        if keepalive is None or self._next_discovery is None:
            return keepalive
        return min(keepalive, self._next_discovery)

    def terminate(self, now: float, universes: Iterable[int] | None = None) -> list[Datagram]:
        """Three Stream_Terminated packets per active universe (or per listed universe).

        `now` is accepted for symmetry with `poll`; termination is never deferred.
        """
        del now
        if universes is None:
            rows = self._schedule.active_rows()
        else:
            rows = np.array([self._row(u) for u in universes], np.intp)
        options = self._data_batch.options
        base = options[rows].copy()
        options[rows] = base | _TERMINATED
        out = [d for _ in range(3) for d in self._emit(rows)]  # E1.31 §6.2.6: "3 times"
        options[rows] = base
        self._schedule.deactivate(rows)
        return out

    def discovery(self, now: float) -> list[Datagram]:
        """Universe discovery pages if due at `now` (every `discovery_interval_s`)."""
        active = self._schedule.active_rows()
        if self._discovery_interval_s is None or active.size == 0:
            self._next_discovery = None
            return []
        if self._next_discovery is not None and now < self._next_discovery:
            return []
        self._next_discovery = now + self._discovery_interval_s
        listed = [self._order[i] for i in active.tolist()]
        pages = [listed[i : i + DISCOVERY_PAGE_SIZE] for i in range(0, len(listed), 512)]
        packets = (
            DiscoveryPacket(cid=self._cid, source_name=self._source_name, page=page,
                            last_page=len(pages) - 1, universes=tuple(chunk))
            for page, chunk in enumerate(pages)
        )  # fmt: skip
        return [Datagram(encode(p), self._discovery_destination) for p in packets]

    def _next_sequence(self, current: NDArray[np.uint8]) -> NDArray[np.uint8]:
        return ((current.astype(np.uint16) + 1) & 0xFF).astype(np.uint8)  # wraps 255 -> 0

    def _sync(self) -> list[Datagram]:
        if self._sync_destination is None:
            return []
        sync = SyncPacket(
            cid=self._cid, sequence=self._sync_sequence, sync_address=self._sync_address
        )
        self._sync_sequence = (self._sync_sequence + 1) % 256
        return [Datagram(encode(sync), self._sync_destination)]
