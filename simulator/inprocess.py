"""In-process sinks: the controller's outputs send straight into a `SimulatorCore`.

`SimDatagramSink` satisfies `controller.outputs.base.DatagramSink` and `SimByteSink`
satisfies `ByteSink`; `SimSerialPort` is the `SerialPort` the serial outputs open, so
ENTTEC widgets (framed bytes) and Open DMX lines (BREAK, then start code + slots, then
`flush`) both reach the core. Arrival time is the injected clock's `now()`.
"""

from __future__ import annotations

from typing import cast

from controller.clock import Clock
from simulator.core import SimulatorCore, WireProtocol

__all__ = ["SimByteSink", "SimDatagramSink", "SimSerialPort"]

_DATAGRAM_PROTOCOLS = ("artnet", "sacn", "osc")


class SimDatagramSink:
    """`sendto` delivers the datagram to the core as if it came from `source`."""

    def __init__(
        self,
        core: SimulatorCore,
        clock: Clock,
        protocol: str,
        *,
        source: tuple[str, int] = ("127.0.0.1", 0),
    ) -> None:
        if protocol not in _DATAGRAM_PROTOCOLS:
            msg = f"protocol={protocol!r} is not one of {_DATAGRAM_PROTOCOLS}"
            raise ValueError(msg)
        self.core = core
        self.clock = clock
        self.protocol = cast("WireProtocol", protocol)
        self.source = source
        self.sent = 0

    def sendto(self, data: bytes, address: tuple[str, int]) -> None:
        del address  # the core routes by the universe inside the packet, as a receiver does
        self.core.receive(self.clock.now(), self.protocol, data, self.source)
        self.sent += 1


class SimByteSink:
    """`write` hands a chunk of an ENTTEC widget byte stream to the core (it does the framing)."""

    def __init__(self, core: SimulatorCore, clock: Clock, *, device: str = "") -> None:
        self.core = core
        self.clock = clock
        self.device = device  # matches a route's `device`; "" means the venue's only widget

    @property
    def source(self) -> tuple[str, int]:
        return (self.device, 0)

    def write(self, data: bytes) -> None:
        self.core.receive(self.clock.now(), "enttec", bytes(data), self.source)


class SimSerialPort:
    """A serial port object for `controller.outputs.serial_dmx` over a `SimByteSink`.

    Until `break_condition` is first set it is an ENTTEC widget: written bytes go to the
    sink. Once a BREAK is seen it is an Open DMX line: bytes written after a BREAK form
    one packet, delivered as "opendmx" on `flush` (the output's end-of-packet drain).
    """

    def __init__(self, sink: SimByteSink) -> None:
        self.sink = sink
        self.closed = False
        self._break = False
        self._open_dmx = False
        self._packet = bytearray()

    @property
    def break_condition(self) -> bool:
        return self._break

    @break_condition.setter
    def break_condition(self, value: bool) -> None:
        if value:
            self._open_dmx = True
            self._packet.clear()  # a BREAK starts a new packet
        self._break = value

    def write(self, data: bytes) -> int:
        if self.closed:
            msg = "write to a closed simulated serial port"
            raise ValueError(msg)
        if self._open_dmx:
            if len(self._packet) <= 1 + 512:  # ignore a runaway line without BREAKs
                self._packet += data
        else:
            self.sink.write(data)
        return len(data)

    def flush(self) -> None:
        if self._open_dmx and self._packet:
            packet, self._packet = bytes(self._packet), bytearray()
            self.sink.core.receive(self.sink.clock.now(), "opendmx", packet, self.sink.source)

    def close(self) -> None:
        self.closed = True
