"""L5 sans-IO ENTTEC DMX USB Pro widget framing (API 1.44) and Open DMX frames.

Layouts follow the ENTTEC DMX USB Pro Widget API Specification 1.44 (message format):
0x7E, label, data length LSB, MSB, data, 0xE7.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from controller.errors import LocalProtocolError, RemoteProtocolError, Truncated
from controller.protocols.fields import check_range

__all__ = [
    "EOM",
    "MAX_DATA_SIZE",
    "SOM",
    "Label",
    "ParserStatistics",
    "ReceivedDmx",
    "WidgetMessage",
    "WidgetMessageParser",
    "WidgetParameters",
    "decode_received_dmx",
    "decode_serial_number",
    "decode_widget_parameters",
    "encode_get_serial_number",
    "encode_get_widget_parameters",
    "encode_message",
    "encode_send_dmx",
    "encode_set_widget_parameters",
    "open_dmx_frame",
]

SOM = 0x7E  # USB Pro API: start of message
EOM = 0xE7  # USB Pro API: end of message
MAX_DATA_SIZE = 600  # USB Pro API: data length 0..600 (OLA MAX_DATA_SIZE)
DMX_SLOTS = 512
_MIN_SEND_DMX = 25  # USB Pro API, label 6: start code + 24..512 slots, 25..513 bytes


class Label(enum.IntEnum):
    """Message labels (ENTTEC DMX USB Pro Widget API 1.44, message labels)."""

    GET_WIDGET_PARAMETERS = 3
    SET_WIDGET_PARAMETERS = 4
    RECEIVED_DMX = 5
    SEND_DMX = 6
    RECEIVE_DMX_ON_CHANGE = 8
    GET_SERIAL_NUMBER = 10


def _check(name: str, value: int, lo: int, hi: int) -> None:
    check_range(name, value, hi, lo=lo)


@dataclass(frozen=True, slots=True, kw_only=True)
class WidgetMessage:
    """One framed message, either direction."""

    label: int  # USB Pro API: message type, 0..255
    data: bytes = b""  # USB Pro API: 0..600 bytes

    def __post_init__(self) -> None:
        _check("label", self.label, 0, 255)
        _check("len(data)", len(self.data), 0, MAX_DATA_SIZE)


@dataclass(frozen=True, slots=True, kw_only=True)
class WidgetParameters:
    """Label 3 reply: firmware version and output timing."""

    firmware_version: int = 0  # label 3 reply: firmware LSB, MSB
    break_time: int = 9  # label 3/4: break in 10.67 us units, 9..127
    mab_time: int = 1  # label 3/4: mark-after-break in 10.67 us units, 1..127
    output_rate: int = 40  # label 3/4: packets per second 1..40, 0 = as fast as possible
    user_config: bytes = b""  # label 3/4: opaque user configuration

    def __post_init__(self) -> None:
        _check("firmware_version", self.firmware_version, 0, 0xFFFF)
        _check("break_time", self.break_time, 9, 127)
        _check("mab_time", self.mab_time, 1, 127)
        _check("output_rate", self.output_rate, 0, 40)
        _check("len(user_config)", len(self.user_config), 0, MAX_DATA_SIZE - 5)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceivedDmx:
    """Label 5 payload: a DMX packet the widget received."""

    status: int  # label 5: non-zero = overrun or queue overflow (OLA discards these)
    start_code: int
    slots: bytes


def encode_message(label: int, data: bytes = b"") -> bytes:
    """Frame `data` as one widget message."""
    message = WidgetMessage(label=label, data=data)
    size = len(message.data)
    return bytes((SOM, message.label, size & 0xFF, size >> 8)) + message.data + bytes((EOM,))


def encode_send_dmx(
    data: bytes | bytearray | memoryview, start_code: int = 0, *, pad: bool = True
) -> bytes:
    """Label 6 Output Only Send DMX: start code + slots, zero-padded to 512 unless `pad=False`.

    Always sending 512 slots is what works across widget firmwares (OLA's USB Pro plugin
    sends start code + 512 slots too; some firmwares ignore other sizes).
    """
    slots = bytes(data)
    _check("len(data)", len(slots), 0, DMX_SLOTS)
    _check("start_code", start_code, 0, 255)
    payload = bytes((start_code,)) + (slots.ljust(DMX_SLOTS, b"\x00") if pad else slots)
    _check("send dmx length", len(payload), _MIN_SEND_DMX, DMX_SLOTS + 1)
    return encode_message(Label.SEND_DMX, payload)


def encode_get_widget_parameters(user_config_size: int = 0) -> bytes:
    """Label 3 request: user-config size LSB, MSB (OLA sends 0)."""
    _check("user_config_size", user_config_size, 0, MAX_DATA_SIZE - 5)
    return encode_message(Label.GET_WIDGET_PARAMETERS, user_config_size.to_bytes(2, "little"))


def encode_set_widget_parameters(parameters: WidgetParameters) -> bytes:
    """Label 4: user-config size LSB, MSB, break, MAB, rate, user config (no reply)."""
    p = parameters
    head = len(p.user_config).to_bytes(2, "little") + bytes((p.break_time, p.mab_time))
    return encode_message(
        Label.SET_WIDGET_PARAMETERS, head + bytes((p.output_rate,)) + p.user_config
    )


def encode_get_serial_number() -> bytes:
    """Label 10 request: no data."""
    return encode_message(Label.GET_SERIAL_NUMBER)


def _need(data: bytes, size: int, what: str) -> None:
    if len(data) < size:
        msg = f"truncated {what}: need {size} bytes, got {len(data)}"
        raise Truncated(msg)


def decode_widget_parameters(data: bytes) -> WidgetParameters:
    """Parse a label 3 reply payload."""
    _need(data, 5, "widget parameters")
    try:
        return WidgetParameters(
            firmware_version=int.from_bytes(data[0:2], "little"),
            break_time=data[2],
            mab_time=data[3],
            output_rate=data[4],
            user_config=bytes(data[5:]),
        )
    except LocalProtocolError as exc:
        raise RemoteProtocolError(str(exc)) from exc


def decode_serial_number(data: bytes) -> int:
    """Parse a label 10 reply: 4 BCD bytes, little-endian (bytes 78 56 34 12 = 12345678)."""
    _need(data, 4, "serial number")
    digits = data[3::-1].hex()
    if not digits.isdigit():
        msg = f"serial number={data[:4].hex()!r} is not BCD"
        raise RemoteProtocolError(msg)
    return int(digits)


def decode_received_dmx(data: bytes) -> ReceivedDmx:
    """Parse a label 5 payload: status, then start code and slots."""
    _need(data, 2, "received dmx")
    return ReceivedDmx(status=data[0], start_code=data[1], slots=bytes(data[2:]))


def open_dmx_frame(data: bytes | bytearray | memoryview, start_code: int = 0) -> bytes:
    """Open DMX (FTDI, no MCU) frame body: start code + 512 slots; the host makes the BREAK."""
    slots = bytes(data)
    _check("len(data)", len(slots), 0, DMX_SLOTS)
    _check("start_code", start_code, 0, 255)
    return bytes((start_code,)) + slots.ljust(DMX_SLOTS, b"\x00")


@dataclass(frozen=True, slots=True, kw_only=True)
class ParserStatistics:
    """Counters of a `WidgetMessageParser`, as an immutable snapshot."""

    messages: int = 0
    oversize: int = 0  # headers announcing more than 600 data bytes
    bad_eom: int = 0  # messages whose last byte was not 0xE7
    skipped_bytes: int = 0  # bytes seen while hunting for 0x7E

    @property
    def dropped(self) -> int:
        return self.oversize + self.bad_eom


class _State(enum.Enum):
    PRE_SOM = enum.auto()
    LABEL = enum.auto()
    SIZE_LO = enum.auto()
    SIZE_HI = enum.auto()
    BODY = enum.auto()
    EOM = enum.auto()


class WidgetMessageParser:
    """Incremental widget message parser: bytes in, whole messages out.

    Rules (OLA's PRE_SOM -> LABEL -> SIZE_LO -> SIZE_HI -> BODY -> EOM machine):
    - Bytes before a 0x7E are skipped and counted.
    - A header announcing more than 600 data bytes is dropped; hunting resumes after it.
    - A message whose end byte is not 0xE7 is dropped; if that byte is 0x7E it starts the
      next message.
    """

    def __init__(self) -> None:
        self._state = _State.PRE_SOM
        self._label = 0
        self._size = 0
        self._body = bytearray()
        self._counts = {"messages": 0, "oversize": 0, "bad_eom": 0, "skipped_bytes": 0}

    def statistics(self) -> ParserStatistics:
        """A snapshot of the counters so far."""
        return ParserStatistics(**self._counts)

    def feed(self, data: bytes | bytearray | memoryview) -> list[WidgetMessage]:
        """Consume `data`; return the messages it completed, in order."""
        buf, i = bytes(data), 0
        out: list[WidgetMessage] = []
        while i < len(buf):
            state = self._state
            if state is _State.PRE_SOM:
                start = buf.find(SOM, i)
                skipped = (len(buf) if start < 0 else start) - i
                self._counts["skipped_bytes"] += skipped
                if start < 0:
                    break
                i, self._state = start + 1, _State.LABEL
            elif state is _State.BODY:
                take = buf[i : i + self._size - len(self._body)]
                self._body += take
                i += len(take)
                if len(self._body) == self._size:
                    self._state = _State.EOM
            else:
                self._step(buf[i], out)
                i += 1
        return out

    def _step(self, byte: int, out: list[WidgetMessage]) -> None:
        state = self._state
        if state is _State.LABEL:
            self._label, self._state = byte, _State.SIZE_LO
        elif state is _State.SIZE_LO:
            self._size, self._state = byte, _State.SIZE_HI
        elif state is _State.SIZE_HI:
            self._size |= byte << 8
            self._body = bytearray()
            if self._size > MAX_DATA_SIZE:
                self._counts["oversize"] += 1
                self._state = _State.PRE_SOM
            else:
                self._state = _State.BODY if self._size else _State.EOM
        elif byte == EOM:
            out.append(WidgetMessage(label=self._label, data=bytes(self._body)))
            self._counts["messages"] += 1
            self._state = _State.PRE_SOM
        else:
            self._counts["bad_eom"] += 1
            self._state = _State.LABEL if byte == SOM else _State.PRE_SOM
