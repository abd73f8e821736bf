"""L6 DMX512 over serial: ENTTEC DMX USB Pro (label 6) and Open DMX / FTDI (host break).

Rules:
- A serial device that fails (unplugged, permission) is closed and reopened with
  exponential back-off (0.5 s doubling to 8 s) while every other output carries on.
- ENTTEC Pro: the widget makes BREAK/MAB and refreshes on its own; we write one label-6
  message per frame (start code 0 + 512 slots) from the engine's output thread.
- Open DMX has no microcontroller: its own thread makes each packet on absolute deadlines
  (BREAK >= 100 us via `break_condition`, never `send_break`, which lasts 0.25 s on
  POSIX; MAB >= 12 us; start code + 512 slots at 250 kbaud 8N2; flush) and always sends
  the latest frame handed over ("latest frame wins").
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from controller.clock import Clock
from controller.outputs.base import OutputStats
from controller.protocols import enttec

__all__ = ["EnttecOutput", "OpenDmxOutput", "SerialPort", "open_serial"]

BACKOFF_MIN_S = 0.5
BACKOFF_MAX_S = 8.0
DMX_BAUD = 250_000
BREAK_S = 110e-6  # E1.11 transmit minimum 92 us; OLA uses 110 us
MAB_S = 16e-6  # E1.11 minimum 12 us


class SerialPort(Protocol):
    break_condition: bool

    def write(self, data: bytes) -> int | None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


def open_serial(device: str, *, dmx: bool) -> SerialPort:
    """Open a real serial port with pyserial (8N2 at 250 kbaud for raw DMX)."""
    import serial

    if dmx:
        port: Any = serial.Serial(
            device, baudrate=DMX_BAUD, bytesize=8, parity="N", stopbits=2, write_timeout=0.1
        )
    else:
        port = serial.Serial(device, baudrate=57600, write_timeout=0.1)
    return port  # type: ignore[no-any-return]


class _Reopening:
    """Open / fail / back-off bookkeeping shared by both serial outputs."""

    def __init__(self, name: str, device: str, opener: Callable[[str], SerialPort]) -> None:
        self.device = device
        self.opener = opener
        self.port: SerialPort | None = None
        self.backoff = BACKOFF_MIN_S
        self.retry_at = 0.0
        self.stats = OutputStats(name=name, up=False)

    def ensure(self, now: float) -> SerialPort | None:
        if self.port is not None:
            return self.port
        if now < self.retry_at:
            return None
        try:
            self.port = self.opener(self.device)
        except (OSError, ValueError) as exc:  # serial.SerialException is an OSError
            self.fail(now, exc)
            return None
        if self.stats.frames or self.stats.errors:
            self.stats.reopens += 1
        self.stats.up = True
        self.backoff = BACKOFF_MIN_S
        return self.port

    def close(self) -> None:
        if self.port is not None:
            self.port.close()
            self.port = None

    def fail(self, now: float, exc: BaseException) -> None:
        self.stats.errors += 1
        self.stats.last_error = f"{self.device}: {exc}"
        self.stats.up = False
        if self.port is not None:
            with contextlib.suppress(OSError):
                self.port.close()
            self.port = None
        self.retry_at = now + self.backoff
        self.backoff = min(self.backoff * 2, BACKOFF_MAX_S)


class _SerialOutput:
    """What both serial outputs share: a reopening link, its statistics, no keep-alive."""

    _link: _Reopening

    def poll(self, now: float) -> None:
        return

    def stats(self) -> OutputStats:
        return self._link.stats

    def note_error(self, message: str) -> None:
        self._link.stats.errors += 1
        self._link.stats.last_error = message


class EnttecOutput(_SerialOutput):
    def __init__(
        self, *, name: str, device: str, row: int, opener: Callable[[str], SerialPort] | None = None
    ) -> None:
        self.name = name
        self.row = row
        self._link = _Reopening(name, device, opener or (lambda d: open_serial(d, dmx=False)))
        self._next: bytes | None = None

    def open(self, now: float) -> None:
        self._link.ensure(now)

    def stage(self, now: float, dmx: NDArray[np.uint8], *, deadline: float | None = None) -> None:
        self._next = enttec.encode_send_dmx(dmx[self.row].tobytes())

    def send_frame(self, now: float, dmx: NDArray[np.uint8]) -> None:
        self.stage(now, dmx)
        self.commit(now)

    def commit(self, now: float) -> None:
        """At the deadline: the widget outputs a label-6 frame as soon as it arrives."""
        message, self._next = self._next, None
        port = self._link.ensure(now)
        if port is None or message is None:
            return
        try:
            port.write(message)
        except (OSError, ValueError) as exc:
            self._link.fail(now, exc)
            return
        self._link.stats.frames += 1
        self._link.stats.packets += 1
        self._link.stats.bytes += len(message)

    def close(self, now: float) -> None:
        self._link.close()


class OpenDmxOutput(_SerialOutput):
    """Raw DMX on an FTDI cable, paced by its own thread on absolute deadlines."""

    def __init__(
        self,
        *,
        name: str,
        device: str,
        row: int,
        clock: Clock,
        fps: float = 40.0,
        opener: Callable[[str], SerialPort] | None = None,
        paced: bool = True,
    ) -> None:
        if not 1.0 <= fps <= 44.0:
            msg = f"fps={fps!r} out of range 1..44 for a full DMX universe"
            raise ValueError(msg)
        self.name = name
        self.row = row
        self.clock = clock
        self.period = 1.0 / fps
        self._link = _Reopening(name, device, opener or (lambda d: open_serial(d, dmx=True)))
        self._latest = bytes(enttec.open_dmx_frame(b""))
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.paced = (
            paced  # False: one packet per send_frame, in the caller's thread (virtual time)
        )

    def open(self, now: float) -> None:
        if self.paced:
            self._thread = threading.Thread(
                target=self._run, name=f"opendmx[{self.name}]", daemon=True
            )
            self._thread.start()

    def stage(self, now: float, dmx: NDArray[np.uint8], *, deadline: float | None = None) -> None:
        frame = enttec.open_dmx_frame(dmx[self.row].tobytes())
        with self._lock:
            self._latest = frame

    def commit(self, now: float) -> None:
        if not self.paced:
            self.write_packet(now)

    def send_frame(self, now: float, dmx: NDArray[np.uint8]) -> None:
        self.stage(now, dmx)
        self.commit(now)

    def write_packet(self, start: float) -> None:
        """One DMX packet: BREAK, MAB, slots; returns after the bytes are on the wire."""
        port = self._link.ensure(start)
        if port is None:
            return
        with self._lock:
            frame = self._latest
        try:
            port.break_condition = True
            self.clock.wait_until(start + BREAK_S)
            port.break_condition = False
            self.clock.wait_until(start + BREAK_S + MAB_S)
            port.write(frame)
            port.flush()  # tcdrain: never start the next BREAK over the tail of this frame
        except (OSError, ValueError) as exc:
            self._link.fail(start, exc)
            return
        self._link.stats.frames += 1
        self._link.stats.bytes += len(frame)

    def _run(self) -> None:
        start = self.clock.now()
        k = 0
        while not self._stop.is_set():
            deadline = start + k * self.period
            self.clock.wait_until(deadline)
            self.write_packet(deadline)
            k += 1
            now = self.clock.now()
            behind = int((now - (start + k * self.period)) / self.period)
            if behind > 0:  # skip missed slots instead of bunching packets
                k += behind

    def close(self, now: float) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        self._link.close()
