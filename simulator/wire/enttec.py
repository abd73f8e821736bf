"""Simulator-side ENTTEC DMX USB Pro stream reader (what a widget receives) and reply writer.

Framing from the ENTTEC DMX USB Pro API 1.44: 0x7E, label, length LSB, MSB, data, 0xE7
(length 0..600). This reader buffers and rescans (unlike the controller's byte state
machine): after a bad frame it resumes the hunt for 0x7E one byte after the rejected start.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.errors import RemoteProtocolError, Truncated

__all__ = [
    "SendDmx",
    "WidgetFrame",
    "WidgetStream",
    "encode_reply",
    "parameters_reply",
    "parse_send_dmx",
    "serial_number_reply",
]

START, END = 0x7E, 0xE7
MAX_LENGTH = 600
LABEL_GET_PARAMETERS, LABEL_SEND_DMX, LABEL_SERIAL_NUMBER = 3, 6, 10


@dataclass(frozen=True, slots=True)
class WidgetFrame:
    label: int
    data: bytes


@dataclass(frozen=True, slots=True)
class SendDmx:
    start_code: int
    slots: bytes


class WidgetStream:
    """Bytes written to the widget in, complete frames out; garbage is counted and skipped."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.rejected = 0

    def feed(self, data: bytes | bytearray | memoryview) -> list[WidgetFrame]:
        self._buffer += data
        frames: list[WidgetFrame] = []
        while True:
            start = self._buffer.find(START)
            if start < 0:
                self._buffer.clear()
                return frames
            del self._buffer[:start]
            if len(self._buffer) < 4:
                return frames
            length = self._buffer[2] | self._buffer[3] << 8
            if length > MAX_LENGTH:
                self.rejected += 1
                del self._buffer[:1]
                continue
            if len(self._buffer) < length + 5:
                return frames
            if self._buffer[length + 4] != END:
                self.rejected += 1
                del self._buffer[:1]
                continue
            frames.append(WidgetFrame(self._buffer[1], bytes(self._buffer[4 : 4 + length])))
            del self._buffer[: length + 5]

    def dmx(self, data: bytes | bytearray | memoryview) -> list[SendDmx]:
        """Feed `data` and keep only the label 6 (Output Only Send DMX) frames, decoded."""
        return [parse_send_dmx(f.data) for f in self.feed(data) if f.label == LABEL_SEND_DMX]


def parse_send_dmx(data: bytes) -> SendDmx:
    """Label 6 payload: start code then 24..512 slots (25..513 bytes, ENTTEC API 1.44)."""
    if not data:
        msg = "truncated label 6 payload: no start code"
        raise Truncated(msg)
    if not 25 <= len(data) <= 513:
        msg = f"label 6 payload of {len(data)} bytes is outside 25..513"
        raise RemoteProtocolError(msg)
    return SendDmx(data[0], bytes(data[1:]))


def encode_reply(label: int, data: bytes = b"") -> bytes:
    """A widget-to-host frame, e.g. label 3 parameters or label 10 serial number."""
    if not 0 <= label <= 255 or len(data) > MAX_LENGTH:
        msg = f"label {label} or length {len(data)} out of range"
        raise ValueError(msg)
    return bytes([START, label, len(data) % 256, len(data) // 256, *data, END])


def parameters_reply(*, firmware: int, break_time: int, mab_time: int, output_rate: int) -> bytes:
    """Label 3 reply: firmware LSB, MSB, break and MAB (10.67 us units), output rate."""
    data = bytes([firmware & 0xFF, firmware >> 8 & 0xFF, break_time, mab_time, output_rate])
    return encode_reply(LABEL_GET_PARAMETERS, data)


def serial_number_reply(serial: int) -> bytes:
    """Label 10 reply: eight decimal digits as 4 BCD bytes, least significant pair first."""
    if not 0 <= serial <= 99_999_999:
        msg = f"serial {serial} is not 0..99999999"
        raise ValueError(msg)
    digits = f"{serial:08d}"
    return encode_reply(
        LABEL_SERIAL_NUMBER, bytes(int(digits[i : i + 2], 16) for i in (6, 4, 2, 0))
    )
