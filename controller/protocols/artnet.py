"""L5 sans-IO Art-Net 4 (protocol 14): ArtDmx, ArtSync, ArtPoll, ArtPollReply and the ArtDmx sender.

Byte layouts follow the Art-Net 4 specification's packet tables. OpCode, and ArtPollReply's
Port and EstaMan, are little-endian; every other multi-byte field is "Hi then Lo", i.e.
big-endian.
"""

from __future__ import annotations

import enum
import ipaddress
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias, assert_never

import numpy as np
from numpy.typing import NDArray

from controller.errors import LocalProtocolError, RemoteProtocolError, Truncated
from controller.protocols.datagram import DMX_SLOTS, Datagram, Mode, PacketBatch, UniverseStream
from controller.protocols.fields import check_range, from_peer

__all__ = [
    "ARTNET_ID",
    "PORT",
    "PROTOCOL_VERSION",
    "ArtDmx",
    "ArtDmxBatch",
    "ArtNetPacket",
    "ArtNetSender",
    "ArtPoll",
    "ArtPollReply",
    "ArtSync",
    "OpCode",
    "decode",
    "encode",
    "port_address",
    "split_port_address",
]

PORT = 6454  # Art-Net 4: UDP port 0x1936, both source and destination
ARTNET_ID = b"Art-Net\x00"  # Art-Net 4: ID[8] opens every packet
PROTOCOL_VERSION = 14  # Art-Net 4: ProtVerHi/Lo = 0/14; receivers accept ProtVer >= 14
DMX_HEADER_SIZE = 18  # Art-Net 4, ArtDmx: Data starts at offset 18
POLL_SIZE = 22  # Art-Net 4, ArtPoll: 22 bytes ...
POLL_MIN_SIZE = 14  # ... older controllers send only up to DiagPriority
POLL_REPLY_SIZE = 239  # Art-Net 4, ArtPollReply: 239 bytes ...
POLL_REPLY_MIN_SIZE = 198  # ... accept >= 198, "any missing fields are assumed to be zero"


class OpCode(enum.IntEnum):
    """Art-Net 4 OpCodes this module speaks (sent little-endian at offset 8)."""

    POLL = 0x2000
    POLL_REPLY = 0x2100
    DMX = 0x5000
    SYNC = 0x5200


# Bodies from offset 10, big-endian ("Hi then Lo").
_DMX = struct.Struct(">HBBBBH")  # ProtVer, Sequence, Physical, SubUni, Net, Length
_SYNC = struct.Struct(">HBB")  # ProtVer, Aux1, Aux2
_POLL = struct.Struct(">HBBHHHH")  # ProtVer, Flags, DiagPriority, Target Top/Bottom, EstaMan, Oem
# ArtPollReply in wire order from offset 10 (Art-Net 4, ArtPollReply field table); "2s" is a little-endian
# uint16 (Port, EstaMan), "" names the spare and filler bytes.
_REPLY_LAYOUT = (
    ("ip", "4s"), ("port", "2s"), ("version_info", "H"), ("net_switch", "B"),
    ("sub_switch", "B"), ("oem", "H"), ("ubea_version", "B"), ("status1", "B"),
    ("esta_man", "2s"), ("short_name", "18s"), ("long_name", "64s"), ("node_report", "64s"),
    ("num_ports", "H"), ("port_types", "4s"), ("good_input", "4s"), ("good_output_a", "4s"),
    ("sw_in", "4s"), ("sw_out", "4s"), ("acn_priority", "B"), ("sw_macro", "B"),
    ("sw_remote", "B"), ("", "3x"), ("style", "B"), ("mac", "6s"), ("bind_ip", "4s"),
    ("bind_index", "B"), ("status2", "B"), ("good_output_b", "4s"), ("status3", "B"),
    ("default_resp_uid", "6s"), ("user", "H"), ("refresh_rate", "H"), ("", "11x"),
)  # fmt: skip
_POLL_FIELDS = ("flags", "diag_priority", "target_port_address_top", "target_port_address_bottom",
                "esta_man", "oem")  # fmt: skip
