"""L5 sans-IO OSC 1.0: messages (i f s b T F N d h) and bundles with NTP timetags.

Layouts follow the OSC 1.0 specification (OSC Packets, Messages and Bundles). Every element
is big-endian and 4-byte aligned: an OSC-string is NUL-terminated then NUL-padded (an exact
multiple of 4 still gets 4 NULs); a blob is an int32 size, the bytes, then padding. python-osc is a test oracle only, never imported here.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import TypeAlias

from controller.errors import LocalProtocolError, RemoteProtocolError, Truncated
from controller.protocols.fields import from_peer

__all__ = [
    "BUNDLE_TAG",
    "IMMEDIATELY",
    "Bundle",
    "Message",
    "OscArg",
    "OscPacket",
    "decode",
    "encode",
    "fixture_attribute_message",
    "from_timetag",
    "to_timetag",
    "universe_blob_message",
]

IMMEDIATELY = 1  # OSC 1.0: timetag 0x00000000_00000001 means "immediately"
NTP_UNIX_OFFSET_S = 2_208_988_800  # OSC 1.0: NTP seconds count from 1900-01-01
BUNDLE_TAG = b"#bundle\x00"  # OSC 1.0: a bundle starts with the OSC-string "#bundle"
MAX_BUNDLE_DEPTH = 16  # ours: bounds recursion on hostile nested bundles
_RESERVED = frozenset(" #*,/?[]{}")  # OSC 1.0: characters not allowed in a method name

OscArg: TypeAlias = int | float | str | bytes | bool | None

_INT32, _INT64 = struct.Struct(">i"), struct.Struct(">q")
_FLOAT32, _FLOAT64 = struct.Struct(">f"), struct.Struct(">d")
_TIMETAG = struct.Struct(">Q")


def _is_text(text: str) -> bool:
    """Fits an OSC-string: UTF-8 encodable (no lone surrogates) and free of NUL."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _infer(arg: OscArg) -> str:
    """python-osc's rules: bool T/F, None N, int i (h past 32 bits), float f, str s, bytes b."""
    if isinstance(arg, bool):
        return "T" if arg else "F"
    if arg is None:
        return "N"
    if isinstance(arg, int):
        return "i" if -(2**31) <= arg < 2**31 else "h"
    tag = {float: "f", str: "s", bytes: "b"}.get(type(arg))
    if tag is None:
        msg = f"argument {arg!r} has no OSC type (use int, float, str, bytes, bool or None)"
        raise LocalProtocolError(msg)
    return tag


def _normalise(tag: str, arg: OscArg) -> OscArg:
    """Check `arg` against its type tag; floats are rounded to what the wire carries."""
    ok = False
    if tag in "ih" and isinstance(arg, int) and not isinstance(arg, bool):
        bits = 32 if tag == "i" else 64
        ok = -(2 ** (bits - 1)) <= arg < 2 ** (bits - 1)
    elif tag in "fd" and isinstance(arg, int | float) and not isinstance(arg, bool):
        try:
            return float(arg) if tag == "d" else _FLOAT32.unpack(_FLOAT32.pack(arg))[0]
        except OverflowError:
            ok = False
    elif tag == "s" and isinstance(arg, str):
        ok = _is_text(arg)
    elif tag in "TFNb":
        ok = {"T": arg is True, "F": arg is False, "N": arg is None}.get(tag, type(arg) is bytes)
    if not ok:
        msg = f"argument {arg!r} does not fit type tag {tag!r}"
        raise LocalProtocolError(msg)
    return arg


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """An OSC message; `type_tags` is inferred from `args` when left empty."""

    address: str  # OSC 1.0: address pattern, an OSC-string starting with "/"
    args: tuple[OscArg, ...] = ()  # OSC 1.0: arguments, in type tag order
    type_tags: str = ""  # OSC 1.0: the type tag string without its leading ","

    def __post_init__(self) -> None:
        if not self.address.startswith("/") or not _is_text(self.address):
            msg = f"address={self.address!r} must start with '/' and be UTF-8 without NUL"
            raise LocalProtocolError(msg)
        tags = self.type_tags or "".join(_infer(arg) for arg in self.args)
        if len(tags) != len(self.args):
            msg = f"type_tags={tags!r} does not match {len(self.args)} argument(s)"
            raise LocalProtocolError(msg)
        args = tuple(_normalise(tag, arg) for tag, arg in zip(tags, self.args, strict=True))
        object.__setattr__(self, "type_tags", tags)
        object.__setattr__(self, "args", args)


