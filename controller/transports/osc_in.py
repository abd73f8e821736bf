"""L6 OSC input: our own asyncio receiver, so timetagged bundles never block the loop.

python-osc's asyncio server dispatches synchronously and sleeps until a bundle's timetag,
freezing the whole event loop; its handlers never see the timetag. Here:

- Datagrams are decoded with our sans-IO codec. The handler is called as
  `handler(message, due)`: `due` is the clock time the message's (innermost) bundle
  timetag maps to, or None for a bare message or a bundle timetagged "immediately".
- A message whose `due` is now or past is handed over at once. A future one waits on the
  injected clock (`Clock.sleep_until`) in a task of this receiver's TaskGroup and is handed
  over at `due`; at most `max_pending` wait at a time, the rest are dropped. Closing the
  receiver cancels its own waiting tasks only (counted as `cancelled`).
- Timetags are wall-clock (NTP) times: `wall_offset` (Unix time minus clock time, see
  `controller.clock.wall_minus_monotonic`) maps them onto the clock.
- The socket asks for a `receive_buffer` of 4 MiB, so a burst waits in the kernel rather
  than being lost (the default, about 200 KiB on Linux, holds a few hundred datagrams);
  the size the kernel granted, and on Linux the datagrams it dropped anyway, are in
  `statistics()`.
- Malformed, truncated and oversized datagrams are counted and dropped with one log line
  each; nothing a sender does stops the receiver.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from types import TracebackType
from typing import Self

from controller.clock import Clock
from controller.errors import ProtocolError
from controller.protocols import osc

__all__ = ["MAX_DATAGRAM", "RECEIVE_BUFFER", "OscHandler", "OscInput", "OscInputStats"]

_log = logging.getLogger("citypulse.osc_in")
MAX_DATAGRAM = 8192
RECEIVE_BUFFER = 4 << 20  # bytes asked for with SO_RCVBUF (Linux caps it at net.core.rmem_max)

OscHandler = Callable[[osc.Message, float | None], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class OscInputStats:
    """What the receiver has seen (trio `statistics()` convention: an immutable snapshot)."""

    datagrams: int = 0  # read from the socket, good or bad
    messages: int = 0  # handed to the handler
    scheduled: int = 0  # messages that waited for a future timetag
    malformed: int = 0  # undecodable datagrams, dropped
    oversize: int = 0  # datagrams over MAX_DATAGRAM bytes, dropped
    dropped: int = 0  # future messages refused: `max_pending` already waiting
    cancelled: int = 0  # future messages still waiting when the receiver closed
    handler_errors: int = 0  # messages whose handler raised
    kernel_drops: int | None = (
        None  # lost in the socket buffer (Linux /proc/net/udp); None: unknown
    )
    receive_buffer: int = 0  # SO_RCVBUF as granted (Linux reports twice the size asked for)
    last_problem: str | None = None

    @property
    def lost(self) -> int:
        """Datagrams or messages that never reached the handler, for any reason."""
        return (
            self.malformed
            + self.oversize
            + self.dropped
            + self.cancelled
            + (self.kernel_drops or 0)
        )

    def as_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(slots=True)
class _Counts:
    """The live counters; owned by the receiver's event loop thread."""

    datagrams: int = 0
    messages: int = 0
    scheduled: int = 0
    malformed: int = 0
    oversize: int = 0
    dropped: int = 0
    cancelled: int = 0
    handler_errors: int = 0


def _flatten(packet: osc.Message | osc.Bundle, timetag: int) -> Iterator[tuple[int, osc.Message]]:
    if isinstance(packet, osc.Message):
        yield timetag, packet
        return
    for element in packet.elements:
        yield from _flatten(element, packet.timetag)


def _kernel_drops(sock: socket.socket) -> int | None:
    """Datagrams the kernel dropped for `sock` (Linux: last column of /proc/net/udp[6])."""
    table = "udp6" if sock.family == socket.AF_INET6 else "udp"
    try:
        inode = str(os.fstat(sock.fileno()).st_ino)
        lines = Path("/proc/net", table).read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        columns = line.split()  # sl local rem st tx:rx tr:when retr uid timeout inode ref ptr drops
        if len(columns) >= 13 and columns[9] == inode:
            return int(columns[-1])
    return None


