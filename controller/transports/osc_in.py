"""L6 OSC input: our own asyncio receiver, so timetagged bundles never block the loop.

python-osc's asyncio server dispatches synchronously and sleeps until a bundle's timetag,
freezing the whole event loop; its handlers never see the timetag. Here:

- Datagrams are decoded with our sans-IO codec; a message, or a bundle whose timetag is
  "immediately" or already past, is handed to `handler` at once.
- A future bundle waits on the injected clock (`Clock.sleep_until`) in a task of the
  receiver's TaskGroup; at most `max_pending` wait at a time, the rest are dropped.
- Timetags are wall-clock (NTP) times: `wall_offset` (Unix time minus clock time, see
  `controller.clock.wall_minus_monotonic`) maps them onto the clock.
- Malformed, truncated and oversized datagrams are counted and dropped with one log line
  each; nothing a sender does stops the receiver.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from controller.clock import Clock
from controller.errors import ProtocolError
from controller.protocols import osc

__all__ = ["OscInput", "OscInputStats"]

_log = logging.getLogger("citypulse.osc_in")
MAX_DATAGRAM = 8192


@dataclass(slots=True)
class OscInputStats:
    datagrams: int = 0
    messages: int = 0
    scheduled: int = 0
    malformed: int = 0
    oversize: int = 0
    dropped: int = 0
    handler_errors: int = 0
    last_problem: str | None = field(default=None)


def _flatten(packet: osc.Message | osc.Bundle, timetag: int) -> Iterator[tuple[int, osc.Message]]:
    if isinstance(packet, osc.Message):
        yield timetag, packet
        return
    for element in packet.elements:
        yield from _flatten(element, packet.timetag)


class OscInput(asyncio.DatagramProtocol):
    """`async with OscInput(...) as rx:` binds, receives and schedules; exits cleanly."""

    def __init__(
        self,
        *,
        handler: Callable[[osc.Message], None],
        clock: Clock,
        wall_offset: float,
        host: str = "127.0.0.1",
        port: int = 0,
        max_pending: int = 256,
    ) -> None:
        self.handler = handler
        self.clock = clock
        self.wall_offset = wall_offset
        self.host = host
        self.port = port
        self.max_pending = max_pending
        self.stats = OscInputStats()
        self._group: asyncio.TaskGroup | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._pending = 0

    async def __aenter__(self) -> Self:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: self, local_addr=(self.host, self.port)
        )
        self._transport = transport
        self.port = transport.get_extra_info("sockname")[1]
        self._group = asyncio.TaskGroup()
        await self._group.__aenter__()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._transport is not None:
            self._transport.close()
        if self._group is not None:
            for task in list(asyncio.all_tasks()):
                if task.get_name().startswith("osc-in["):
                    task.cancel()
            await self._group.__aexit__(et, exc, tb)

    def _problem(self, source: tuple[str, int], kind: str, detail: str) -> None:
        self.stats.last_problem = f"{source[0]}:{source[1]}: {kind}: {detail}"
        _log.warning("osc input from %s:%d dropped (%s): %s", source[0], source[1], kind, detail)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.stats.datagrams += 1
        if len(data) > MAX_DATAGRAM:
            self.stats.oversize += 1
            self._problem(addr, "oversize", f"{len(data)} bytes > {MAX_DATAGRAM}")
            return
        try:
            packet = osc.decode(data)
        except ProtocolError as exc:
            self.stats.malformed += 1
            self._problem(addr, "malformed", str(exc))
            return
        now = self.clock.now()
        for timetag, message in _flatten(packet, osc.IMMEDIATELY):
            due = (
                None if timetag == osc.IMMEDIATELY else osc.from_timetag(timetag) - self.wall_offset
            )
            if due is None or due <= now:
                self._dispatch(message)
            elif self._pending >= self.max_pending or self._group is None:
                self.stats.dropped += 1
                self._problem(addr, "dropped", f"{self._pending} bundles already waiting")
            else:
                self._pending += 1
                self.stats.scheduled += 1
                self._group.create_task(
                    self._later(due, message), name=f"osc-in[{message.address}]"
                )

    async def _later(self, due: float, message: osc.Message) -> None:
        try:
            await self.clock.sleep_until(due)
            self._dispatch(message)
        finally:
            self._pending -= 1

    def _dispatch(self, message: osc.Message) -> None:
        self.stats.messages += 1
        try:
            self.handler(message)
        except Exception as exc:  # a handler bug must not stop the receiver: count, log
            self.stats.handler_errors += 1
            _log.warning("osc handler failed on %s: %s", message.address, exc)
