"""Simulator-side OSC 1.0 reader: messages and (nested) bundles, as an OSC peer sees them.

A cursor walks the datagram in 4-byte steps (OSC 1.0 atomic data types); every read is
bounds-checked.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from controller.errors import RemoteProtocolError, Truncated

__all__ = ["OscBundleFrame", "OscMessageFrame", "parse"]

MAX_DEPTH = 16

OscValue = int | float | str | bytes | bool | None


@dataclass(frozen=True, slots=True)
class OscMessageFrame:
    address: str
    type_tags: str  # without the leading ","
    args: tuple[OscValue, ...]


@dataclass(frozen=True, slots=True)
class OscBundleFrame:
    timetag: int  # raw 64-bit NTP value; 1 means "immediately"
    elements: tuple[OscMessageFrame | OscBundleFrame, ...]


class _Cursor:
    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0

    def remaining(self) -> int:
        return len(self.buf) - self.pos

    def take(self, size: int) -> bytes:
        if size > self.remaining():
            msg = (
                f"truncated OSC packet: wanted {size} bytes at {self.pos}, {self.remaining()} left"
            )
            raise Truncated(msg)
        chunk = self.buf[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def unpack(self, fmt: str) -> int | float:
        value: int | float = struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]
        return value

    def string(self) -> str:
        chars = bytearray()
        while True:
            word = self.take(4)
            if 0 in word:
                chars += word[: word.index(0)]
                break
            chars += word
        try:
            return chars.decode("utf-8")
        except UnicodeDecodeError as exc:
            msg = "OSC-string is not UTF-8"
            raise RemoteProtocolError(msg) from exc

    def blob(self) -> bytes:
        size = int(self.unpack(">i"))
        if size < 0:
            msg = f"negative blob size {size}"
            raise RemoteProtocolError(msg)
        data = self.take(size)
        self.take((4 - size % 4) % 4)
        return data


def _message(cursor: _Cursor) -> OscMessageFrame:
    address = cursor.string()
    if cursor.remaining() == 0:
        msg = "truncated OSC message: no type tags"
        raise Truncated(msg)
    tags = cursor.string()
    if not tags.startswith(","):
        msg = "type tag string must start with ','"
        raise RemoteProtocolError(msg)
    args: list[OscValue] = []
    for tag in tags[1:]:
        if tag in "ifhd":
            args.append(cursor.unpack({"i": ">i", "f": ">f", "h": ">q", "d": ">d"}[tag]))
        elif tag == "s":
            args.append(cursor.string())
        elif tag == "b":
            args.append(cursor.blob())
        elif tag in "TFN":
            args.append({"T": True, "F": False, "N": None}[tag])
        else:
            msg = f"unknown type tag {tag!r}"
            raise RemoteProtocolError(msg)
    if cursor.remaining():
        msg = "bytes left after the last OSC argument"
        raise RemoteProtocolError(msg)
    return OscMessageFrame(address, tags[1:], tuple(args))


def _packet(buf: bytes, depth: int) -> OscMessageFrame | OscBundleFrame:
    if depth > MAX_DEPTH:
        msg = "OSC bundles nested too deeply"
        raise RemoteProtocolError(msg)
    if not buf:
        msg = "empty OSC packet"
        raise Truncated(msg)
    if buf[0] == ord("/"):
        return _message(_Cursor(buf))
    if buf[0] != ord("#"):
        msg = "OSC packet is neither a message nor a bundle"
        raise RemoteProtocolError(msg)
    cursor = _Cursor(buf)
    if cursor.string() != "#bundle":
        msg = "OSC bundle must start with '#bundle'"
        raise RemoteProtocolError(msg)
    timetag = int(cursor.unpack(">Q"))
    elements: list[OscMessageFrame | OscBundleFrame] = []
    while cursor.remaining():
        size = int(cursor.unpack(">i"))
        if size <= 0 or size % 4:
            msg = f"bundle element size {size} is not a positive multiple of 4"
            raise RemoteProtocolError(msg)
        elements.append(_packet(cursor.take(size), depth + 1))
    return OscBundleFrame(timetag, tuple(elements))


def parse(data: bytes | bytearray | memoryview) -> OscMessageFrame | OscBundleFrame:
    """Decode one OSC datagram."""
    return _packet(bytes(data), 0)
