"""Cross-venue frame skew measured FROM THE WIRE, in a process of its own.

One UDP socket per venue on 127.0.0.1; each venue sends its sync packets (or a copy of its
output) there. Every datagram is stamped by the kernel as it arrives (SO_TIMESTAMPNS,
CLOCK_REALTIME), so how late this Python process wakes up never enters the figures; only
the venues' own send times do. `simulator.emissions` turns each venue's datagrams into
frame emission times and `simulator.skew.skew_report` compares the venues.

    python -m simulator.capture --ports 5001,5002,5003 --seconds 60 --json

From a benchmark: `run_capture(ports, seconds)`, or `with CaptureProcess(...) as cap:` when
the ports are chosen by the kernel (port 0) and must be known before the venues start.
Series times are seconds after `epoch_s` (a whole Unix second), so they keep nanoseconds;
with them come `levels`, each frame's (sum of the DMX bytes held, CRC-32): what it showed.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing as mp
import selectors
import socket
import struct
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any, Self

import numpy as np

from controller.clock import MonotonicClock
from controller.errors import ControllerError
from simulator.emissions import VenueFrames
from simulator.skew import skew_report

__all__ = [
    "CaptureError",
    "CaptureProcess",
    "WireCapture",
    "capture",
    "default_names",
    "run_capture",
    "skew_report",
]

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
RCVBUF = 4 << 20
DATAGRAM = 2048  # larger than any Art-Net or E1.31 packet; longer ones are counted as malformed
TIMESPEC = struct.Struct("qq")


def default_names(ports: Sequence[int]) -> tuple[str, ...]:
    """Venue names when none are given: the port number, or `#i` (1-based) for port 0."""
    return tuple(str(p) if p else f"#{i}" for i, p in enumerate(ports, 1))


class CaptureError(ControllerError):
    """The capture could not start or did not report."""


class WireCapture:
    """Sockets bound on `__enter__`; `poll()` reads what arrived; `result()` reports."""

    def __init__(
        self,
        ports: Sequence[int],
        *,
        names: Sequence[str] | None = None,
        host: str = "127.0.0.1",
        period_s: float | None = None,
    ) -> None:
        self.names = tuple(names) if names is not None else default_names(ports)
        if len(self.names) != len(ports) or len(set(self.names)) != len(self.names):
            raise ValueError(f"names={self.names!r} must be unique, one per port of {list(ports)}")
        self.requested = tuple(ports)
        self.host = host
        self.period_s = period_s
        self.ports: tuple[int, ...] = ()
        self.venues = {name: VenueFrames(period_s=period_s) for name in self.names}
        self.epoch_s: int | None = None
        self.unstamped = 0
        self._selector = selectors.DefaultSelector()
        self._sockets: list[socket.socket] = []

    def __enter__(self) -> Self:
        try:
            for name, port in zip(self.names, self.requested, strict=True):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self._sockets.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
                sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
                try:
                    sock.bind((self.host, port))
                except OSError as exc:
                    raise CaptureError(f"port {port}: {exc.strerror or exc}") from exc
                sock.setblocking(False)
                self._selector.register(sock, selectors.EVENT_READ, self.venues[name])
        except BaseException:
            self.close()
            raise
        self.ports = tuple(s.getsockname()[1] for s in self._sockets)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._selector.close()
        for sock in self._sockets:
            sock.close()

    def watch(self, conn: Connection) -> None:
        """Also wake `poll()` when `conn` has something to read (a stop request)."""
        self._selector.register(conn, selectors.EVENT_READ, None)

    def poll(self, timeout_s: float) -> int:
        """Read every datagram waiting (up to `timeout_s` for the first); returns how many."""
        count = 0
        for key, _ in self._selector.select(timeout_s):
            if isinstance(key.data, VenueFrames):
                count += self._drain(key.fileobj, key.data)  # type: ignore[arg-type]
        return count

    def _drain(self, sock: socket.socket, venue: VenueFrames) -> int:
        count = 0
        while True:
            try:
                data, ancdata, flags, _ = sock.recvmsg(DATAGRAM, socket.CMSG_SPACE(TIMESPEC.size))
            except BlockingIOError:
                return count
            count += 1
            stamp = self._stamp(ancdata)
            if stamp is None:
                self.unstamped += 1
            elif flags & socket.MSG_TRUNC:
                venue.packets["malformed"] += 1
            else:
                venue.feed(stamp, data)

    def _stamp(self, ancdata: list[tuple[int, int, bytes]]) -> float | None:
        for level, kind, raw in ancdata:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, nsec = (int(v) for v in TIMESPEC.unpack(raw[: TIMESPEC.size]))
                if self.epoch_s is None:
                    self.epoch_s = sec
                return (sec - self.epoch_s) + nsec * 1e-9
        return None

    def result(self, *, reference: str | None = None, keep_series: bool = False) -> dict[str, Any]:
        """Per venue counts and, when the period is known or measurable, the skew report."""
        series = {name: venue.times() for name, venue in self.venues.items()}
        period = self.period_s or _estimate_period(series, reference or self.names[0])
        has_frames = any(series.values())
        out: dict[str, Any] = {
            "clock": "CLOCK_REALTIME via SO_TIMESTAMPNS",
            "epoch_s": self.epoch_s,
            "period_ms": round(period * 1e3, 6) if period else None,
            "period_estimated": self.period_s is None,
            "unstamped": self.unstamped,
            "venues": {
                name: {
                    "port": port,
                    "source": venue.source,
                    "frames": len(series[name]),
                    "packets": dict(sorted(venue.packets.items())),
                }
                for (name, venue), port in zip(self.venues.items(), self.ports, strict=True)
            },
            "skew": skew_report(series, period, reference=reference)
            if period and has_frames
            else None,
        }
        if keep_series:
            out["series"] = series
            out["levels"] = {name: venue.levels() for name, venue in self.venues.items()}
        return out


def _estimate_period(series: dict[str, list[float]], reference: str) -> float | None:
    """The median frame interval of the reference venue (or of the first venue with frames)."""
    for times in (series.get(reference, []), *series.values()):
        if len(times) >= 2:
            period = float(np.median(np.diff(np.sort(times))))
            return period if period > 0 else None
    return None


def capture(
    ports: Sequence[int],
    seconds: float,
    *,
    names: Sequence[str] | None = None,
    host: str = "127.0.0.1",
    period_s: float | None = None,
    reference: str | None = None,
    keep_series: bool = False,
    stop: Connection | None = None,
    on_ready: Callable[[tuple[int, ...]], None] | None = None,
) -> dict[str, Any]:
    """Capture for `seconds` (or until `stop` has a message, or Ctrl-C) and report."""
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"seconds={seconds!r} must be a positive number")
    clock = MonotonicClock()
    with WireCapture(ports, names=names, host=host, period_s=period_s) as wire:
        if stop is not None:
            wire.watch(stop)
        if on_ready is not None:
            on_ready(wire.ports)
        start = clock.now()
        try:
            while (left := start + seconds - clock.now()) > 0:
                wire.poll(min(left, 0.25))
                if stop is not None and stop.poll():
                    break
        except KeyboardInterrupt:
            pass  # report what was captured so far
        wire.poll(0.0)
        out = wire.result(reference=reference, keep_series=keep_series)
        out["seconds"] = round(clock.now() - start, 3)
        return out


def _child(conn: Connection, ports: Sequence[int], seconds: float, options: dict[str, Any]) -> None:
    """The capture process: "ready" with the bound ports, then the result (or an error)."""
    try:
        result = capture(
            ports, seconds, stop=conn, on_ready=lambda bound: conn.send(("ready", bound)), **options
        )
    except (CaptureError, OSError, ValueError) as exc:
        conn.send(("error", str(exc)))
        return
    conn.send(("result", result))


class CaptureProcess:
    """`with CaptureProcess(ports, seconds) as cap:` start the venues at `cap.ports`, then
    `cap.result()`. `stop()` ends the capture early; leaving the block ends the process."""

    def __init__(
        self,
        ports: Sequence[int],
        seconds: float,
        *,
        names: Sequence[str] | None = None,
        period_s: float | None = None,
        reference: str | None = None,
        keep_series: bool = False,
        start_timeout_s: float = 30.0,
    ) -> None:
        self._args = (tuple(ports), seconds)
        self._options = {
            "names": None if names is None else tuple(names), "period_s": period_s,
            "reference": reference, "keep_series": keep_series,
        }  # fmt: skip
        self._start_timeout_s = start_timeout_s
        self.seconds = seconds
        self.ports: tuple[int, ...] = ()
        ctx = mp.get_context("spawn")  # a fresh interpreter: no GIL or state shared with us
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(
            target=_child, args=(child, *self._args, self._options), name="capture", daemon=True
        )

    def __enter__(self) -> Self:
        self._process.start()
        try:
            kind, value = self._receive(self._start_timeout_s, "start")
            if kind != "ready":
                raise CaptureError(f"the capture did not start: {value}")
        except BaseException:
            self._end()
            raise
        self.ports = tuple(value)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._end()

    def stop(self) -> None:
        """End the capture now (the result covers what arrived until then)."""
        with contextlib.suppress(OSError):
            self._conn.send("stop")

    def result(self, timeout_s: float | None = None) -> dict[str, Any]:
        """Wait for the report (by default until the capture's `seconds` are over, plus 30 s)."""
        kind, value = self._receive(
            self.seconds + 30.0 if timeout_s is None else timeout_s, "report"
        )
        if kind != "result":
            raise CaptureError(f"the capture failed: {value}")
        result: dict[str, Any] = value
        return result

    def _receive(self, timeout_s: float, what: str) -> tuple[str, Any]:
        try:
            if self._conn.poll(timeout_s):
                message: tuple[str, Any] = self._conn.recv()
                return message
        except (EOFError, OSError):
            pass
        code = self._process.exitcode
        raise CaptureError(f"the capture process did not {what} (exit code {code})")

    def _end(self) -> None:
        self.stop()
        self._process.join(5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)
        self._conn.close()


def run_capture(ports: Sequence[int], seconds: float, **options: Any) -> dict[str, Any]:
    """Capture on fixed `ports` for `seconds` in a child process; the report as a dict.

    `options`: names, period_s, reference, keep_series (as `CaptureProcess`).
    """
    with CaptureProcess(ports, seconds, **options) as cap:
        return cap.result()


if __name__ == "__main__":
    from simulator.capture_cli import main

    raise SystemExit(main())