@dataclass(frozen=True, slots=True, kw_only=True)
class Bundle:
    """Elements to apply atomically at `timetag`."""

    timetag: int = IMMEDIATELY  # OSC 1.0: 64-bit NTP fixed point, 32.32 seconds since 1900
    elements: tuple[Message | Bundle, ...] = ()  # OSC 1.0: each sent as int32 size + content

    def __post_init__(self) -> None:
        if not 0 <= self.timetag < 2**64:
            msg = f"timetag={self.timetag!r} out of range 0..2**64-1"
            raise LocalProtocolError(msg)
        for element in self.elements:  # OSC 1.0: nested timetag >= the enclosing one
            if isinstance(element, Bundle) and element.timetag < self.timetag:
                msg = f"nested timetag={element.timetag!r} is before enclosing {self.timetag!r}"
                raise LocalProtocolError(msg)


OscPacket: TypeAlias = Message | Bundle


def to_timetag(unix_s: float) -> int:
    """NTP timetag for Unix-epoch seconds (NTP era 0: years 1900..2036)."""
    whole = math.floor(unix_s)
    fraction = round((unix_s - whole) * 2**32)
    seconds = whole + NTP_UNIX_OFFSET_S + fraction // 2**32  # a fraction may round up to 1 s
    if not 0 <= seconds < 2**32:
        msg = f"unix_s={unix_s!r} outside NTP era 0 (1900..2036)"
        raise LocalProtocolError(msg)
    return seconds << 32 | fraction % 2**32


def from_timetag(timetag: int) -> float:
    """Unix-epoch seconds of a timetag; check for IMMEDIATELY first, it is not a time."""
    return (timetag >> 32) - NTP_UNIX_OFFSET_S + (timetag & 0xFFFF_FFFF) / 2**32


def _string(text: str) -> bytes:
    raw = text.encode()
    return raw + b"\x00" * (4 - len(raw) % 4)  # OSC-string: 1..4 NULs to a multiple of 4


def _encode_arg(tag: str, arg: OscArg) -> bytes:
    if tag == "i" and isinstance(arg, int):
        return _INT32.pack(arg)
    if tag == "h" and isinstance(arg, int):
        return _INT64.pack(arg)
    if tag == "f" and isinstance(arg, float):
        return _FLOAT32.pack(arg)
    if tag == "d" and isinstance(arg, float):
        return _FLOAT64.pack(arg)
    if tag == "s" and isinstance(arg, str):
        return _string(arg)
    if tag == "b" and isinstance(arg, bytes):
        return _INT32.pack(len(arg)) + arg + b"\x00" * (-len(arg) % 4)  # blob: pad to 4
    return b""  # T, F, N carry no argument bytes


def encode(packet: OscPacket) -> bytes:
    """Serialise a message or a (nested) bundle. Values were validated at construction."""
    if isinstance(packet, Message):
        args = (
            _encode_arg(tag, arg) for tag, arg in zip(packet.type_tags, packet.args, strict=True)
        )
        return _string(packet.address) + _string("," + packet.type_tags) + b"".join(args)
    parts = [BUNDLE_TAG, _TIMETAG.pack(packet.timetag)]
    for element in packet.elements:
        raw = encode(element)
        parts += [_INT32.pack(len(raw)), raw]  # OSC 1.0: element size, then its contents
    return b"".join(parts)


def _need(buf: bytes, end: int, what: str) -> None:
    if end > len(buf):
        msg = f"truncated {what}: need {end} bytes, got {len(buf)}"
        raise Truncated(msg)


def _read_string(buf: bytes, i: int, what: str) -> tuple[str, int]:
    nul = buf.find(b"\x00", i)
    if nul < 0:
        msg = f"truncated {what}: no NUL terminator"
        raise Truncated(msg)
    end = (nul + 4) & ~3  # skip the padding to the next multiple of 4
    _need(buf, end, what)
    try:
        return buf[i:nul].decode(), end
    except UnicodeDecodeError as exc:
        msg = f"{what}={buf[i:nul]!r} is not UTF-8"
        raise RemoteProtocolError(msg) from exc


