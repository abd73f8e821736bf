"""L7 the conductor in a process: time service, commands and show state over the bus.

Strategy:
- Shared time is this process's `shared` clock: UTC read once at start, carried by the
  monotonic clock (`controller.clock.UtcClock`), so it never steps. A standby's shared
  clock is the primary's, learned as a venue learns it (time exchanges) until it takes
  over; from then on it carries the last clock map forward, so no venue's timebase steps.
- Time requests are answered on receipt: T2 is stamped when the message is handed to us,
  T3 just before the answer is published (RFC 5905 §8).
- Every `ADVANCE_S` the conductor plays its own playback to now (executing what is due)
  and republishes the retained state when it changed, and once a second anyway.
- A retained state of the same show found at start is continued (a restarted conductor);
  a primary publishes `conductor/online` retained with a Last Will saying offline. A
  standby (`standby=True`) watches it and takes over when the primary's will fires.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from controller.clock import Clock
from controller.protocols import bus
from controller.runtime.bus_link import BusLink
from controller.runtime.conductor_core import ConductorCore, Publish
from controller.runtime.player import request_realtime
from controller.sync.discipline import ClockMap
from controller.sync.exchange import Exchange
from controller.sync.timebase import Timebase
from controller.transports.mqtt import BusClient, BusMessage

__all__ = ["ConductorNode", "ConductorOptions", "SharedClock"]

_log = logging.getLogger("citypulse.conductor")

ADVANCE_S = 0.01
CONNECT_WAIT_S = 10.0  # for the broker before starting a new timeline anyway
RETAINED_WAIT_S = 0.5  # for the retained state once connected
# SCHED_FIFO priority of the conductor's one thread with `realtime`: a venue's estimate is only
# as steady as the T2 and T3 stamps, so the time service runs as NTP servers do, real-time.
# On a host shared with venues (a rehearsal): above their rendering (10), below their bus
# threads (40) and output threads (50). Above a bus thread, a burst of the conductor's work
# preempted it while it held its venue's interpreter lock, and the venue's output thread
# waited for the lock (measured: frames dropped after 1 ms of preparing, 20 ms late).
TIME_SERVICE_PRIORITY = 30


class SharedClock:
    """Shared time as this conductor serves it, read from the local monotonic clock: plus a
    fixed offset (a primary: UTC at start), or through the clock map a standby followed."""

    def __init__(self, local: Clock, offset_s: float) -> None:
        self.local = local
        self.offset_s = offset_s
        self.follow: ClockMap | None = None

    def now(self) -> float:
        t = self.local.now()
        follow = self.follow
        return follow.shared(t) if follow is not None else t + self.offset_s


@dataclass(frozen=True, slots=True, kw_only=True)
class ConductorOptions:
    standby: bool = False
    exchange_hz: float = 15.0  # a standby's time exchanges with the primary
    realtime: bool = False  # SCHED_FIFO `TIME_SERVICE_PRIORITY` for the thread that answers


class ConductorNode:
    def __init__(
        self,
        *,
        core: ConductorCore,
        client: BusClient,
        clock: Clock,
        shared: SharedClock,
        options: ConductorOptions,
    ) -> None:
        self.core = core
        self.clock = clock
        self.shared = shared
        self.options = options
        self.realtime_status = "normal priority"
        self.active = not options.standby
        self.restored: bus.ShowState | None = None
        self._stopping = asyncio.Event()
        topics = core.topics
        self.link = BusLink(
            client=client,
            clock=clock,
            filters=(
                topics.time_req_all, topics.cmd_submit, topics.status_all, topics.state,
                topics.conductor_online, topics.time_resp(core.node),
            ),
            handler=self._on_message,
            on_connect=self._on_connect,
        )  # fmt: skip
        self._outbox: asyncio.Queue[Publish] = asyncio.Queue()
        self._pending_time: dict[str, bus.TimeResponse] = {}
        self.takeover_event = asyncio.Event()
        self.timebase = Timebase()  # a standby follows the primary's shared time with it
        self._seq = 0
        self._sent: dict[int, float] = {}

    # -- messages ----------------------------------------------------------------------------
    def _on_message(self, message: BusMessage) -> None:
        t2 = self.shared.now()
        ref = self.core.topics.parse(message.topic)
        if ref is None:
            return
        kind = ref.kind.value
        if kind == "time/req" and self.active and ref.node is not None:
            answer = self.core.time_response(ref.node, message.payload, t2)
            if answer is not None:
                topic, request = answer
                self._send(topic, bus.TimeResponse(seq=request.seq, t1=request.t1, t2=t2, t3=t2))
        elif kind == "cmd/submit" and self.active:
            for publish in self.core.submit(message.payload, t2):
                self._outbox.put_nowait(publish)
        elif kind == "status" and ref.node is not None:
            self.core.venue_status(ref.node, message.payload)
        elif kind == "state":
            self._on_state(message)
        elif kind == "conductor/online":
            self._on_presence(message.payload)
        elif kind == "time/resp" and not self.active:
            self._follow_primary(message.payload)

    def _send(self, topic: str, response: bus.TimeResponse) -> None:
        """A time response: T3 stamped as late as possible, in the publishing task."""
        self._outbox.put_nowait(Publish(topic, b"", qos=0, retain=False))
        self._pending_time[topic] = response

    def _follow_primary(self, payload: bytes) -> None:
        t4 = self.clock.now()
        try:
            response = bus.decode(bus.TimeResponse, payload)
        except bus.BusPayloadError as exc:
            _log.warning("time response dropped: %s", exc.reason)
            return
        t1 = self._sent.pop(response.seq, None)
        if t1 is None or t1 != response.t1:
            return
        self.timebase.add_exchange(Exchange(t1=t1, t2=response.t2, t3=response.t3, t4=t4))
        clock_map = self.timebase.clock_map(t4)
        if clock_map is not None:
            self.shared.follow = clock_map

    async def _exchanges(self) -> None:
        """A standby's time requests to the primary, until it takes over."""
        period = 1.0 / self.options.exchange_hz
        next_at = self.clock.now()
        while not self.active and not self._stopping.is_set():
            if self.link.connected:
                self._seq += 1
                t1 = self.clock.now()
                self._sent[self._seq] = t1
                if len(self._sent) > 64:
                    del self._sent[min(self._sent)]
                request = bus.TimeRequest(node=self.core.node, seq=self._seq, t1=t1)
                await self.link.publish(
                    self.core.topics.time_req(self.core.node), bus.encode(request)
                )
            next_at = max(next_at + period, self.clock.now())
            await self.clock.sleep_until(next_at)

    def _on_state(self, message: BusMessage) -> None:
        try:
            state = bus.decode(bus.ShowState, message.payload)
        except bus.BusPayloadError as exc:
            _log.warning("retained state dropped: %s", exc.reason)
            return
        if state.conductor == self.core.node:
            return
        if self.active and not message.retain:
            _log.warning("another conductor %r publishes state", state.conductor)
            return
        self.restored = state

    def _on_presence(self, payload: bytes) -> None:
        try:
            presence = bus.decode(bus.ConductorPresence, payload)
        except bus.BusPayloadError as exc:
            _log.warning("conductor presence dropped: %s", exc.reason)
            return
        if presence.conductor == self.core.node or presence.standby:
            return
        if not presence.online and not self.active:
            self.takeover_event.set()

    async def _on_connect(self) -> None:
        if self.active:  # a standby never overwrites the primary's retained presence
            await self._presence()

    async def _presence(self) -> None:
        presence = bus.ConductorPresence(
            conductor=self.core.node, online=True, standby=not self.active,
            since=self.shared.now(),
        )  # fmt: skip
        await self.link.publish(self.core.topics.conductor_online, bus.encode(presence), 1, True)

    # -- loops -------------------------------------------------------------------------------
    async def _publisher(self) -> None:
        while True:
            publish = await self._outbox.get()
            if publish.topic in self._pending_time:
                response = self._pending_time.pop(publish.topic)
                t3 = self.shared.now()
                payload = bus.encode(response.model_copy(update={"t3": t3}))
                await self.link.publish(publish.topic, payload, qos=0)
                continue
            await self.link.publish(publish.topic, publish.payload, publish.qos, publish.retain)

    async def _advance(self) -> None:
        next_at = self.clock.now()
        while not self._stopping.is_set():
            if self.active:
                for publish in self.core.advance(self.shared.now(), local=self.clock.now()):
                    self._outbox.put_nowait(publish)
            next_at = max(next_at + ADVANCE_S, self.clock.now())
            await self.clock.sleep_until(next_at)

    async def take_over(self) -> None:
        """Become the conductor: continue the last state on the shared clock we followed."""
        await self.takeover_event.wait()
        if self._stopping.is_set():
            return
        if self.restored is not None:
            self.core.adopt(self.restored)
        self.active = True
        _log.warning("%s takes over as conductor", self.core.node)
        await self._presence()

    async def run(self) -> None:
        if self.options.realtime:
            self.realtime_status = request_realtime(TIME_SERVICE_PRIORITY)
            _log.info("time service: %s", self.realtime_status)
        async with asyncio.TaskGroup() as group:
            group.create_task(self.link.run(), name="bus[conductor]")
            publisher = group.create_task(self._publisher(), name="publisher")
            await self._wait_for_retained()
            if self.active and self.restored is not None:
                if self.restored.content_hash == self.core.show.content.digest:
                    _log.info("continuing the retained state (version %d)", self.restored.version)
                    self.core.adopt(self.restored)
            if not self.active:
                group.create_task(self._exchanges(), name="standby-time")
                group.create_task(self.take_over(), name="standby")
            advance = group.create_task(self._advance(), name="advance")
            await self._stopping.wait()
            for task in (advance, publisher):
                task.cancel()
            self.takeover_event.set()  # a standby's waiter ends too
            await self.link.stop()

    async def _wait_for_retained(self) -> None:
        """Before publishing a state of our own: connect, then give the broker a moment to
        deliver the retained state (it follows the SUBACK), so a restarted conductor continues
        the show instead of starting a second timeline beside it."""
        deadline = self.clock.now() + CONNECT_WAIT_S
        while not self.link.connected and self.clock.now() < deadline:
            await self.clock.sleep_until(self.clock.now() + 0.02)
        deadline = self.clock.now() + RETAINED_WAIT_S
        while self.restored is None and self.clock.now() < deadline:
            await self.clock.sleep_until(self.clock.now() + 0.02)

    def stop(self) -> None:
        self._stopping.set()
