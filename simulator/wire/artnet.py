"""Simulator-side Art-Net 4 reader (ArtDmx, ArtSync, ArtPoll, ArtPollReply) and ArtPollReply writer.

Offsets come straight from the Art-Net 4 packet definitions (ArtDmx, ArtSync, ArtPoll,
ArtPollReply); every read is preceded by a length check.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from controller.errors import RemoteProtocolError, Truncated

__all__ = [
    "ArtDmxFrame",
    "ArtPollFrame",
    "ArtPollReplyFrame",
    "ArtSyncFrame",
    "build_poll_reply",
    "parse",
]

ID = b"Art-Net\x00"
OP_POLL, OP_POLL_REPLY, OP_DMX, OP_SYNC = 0x2000, 0x2100, 0x5000, 0x5200
ARTNET_PORT = 6454
REPLY_LENGTH = 239
REPLY_MIN_LENGTH = 198


@dataclass(frozen=True, slots=True)
class ArtDmxFrame:
    sequence: int
    physical: int
    sub_uni: int  # @14: low byte of the Port-Address
    net: int  # @15: high 7 bits of the Port-Address
    data: bytes

    @property
    def port_address(self) -> int:
        return self.net << 8 | self.sub_uni


@dataclass(frozen=True, slots=True)
class ArtSyncFrame:
    pass


@dataclass(frozen=True, slots=True)
class ArtPollFrame:
    flags: int
    diag_priority: int
    target_port_address_top: int
    target_port_address_bottom: int
    esta_man: int
    oem: int


@dataclass(frozen=True, slots=True)
class ArtPollReplyFrame:
    ip: str
    port: int
    version_info: int
    net_switch: int
    sub_switch: int
    oem: int
    ubea_version: int
    status1: int
    esta_man: int
    short_name: str
    long_name: str
    node_report: str
    num_ports: int
    port_types: bytes
    good_input: bytes
    good_output_a: bytes
    sw_in: bytes
    sw_out: bytes
    acn_priority: int
    sw_macro: int
    sw_remote: int
    style: int
    mac: bytes
    bind_ip: str
    bind_index: int
    status2: int
    good_output_b: bytes
    status3: int
    default_resp_uid: bytes
    user: int
    refresh_rate: int


def _be16(buf: bytes, offset: int) -> int:
    return int(struct.unpack_from(">H", buf, offset)[0])


def _le16(buf: bytes, offset: int) -> int:
    return int(struct.unpack_from("<H", buf, offset)[0])


def _require(buf: bytes, length: int, name: str) -> None:
    if len(buf) < length:
        msg = f"truncated {name}: {len(buf)} of {length} bytes"
        raise Truncated(msg)


def _version(buf: bytes) -> None:
    if _be16(buf, 10) < 14:
        msg = f"protocol version {_be16(buf, 10)} < 14"
        raise RemoteProtocolError(msg)


def _text(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("latin-1")


def _dotted(raw: bytes) -> str:
    return ".".join(str(octet) for octet in raw)


def _parse_dmx(buf: bytes) -> ArtDmxFrame:
    _require(buf, 18, "ArtDmx header")
    _version(buf)
    if buf[15] & 0x80:  # Art-Net 4, ArtDmx Net: the top 7 bits of the 15-bit Port-Address
        msg = f"ArtDmx Net={buf[15]:#04x} has bit 7 set: a Port-Address is 15 bits"
        raise RemoteProtocolError(msg)
    length = _be16(buf, 16)
    # Art-Net 4, ArtDmx Length: "an even number in the range 2-512". Over 512 is not one
    # universe and is refused; an odd length is a "should" and is read as sent (as OLA does).
    if length < 2 or length > 512:
        msg = f"ArtDmx length {length} not in 2..512"
        raise RemoteProtocolError(msg)
    _require(buf, 18 + length, "ArtDmx data")
    return ArtDmxFrame(buf[12], buf[13], buf[14], buf[15], buf[18 : 18 + length])


def _parse_poll(buf: bytes) -> ArtPollFrame:
    _require(buf, 14, "ArtPoll")
    _version(buf)
    padded = buf[:22] + bytes(max(0, 22 - len(buf)))
    return ArtPollFrame(
        padded[12], padded[13], _be16(padded, 14), _be16(padded, 16), _be16(padded, 18),
        _be16(padded, 20),
    )  # fmt: skip


def _parse_reply(buf: bytes) -> ArtPollReplyFrame:
    _require(buf, REPLY_MIN_LENGTH, "ArtPollReply")
    b = buf[:REPLY_LENGTH] + bytes(max(0, REPLY_LENGTH - len(buf)))
    return ArtPollReplyFrame(
        ip=_dotted(b[10:14]), port=_le16(b, 14), version_info=_be16(b, 16), net_switch=b[18],
        sub_switch=b[19], oem=_be16(b, 20), ubea_version=b[22], status1=b[23],
        esta_man=_le16(b, 24), short_name=_text(b[26:44]), long_name=_text(b[44:108]),
        node_report=_text(b[108:172]), num_ports=_be16(b, 172), port_types=b[174:178],
        good_input=b[178:182], good_output_a=b[182:186], sw_in=b[186:190], sw_out=b[190:194],
        acn_priority=b[194], sw_macro=b[195], sw_remote=b[196], style=b[200], mac=b[201:207],
        bind_ip=_dotted(b[207:211]), bind_index=b[211], status2=b[212],
        good_output_b=b[213:217], status3=b[217], default_resp_uid=b[218:224],
        user=_be16(b, 224), refresh_rate=_be16(b, 226),
    )  # fmt: skip


def parse(
    data: bytes | bytearray | memoryview,
) -> ArtDmxFrame | ArtSyncFrame | ArtPollFrame | ArtPollReplyFrame:
    """Decode one Art-Net datagram as a node (or a discovering controller) sees it."""
    buf = bytes(data)
    head = min(len(buf), 8)
    if buf[:head] != ID[:head]:
        msg = "not an Art-Net packet: bad ID"
        raise RemoteProtocolError(msg)
    _require(buf, 10, "Art-Net header")
    opcode = _le16(buf, 8)
    if opcode == OP_DMX:
        return _parse_dmx(buf)
    if opcode == OP_SYNC:
        _require(buf, 14, "ArtSync")
        _version(buf)
        return ArtSyncFrame()
    if opcode == OP_POLL:
        return _parse_poll(buf)
    if opcode == OP_POLL_REPLY:
        return _parse_reply(buf)
    msg = f"unhandled OpCode {opcode:#06x}"
    raise RemoteProtocolError(msg)


def build_poll_reply(
    *,
    ip: str,
    short_name: str,
    long_name: str,
    net_switch: int = 0,
    sub_switch: int = 0,
    sw_out: Sequence[int] = (),
    mac: bytes = bytes(6),
    oem: int = 0,
    esta_man: int = 0,
    node_report: str = "",
    style: int = 0,
    status2: int = 0x08,
    refresh_rate: int = 44,
) -> bytes:
    """The 239-byte ArtPollReply a simulated node unicasts back to a poller.

    Each entry of `sw_out` is one DMX512 output port (PortTypes bit 7) consuming
    Port-Address `net_switch<<8 | sub_switch<<4 | sw_out[i]`.
    """
    if len(sw_out) > 4 or len(mac) != 6:
        msg = "an ArtPollReply describes at most 4 ports and a 6-byte MAC"
        raise ValueError(msg)
    out = bytearray(REPLY_LENGTH)
    out[0:8] = ID
    struct.pack_into("<H", out, 8, OP_POLL_REPLY)
    out[10:14] = bytes(int(octet) for octet in ip.split("."))
    struct.pack_into("<H", out, 14, ARTNET_PORT)  # Port: low byte first
    out[18], out[19] = net_switch & 0x7F, sub_switch & 0x0F
    struct.pack_into(">H", out, 20, oem)
    struct.pack_into("<H", out, 24, esta_man)  # EstaManLo then EstaManHi
    for offset, size, text in ((26, 18, short_name), (44, 64, long_name), (108, 64, node_report)):
        raw = text.encode("latin-1")[: size - 1]
        out[offset : offset + len(raw)] = raw
    struct.pack_into(">H", out, 172, len(sw_out))
    for port, universe in enumerate(sw_out):
        out[174 + port] = 0x80  # output, DMX512
        out[182 + port] = 0x80  # GoodOutputA: data is being transmitted
        out[190 + port] = universe & 0x0F
    out[200] = style
    out[201:207] = mac
    out[212] = status2
    struct.pack_into(">H", out, 226, refresh_rate)
    return bytes(out)