_REPLY_CODES = {name: code for name, code in _REPLY_LAYOUT if name}
_REPLY_FIELDS = tuple(_REPLY_CODES)
_POLL_REPLY = struct.Struct(">" + "".join(code for _, code in _REPLY_LAYOUT))
_NAMES = ("short_name", "long_name", "node_report")


@dataclass(frozen=True, slots=True, kw_only=True)
class ArtDmx:
    """One universe of zero-start-code DMX (OpDmx 0x5000)."""

    sequence: int = 0  # Art-Net 4, ArtDmx: 0 disables re-sequencing, else 1..255 wrapping to 1
    physical: int = 0  # Art-Net 4, ArtDmx: informational physical input port
    port_address: int  # Art-Net 4: 15-bit Port-Address = Net<<8 | SubNet<<4 | Universe
    data: bytes  # Art-Net 4, ArtDmx: Length is even, 2..512; odd lengths are padded on encode

    def __post_init__(self) -> None:
        check_range("sequence", self.sequence, 255)
        check_range("physical", self.physical, 255)
        check_range("port_address", self.port_address, 32767, why=" (15-bit Port-Address)")
        check_range("len(data)", len(self.data), DMX_SLOTS, lo=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class ArtSync:
    """Latch the ArtDmx received since the previous ArtSync (OpSync 0x5200); Aux1/Aux2 are 0."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ArtPoll:
    """Discovery request (OpPoll 0x2000), Art-Net 4 layout."""

    flags: int = 0  # Art-Net 4, ArtPoll: bit1 reply on change, bit2-3 diagnostics, bit5 targeted
    diag_priority: int = 0  # Art-Net 4, ArtPoll: lowest diagnostics priority to send
    target_port_address_top: int = 0  # Art-Net 4, ArtPoll: Targeted Mode upper bound
    target_port_address_bottom: int = 0  # Art-Net 4, ArtPoll: Targeted Mode lower bound
    esta_man: int = 0  # Art-Net 4, ArtPoll: EstaManHi/Lo (big-endian here)
    oem: int = 0  # Art-Net 4, ArtPoll: OemHi/Lo

    def __post_init__(self) -> None:
        for name, hi in zip(_POLL_FIELDS, (255, 255, 32767, 32767, 0xFFFF, 0xFFFF), strict=True):
            check_range(name, getattr(self, name), hi)


@dataclass(frozen=True, slots=True, kw_only=True)
class ArtPollReply:
    """A node describing itself (OpPollReply 0x2100); unicast to the poller."""

    ip: str  # Art-Net 4, ArtPollReply @10: IP address, network order
    port: int = PORT  # @14: 0x1936, little-endian
    version_info: int = 0  # @16: VersInfoH/L, node firmware revision
    net_switch: int = 0  # @18: Port-Address bits 14-8
    sub_switch: int = 0  # @19: Port-Address bits 7-4
    oem: int = 0  # @20: OemHi/Lo
    ubea_version: int = 0  # @22
    status1: int = 0  # @23
    esta_man: int = 0  # @24: EstaManLo, EstaManHi (little-endian)
    short_name: str = ""  # @26: 18 bytes, NUL-terminated
    long_name: str = ""  # @44: 64 bytes, NUL-terminated
    node_report: str = ""  # @108: 64 bytes, "#xxxx [yyyy] text"
    num_ports: int = 0  # @172: NumPortsHi/Lo, at most 4
    port_types: bytes = bytes(4)  # @174: bit7 output, bit6 input, low 6 bits protocol
    good_input: bytes = bytes(4)  # @178
    good_output_a: bytes = bytes(4)  # @182
    sw_in: bytes = bytes(4)  # @186: low nibble = Universe of each input port
    sw_out: bytes = bytes(4)  # @190: low nibble = Universe of each output port
    acn_priority: int = 0  # @194: formerly SwVideo
    sw_macro: int = 0  # @195
    sw_remote: int = 0  # @196; @197..199 spare
    style: int = 0  # @200: 0 StNode, 1 StController, 2 StMedia...
    mac: bytes = bytes(6)  # @201
    bind_ip: str = "0.0.0.0"  # @207: IP of the root device of a multi-reply node
    bind_index: int = 0  # @211
    status2: int = 0  # @212: bit3 supports 15-bit Port-Address, bit4 sACN switchable
    good_output_b: bytes = bytes(4)  # @213
    status3: int = 0  # @217: failsafe mode bits
    default_resp_uid: bytes = bytes(6)  # @218: RDM UID of the default responder
    user: int = 0  # @224: UserHi/Lo
    refresh_rate: int = 0  # @226: RefreshRateHi/Lo, max ArtDmx Hz (0..44 = DMX512 rate)

    def __post_init__(self) -> None:
        for name, code in _REPLY_CODES.items():
            value = getattr(self, name)
            if name in ("ip", "bind_ip"):
                try:
                    ipaddress.IPv4Address(value)
                except ValueError as exc:
                    msg = f"{name}={value!r} is not an IPv4 address"
                    raise LocalProtocolError(msg) from exc
            elif name in _NAMES:  # NUL-terminated ASCII; latin-1 keeps decoding total
                size = int(code[:-1])
                if len(value) >= size or "\x00" in value or max(map(ord, value), default=0) > 255:
                    msg = f"{name}={value!r} must be at most {size - 1} latin-1 chars without NUL"
                    raise LocalProtocolError(msg)
            elif code in ("B", "H", "2s"):  # "2s": the little-endian uint16 Port and EstaMan
                check_range(name, value, 255 if code == "B" else 0xFFFF)
            elif code in ("4s", "6s") and len(value) != int(code[0]):  # fixed-size arrays
                msg = f"len({name})={len(value)!r}, expected {code[0]}"
                raise LocalProtocolError(msg)
        check_range("net_switch", self.net_switch, 127)
        check_range("sub_switch", self.sub_switch, 15)
        check_range("num_ports", self.num_ports, 4)

    @property
    def output_port_addresses(self) -> tuple[int, ...]:
        """Port-Addresses this node consumes: NetSwitch<<8 | SubSwitch<<4 | SwOut[i]."""
        base = self.net_switch << 8 | self.sub_switch << 4
        ports = range(self.num_ports)
        return tuple(base | self.sw_out[i] & 0x0F for i in ports if self.port_types[i] & 0x80)

    @property
    def input_port_addresses(self) -> tuple[int, ...]:
        """Port-Addresses this device puts onto the network: NetSwitch<<8 | SubSwitch<<4 | SwIn[i]."""
        base = self.net_switch << 8 | self.sub_switch << 4
        ports = range(self.num_ports)
        return tuple(base | self.sw_in[i] & 0x0F for i in ports if self.port_types[i] & 0x40)


ArtNetPacket: TypeAlias = ArtDmx | ArtSync | ArtPoll | ArtPollReply


def port_address(net: int, sub_net: int, universe: int) -> int:
    """Art-Net 4 15-bit Port-Address from Net (0..127), Sub-Net (0..15), Universe (0..15)."""
    check_range("net", net, 127)
    check_range("sub_net", sub_net, 15)
    check_range("universe", universe, 15)
    return net << 8 | sub_net << 4 | universe


def split_port_address(address: int) -> tuple[int, int, int]:
    """Inverse of `port_address`: (net, sub_net, universe)."""
    check_range("port_address", address, 32767, why=" (15-bit Port-Address)")
    return address >> 8, address >> 4 & 0x0F, address & 0x0F


def _head(opcode: OpCode) -> bytes:
    return ARTNET_ID + opcode.to_bytes(2, "little")  # Art-Net 4: OpCode is little-endian


_SYNC_PACKET = _head(OpCode.SYNC) + _SYNC.pack(PROTOCOL_VERSION, 0, 0)


def encode(packet: ArtNetPacket) -> bytes:
    """Serialise one Art-Net packet. Values were validated when the packet was built."""
    match packet:
        case ArtDmx():
            data = packet.data + b"\x00" * (len(packet.data) % 2)  # ArtDmx: pad odd to even
            pa = packet.port_address
            body = _DMX.pack(
                PROTOCOL_VERSION, packet.sequence, packet.physical, pa & 0xFF, pa >> 8, len(data)
            )
            return _head(OpCode.DMX) + body + data
        case ArtSync():
            return _SYNC_PACKET
        case ArtPoll():  # the dataclass fields are in wire order
            values = (getattr(packet, name) for name in _POLL_FIELDS)
            return _head(OpCode.POLL) + _POLL.pack(PROTOCOL_VERSION, *values)
        case ArtPollReply():
            return _head(OpCode.POLL_REPLY) + _encode_reply(packet)
        case _:  # pragma: no cover - exhaustive over ArtNetPacket
            assert_never(packet)


def _encode_reply(reply: ArtPollReply) -> bytes:
    values: list[object] = []
    for name in _REPLY_FIELDS:
        value = getattr(reply, name)
        if name in ("ip", "bind_ip"):
            value = ipaddress.IPv4Address(value).packed
        elif name in ("port", "esta_man"):
            value = value.to_bytes(2, "little")  # ArtPollReply: Port and EstaMan are Lo first
        elif name in _NAMES:
            value = value.encode("latin-1")  # struct pads with NUL to the field size
        values.append(value)
    return _POLL_REPLY.pack(*values)


def _need(buf: bytes, size: int, what: str) -> None:
    if len(buf) < size:
        msg = f"truncated {what}: need {size} bytes, got {len(buf)}"
        raise Truncated(msg)


def _check_version(version: int) -> None:
    if version < PROTOCOL_VERSION:
        msg = f"protocol version={version!r} unsupported, need >= {PROTOCOL_VERSION}"
        raise RemoteProtocolError(msg)


def _decode_dmx(buf: bytes) -> ArtDmx:
    _need(buf, DMX_HEADER_SIZE, "ArtDmx")
    version, sequence, physical, sub_uni, net, length = _DMX.unpack_from(buf, 10)
    _check_version(version)
    if not 2 <= length <= DMX_SLOTS:  # ArtDmx: Length 2..512 (odd lengths tolerated)
        msg = f"ArtDmx length={length!r} out of range 2..512"
        raise RemoteProtocolError(msg)
    _need(buf, DMX_HEADER_SIZE + length, "ArtDmx")
    data = buf[DMX_HEADER_SIZE : DMX_HEADER_SIZE + length]
    pa = net << 8 | sub_uni
    return from_peer(
        lambda: ArtDmx(sequence=sequence, physical=physical, port_address=pa, data=data)
    )


def _decode_sync(buf: bytes) -> ArtSync:
    _need(buf, 14, "ArtSync")
    _check_version(_SYNC.unpack_from(buf, 10)[0])
    return ArtSync()


def _decode_poll(buf: bytes) -> ArtPoll:
    _need(buf, POLL_MIN_SIZE, "ArtPoll")
    body = buf[10:POLL_SIZE].ljust(_POLL.size, b"\x00")  # older 14-byte form: rest is zero
    version, *values = _POLL.unpack(body)
    _check_version(version)
    return from_peer(lambda: ArtPoll(**dict(zip(_POLL_FIELDS, values, strict=True))))


def _name(raw: bytes, field: str) -> str:
    end = raw.find(b"\x00")
    if end < 0:
        msg = f"ArtPollReply {field} is not NUL-terminated"
        raise RemoteProtocolError(msg)
    return raw[:end].decode("latin-1")


def _decode_reply(buf: bytes) -> ArtPollReply:
    _need(buf, POLL_REPLY_MIN_SIZE, "ArtPollReply")
    body = buf[10:POLL_REPLY_SIZE].ljust(_POLL_REPLY.size, b"\x00")  # missing fields are zero
    fields: dict[str, object] = {}
    for name, value in zip(_REPLY_FIELDS, _POLL_REPLY.unpack(body), strict=True):
        if name in ("ip", "bind_ip"):
            value = str(ipaddress.IPv4Address(value))
        elif name in ("port", "esta_man"):
            value = int.from_bytes(value, "little")
        elif name in _NAMES:
            value = _name(value, name)
        fields[name] = value
    return from_peer(lambda: ArtPollReply(**fields))  # type: ignore[arg-type]


_DECODERS: dict[int, Callable[[bytes], ArtNetPacket]] = {
    OpCode.DMX: _decode_dmx,
    OpCode.SYNC: _decode_sync,
    OpCode.POLL: _decode_poll,
    OpCode.POLL_REPLY: _decode_reply,
}


def decode(data: bytes | memoryview) -> ArtNetPacket:
    """Parse one Art-Net datagram, dispatching on OpCode.

    Raises:
        Truncated: the datagram ends before the packet does.
        RemoteProtocolError: wrong ID, unsupported OpCode or version, or a field out of range.
    """
    buf = bytes(data)
    if not ARTNET_ID.startswith(buf[:8]):  # a short prefix of the ID is merely truncated
        msg = f"id={buf[:8]!r} is not {ARTNET_ID!r}"
        raise RemoteProtocolError(msg)
    _need(buf, 10, "Art-Net header")
    opcode = int.from_bytes(buf[8:10], "little")
    decoder = _DECODERS.get(opcode)
    if decoder is None:
        known = ", ".join(f"0x{op:04x}" for op in sorted(OpCode))
        msg = f"opcode=0x{opcode:04x} not supported (expected one of {known})"
        raise RemoteProtocolError(msg)
    return decoder(buf)


class ArtDmxBatch(PacketBatch):
    """512-slot ArtDmx packets, one row per Port-Address; rows match `encode(ArtDmx(...))`."""

    def __init__(self, port_addresses: Sequence[int], *, physical: int = 0) -> None:
        self.port_addresses = tuple(port_addresses)
        blank = bytes(DMX_SLOTS)
        templates = [
            encode(ArtDmx(physical=physical, port_address=pa, data=blank))
            for pa in self.port_addresses
        ]
        super().__init__(
            templates, sequence_offset=12, payload_offset=DMX_HEADER_SIZE
        )  # ArtDmx: Sequence @12


class ArtNetSender(UniverseStream):
    """Stateful ArtDmx output: per-universe Sequence, keep-alive and ArtSync, driven by `now`.

    Rules:
    - `targets` maps each Port-Address to the node that consumes it (ArtDmx is unicast).
    - Each Port-Address has its own Sequence, 1..255 wrapping to 1 (0 would disable it).
    - "on_change" sends a universe when its data differs from the last sent; "constant"
      sends every universe passed to `frame`. Either way an unchanged universe is resent
      once `keepalive_s` has passed (Art-Net 4 allows 4 s; it recommends 800..1000 ms).
    - With `sync_address`, one ArtSync follows the ArtDmx of every burst. ArtSync must be
      broadcast (directed, e.g. 10.255.255.255), never to 255.255.255.255 (Art-Net 4, ArtSync).
    """

    def __init__(
        self,
        *,
        targets: Mapping[int, tuple[str, int]],
        sync_address: tuple[str, int] | None = None,
        keepalive_s: float = 1.0,
        mode: Mode = "on_change",
        physical: int = 0,
    ) -> None:
        if sync_address is not None and sync_address[0] == "255.255.255.255":
            msg = "sync_address must be a directed broadcast, not 255.255.255.255 (Art-Net 4)"
            raise ValueError(msg)
        order = sorted(targets)
        super().__init__(
            batch=ArtDmxBatch(order, physical=physical),
            universes=order,
            destinations=[targets[pa] for pa in order],
            keepalive_s=keepalive_s,
            mode=mode,
        )
        self._sync_address = sync_address

    def _next_sequence(self, current: NDArray[np.uint8]) -> NDArray[np.uint8]:
        return current % 255 + 1  # ArtDmx: Sequence 1..255, wraps to 1

    def _sync(self) -> list[Datagram]:
        return [] if self._sync_address is None else [Datagram(_SYNC_PACKET, self._sync_address)]
