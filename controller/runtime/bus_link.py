"""L7 a node's link to the bus that outlives the broker: connect, subscribe, dispatch, reconnect.

Rules:
- `run()` connects (with back-off on the injected clock), subscribes to `filters`, calls
  `on_connect` (publish presence, retained state), then hands every message to `handler`
  until the link drops; then `on_disconnect`, and round again, until `stop()`. The show
  never waits on the bus: while it is down, publishing drops the message (counted) and the
  node holds over on its own clock.
- A handler that raises is logged and the message dropped; a bad message never ends the link.
- A refusal that retrying cannot fix (bad credentials, not authorised) ends `run()` with it.
- `stop()` ends `run()` even while it waits for a broker that does not answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from controller.clock import Clock
from controller.transports.bus_errors import BusConnectError, BusDisconnectedError, BusError
from controller.transports.mqtt import Backoff, BusClient, BusMessage, connect_with_backoff

__all__ = ["BusLink"]

_log = logging.getLogger("citypulse.bus")

RECONNECT = Backoff(initial_s=0.2, max_s=2.0)  # a node wants its broker back within seconds


class BusLink:
    def __init__(
        self,
        *,
        client: BusClient,
        clock: Clock,
        filters: Sequence[str],
        handler: Callable[[BusMessage], None],
        on_connect: Callable[[], Awaitable[None]] | None = None,
        on_disconnect: Callable[[], None] | None = None,
        backoff: Backoff = RECONNECT,
    ) -> None:
        self.client = client
        self.clock = clock
        self.filters = tuple(filters)
        self.handler = handler
        self.on_connect = on_connect
        self.on_disconnect = on_disconnect
        self.backoff = backoff
        self.connected = False
        self.connects = 0
        self.dropped_publishes = 0
        self.handler_errors = 0
        self._stop = asyncio.Event()

    async def stop(self) -> None:
        """End `run()`: closing the client ends the message iterator."""
        self._stop.set()
        await self.client.aclose()

    async def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> bool:
        """Publish if connected; False (counted) when the link is down."""
        if not self.connected:
            self.dropped_publishes += 1
            return False
        try:
            await self.client.publish(topic, payload, qos, retain)
        except BusError as exc:  # down, or no PUBACK in time: the show does not wait for it
            self.dropped_publishes += 1
            _log.info("publish to %s dropped: %s", topic, exc)
            return False
        return True

    async def run(self) -> None:
        while not self._stop.is_set():
            try:
                if not await self._connect():
                    return
            except BusConnectError as exc:
                if exc.permanent:
                    raise
                continue
            try:
                await self.client.subscribe_all(self.filters)  # one round trip for all
                self.connected = True
                self.connects += 1
                if self.on_connect is not None:
                    await self.on_connect()
                await self._receive()
            except BusDisconnectedError as exc:
                if not self._stop.is_set():
                    _log.warning("bus link lost: %s", exc)
            finally:
                was = self.connected
                self.connected = False
                await self.client.aclose()
                if was and self.on_disconnect is not None:
                    self.on_disconnect()

    async def _connect(self) -> bool:
        """Connect with back-off; False (and closed) when `stop()` came first."""
        attempt = asyncio.ensure_future(
            connect_with_backoff(self.client, clock=self.clock, backoff=self.backoff)
        )
        stopped = asyncio.ensure_future(self._stop.wait())
        await asyncio.wait((attempt, stopped), return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if not attempt.done():
            attempt.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await attempt
        elif not self._stop.is_set():
            attempt.result()  # a refusal raises here
            return True
        await self.client.aclose()
        return False

    async def _receive(self) -> None:
        async for message in self.client.messages():
            self._dispatch(message)
            if self._stop.is_set():
                return

    def _dispatch(self, message: BusMessage) -> None:
        try:
            self.handler(message)
        except Exception as exc:  # a bad message must never end the link: log, count, drop
            self.handler_errors += 1
            _log.warning("message on %s dropped: %s: %s", message.topic, type(exc).__name__, exc)