def _read_arg(buf: bytes, i: int, tag: str) -> tuple[OscArg, int]:
    fixed = {"i": _INT32, "h": _INT64, "f": _FLOAT32, "d": _FLOAT64}.get(tag)
    if fixed is not None:
        _need(buf, i + fixed.size, f"{tag!r} argument")
        return fixed.unpack_from(buf, i)[0], i + fixed.size
    if tag == "s":
        return _read_string(buf, i, "string argument")
    if tag == "b":
        _need(buf, i + 4, "blob size")
        (size,) = _INT32.unpack_from(buf, i)
        if size < 0:
            msg = f"blob size={size!r} is negative"
            raise RemoteProtocolError(msg)
        end = i + 4 + size
        _need(buf, end + -size % 4, "blob")
        return buf[i + 4 : end], end + -size % 4
    if tag in ("T", "F", "N"):
        return {"T": True, "F": False, "N": None}[tag], i
    msg = f"type tag {tag!r} not supported (supported: i f s b T F N d h)"
    raise RemoteProtocolError(msg)


def _decode_message(buf: bytes) -> Message:
    address, i = _read_string(buf, 0, "address")
    if i == len(buf):  # OSC 1.0 allows old senders to omit type tags; we require them
        msg = "truncated message: no type tag string"
        raise Truncated(msg)
    tags, i = _read_string(buf, i, "type tag string")
    if not tags.startswith(","):
        msg = f"type tag string={tags!r} does not start with ','"
        raise RemoteProtocolError(msg)
    args: list[OscArg] = []
    for tag in tags[1:]:
        arg, i = _read_arg(buf, i, tag)
        args.append(arg)
    if i != len(buf):
        msg = f"{len(buf) - i} bytes after the last argument of {address!r}"
        raise RemoteProtocolError(msg)
    return from_peer(lambda: Message(address=address, args=tuple(args), type_tags=tags[1:]))


def _decode_bundle(buf: bytes, depth: int) -> Bundle:
    if depth > MAX_BUNDLE_DEPTH:
        msg = f"bundle nesting depth > {MAX_BUNDLE_DEPTH}"
        raise RemoteProtocolError(msg)
    _need(buf, 16, "bundle header")
    (timetag,) = _TIMETAG.unpack_from(buf, 8)
    elements: list[Message | Bundle] = []
    i = 16
    while i < len(buf):
        _need(buf, i + 4, "bundle element size")
        (size,) = _INT32.unpack_from(buf, i)
        if size <= 0 or size % 4:
            msg = f"bundle element size={size!r} is not a positive multiple of 4"
            raise RemoteProtocolError(msg)
        _need(buf, i + 4 + size, "bundle element")
        elements.append(_decode(buf[i + 4 : i + 4 + size], depth + 1))
        i += 4 + size
    return from_peer(lambda: Bundle(timetag=timetag, elements=tuple(elements)))


def _decode(buf: bytes, depth: int) -> OscPacket:
    if buf[:1] == b"/":
        return _decode_message(buf)
    if buf[:1] == b"#" and BUNDLE_TAG.startswith(buf[:8]):
        return _decode_bundle(buf, depth)
    if not buf:
        msg = "truncated packet: empty"
        raise Truncated(msg)
    msg = f"packet starts with {buf[:8]!r}, expected '/' or {BUNDLE_TAG!r}"
    raise RemoteProtocolError(msg)


def decode(data: bytes | memoryview) -> OscPacket:
    """Parse one OSC packet (a whole datagram): a message or a bundle.

    A bundle has no length of its own, so a bundle cut at an element boundary is a valid,
    shorter bundle; every other cut raises Truncated.

    Raises:
        Truncated: the packet ends inside an element.
        RemoteProtocolError: malformed address, type tags, sizes or text.
    """
    return _decode(bytes(data), 0)


def _path(prefix: str, *components: str) -> str:
    parts = prefix.split("/")[1:] + list(components)
    if not prefix.startswith("/") or any(not p or _RESERVED & set(p) for p in parts):
        msg = f"address {prefix!r} + {components!r} has an empty or reserved-character part"
        raise LocalProtocolError(msg)
    return "/".join(["", *parts])


def fixture_attribute_message(
    prefix: str, fixture: str | int, attribute: str, value: float
) -> Message:
    """Per-fixture attribute mode: `/prefix/<fixture>/<attribute> ,f value`."""
    return Message(address=_path(prefix, str(fixture), attribute), args=(value,), type_tags="f")


def universe_blob_message(
    prefix: str, universe: int, data: bytes | bytearray | memoryview
) -> Message:
    """Blob-per-universe mode: `/prefix/universe/<n> ,b <512 bytes>` (short data is zero-padded)."""
    payload = bytes(data)
    if len(payload) > 512 or universe < 0:
        msg = f"universe={universe!r} with {len(payload)} bytes: need universe >= 0, <= 512 bytes"
        raise LocalProtocolError(msg)
    address = _path(prefix, "universe", str(universe))
    return Message(address=address, args=(payload.ljust(512, b"\x00"),), type_tags="b")