async def _bound_socket(host: str, port: int, receive_buffer: int) -> socket.socket:
    loop = asyncio.get_running_loop()
    family, kind, proto, _, address = (await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM))[
        0
    ]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.bind(address)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class OscInput(asyncio.DatagramProtocol):
    """`async with OscInput(...) as rx:` binds, receives and schedules; exits cleanly."""

    def __init__(
        self,
        *,
        handler: OscHandler,
        clock: Clock,
        wall_offset: float,
        host: str = "127.0.0.1",
        port: int = 0,
        max_pending: int = 256,
        receive_buffer: int = RECEIVE_BUFFER,
    ) -> None:
        self.handler = handler
        self.clock = clock
        self.wall_offset = wall_offset
        self.host = host
        self.port = port
        self.max_pending = max_pending
        self.receive_buffer = receive_buffer
        self._counts = _Counts()
        self._last_problem: str | None = None
        self._granted = 0
        self._final_kernel_drops: int | None = None
        self._group: asyncio.TaskGroup | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._socket: socket.socket | None = None
        self._waiting: set[asyncio.Task[None]] = set()

    def statistics(self) -> OscInputStats:
        """A snapshot copy; safe to call from another thread (counts may be one datagram apart)."""
        drops = self._final_kernel_drops
        if self._socket is not None and self._socket.fileno() >= 0:
            drops = _kernel_drops(self._socket)
        counts = {f.name: getattr(self._counts, f.name) for f in fields(self._counts)}
        return OscInputStats(
            **counts,
            kernel_drops=drops,
            receive_buffer=self._granted,
            last_problem=self._last_problem,
        )

    async def __aenter__(self) -> Self:
        sock = await _bound_socket(self.host, self.port, self.receive_buffer)
        self._granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        if self._granted < self.receive_buffer:
            _log.warning(
                "osc input receive buffer: asked for %d bytes, the kernel granted %d "
                "(raise net.core.rmem_max to keep bursts)",
                self.receive_buffer,
                self._granted,
            )
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: self, sock=sock)
        self._transport, self._socket = transport, sock
        self.port = sock.getsockname()[1]
        self._group = asyncio.TaskGroup()
        await self._group.__aenter__()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._socket is not None and self._socket.fileno() >= 0:
            self._final_kernel_drops = _kernel_drops(self._socket)
        if self._transport is not None:
            self._transport.close()
        self._socket = None
        if self._group is not None:
            for task in list(self._waiting):  # ours only: other receivers share the loop
                if not task.done():
                    self._counts.cancelled += 1
                    task.cancel()
            await self._group.__aexit__(et, exc, tb)

    def _problem(self, source: tuple[str, int], kind: str, detail: str) -> None:
        self._last_problem = f"{source[0]}:{source[1]}: {kind}: {detail}"
        _log.warning("osc input from %s:%d dropped (%s): %s", source[0], source[1], kind, detail)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        counts = self._counts
        counts.datagrams += 1
        if len(data) > MAX_DATAGRAM:
            counts.oversize += 1
            self._problem(addr, "oversize", f"{len(data)} bytes > {MAX_DATAGRAM}")
            return
        try:
            packet = osc.decode(data)
        except ProtocolError as exc:
            counts.malformed += 1
            self._problem(addr, "malformed", str(exc))
            return
        now = self.clock.now()
        for timetag, message in _flatten(packet, osc.IMMEDIATELY):
            due = (
                None if timetag == osc.IMMEDIATELY else osc.from_timetag(timetag) - self.wall_offset
            )
            if due is None or due <= now:
                self._dispatch(message, due)
            elif len(self._waiting) >= self.max_pending or self._group is None:
                counts.dropped += 1
                self._problem(addr, "dropped", f"{len(self._waiting)} bundles already waiting")
            else:
                counts.scheduled += 1
                task = self._group.create_task(
                    self._later(due, message), name=f"osc-in[{self.port}]{message.address}"
                )
                self._waiting.add(task)
                task.add_done_callback(self._waiting.discard)

    async def _later(self, due: float, message: osc.Message) -> None:
        await self.clock.sleep_until(due)
        self._dispatch(message, due)

    def _dispatch(self, message: osc.Message, due: float | None) -> None:
        self._counts.messages += 1
        try:
            self.handler(message, due)
        except Exception as exc:  # a handler bug must not stop the receiver: count, log
            self._counts.handler_errors += 1
            _log.warning("osc handler failed on %s: %s", message.address, exc)
