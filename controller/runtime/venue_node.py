"""L7 a venue in lockstep: the bus (timebase, state, commands, status) around a playing session.

Strategy:
- The bus runs on this process's asyncio loop; the show plays in the session's output
  thread on the shared frame grid. The two meet in three places only: the clock map the
  bus thread steers into the grid, commands submitted to the engine's inbox, and the
  engine's published snapshot read back for the status.
- Time requests go out `exchange_hz` times a second on absolute deadlines (`burst_hz`
  until the timebase locks and for a moment after every reconnect, as NTP's iburst does),
  status twice a second (retained, with a Last Will saying offline).
- The show loads (`load`, in a worker thread: imports of the render stack, compiling,
  opening the outputs) while the bus connects and the timebase locks: a venue that starts
  mid-show is on the wire about a second sooner than if it loaded first.
- The venue waits for its show, the conductor's state and a locked timebase before it
  plays, then joins where the show is (`VenueCore.joining_commands`). A different show
  refuses to play.
- When the broker, the link or the conductor goes, the player keeps playing on the last
  clock map (holdover: its error bound grows in the status); when they return, the
  exchanges resume and the map slews back, never stepping a frame backwards.
"""

from __future__ import annotations

import asyncio
import logging
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from controller.clock import Clock
from controller.protocols import bus
from controller.runtime.bus_link import BusLink
from controller.runtime.commands import Command
from controller.runtime.content import ShowContent
from controller.runtime.heap import freeze_heap
from controller.runtime.player import SWITCH_INTERVAL_S, normal_priority, request_realtime
from controller.runtime.venue_core import VenueCore, VenueHealth
from controller.transports.mqtt import BusClient, BusMessage

if TYPE_CHECKING:  # the render stack is imported by `load`, while the bus connects
    from controller.outputs.base import Output
    from controller.runtime.job import VenueJob
    from controller.runtime.look_tap import LookTap
    from controller.runtime.session import SessionOptions, VenueSession

__all__ = ["VenueNode", "VenueNodeOptions", "VenueRefused", "VenueStage"]

_log = logging.getLogger("citypulse.venue")

TRUTH_HZ = 10.0  # benchmark only: samples of the estimator's error a second
BUS_PRIORITY = 40  # SCHED_FIFO priority of the bus thread with --rt (the output thread: 50)
LOAD_NICE = -10  # the loading thread with --rt: SCHED_OTHER, ahead of ordinary programs


class VenueRefused(Exception):  # noqa: N818 - a verdict, not a bug
    """The venue will not play (a different show, or no timebase in time); says why."""


@dataclass(slots=True)
class TruthLog:
    """Benchmark only: the estimator's error against the true shared time, when it is known
    (a simulated clock offset and drift on one host: `citypulse venue --clock-offset-ms`).

    Sampled `TRUTH_HZ` times a second from the first estimate on; `at` is local seconds."""

    truth: Callable[[float], float]  # local time -> the true shared time
    at: list[float] = field(default_factory=list)  # local time of each sample
    estimate_ms: list[float] = field(default_factory=list)  # raw estimate minus truth
    map_ms: list[float] = field(default_factory=list)  # the disciplined map minus truth (NaN: none)
    locked_at: float | None = None  # local time the timebase first locked

    def sample(self, core: VenueCore, local: float) -> None:
        truth = self.truth(local)
        estimate = core.timebase.estimate(local)
        if estimate is None:
            return
        if self.locked_at is None and core.locked(local):
            self.locked_at = local
        self.at.append(local)
        self.estimate_ms.append((estimate.shared(local) - truth) * 1e3)
        grid = core.grid
        ready = grid is not None and grid.ready
        self.map_ms.append((grid.to_grid(local) - truth) * 1e3 if grid and ready else math.nan)


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueStage:
    """What playing needs, made by the node's `load` while the bus connects."""

    job: VenueJob
    content: ShowContent  # checked against the conductor's state
    outputs: Callable[[], list[Output]]  # the opened outputs, taken by the session
    session_options: SessionOptions
    session_factory: Callable[..., VenueSession] | None = None  # None: one process (shards: ...)


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueNodeOptions:
    exchange_hz: float = 15.0
    burst_hz: float = 100.0  # until locked, and for `burst_s` after each (re)connect
    burst_s: float = 2.0
    status_hz: float = 2.0
    ready_timeout_s: float = 60.0
    duration: float | None = None  # stop after this many seconds of playing
    realtime: bool = False  # SCHED_FIFO (the bus thread one step below the output thread)
    truth: Callable[[float], float] | None = None  # benchmark only: see TruthLog


class VenueNode:
    def __init__(
        self,
        *,
        load: Callable[[], VenueStage],
        core: VenueCore,
        client: BusClient,
        clock: Clock,
        options: VenueNodeOptions,
    ) -> None:
        self._load = load  # runs in a worker thread; raises what loading a show raises
        self.core = core
        self.clock = clock
        self.options = options
        self.session: VenueSession | None = None
        self.realtime_status = "normal priority"
        self.truth = None if options.truth is None else TruthLog(options.truth)
        self.started_at = clock.now()
        self.milestones: dict[str, float] = {}  # seconds after started_at: how the join went
        self.load_s: float | None = None  # how long loading the show took (in its thread)
        topics = core.topics
        self.link = BusLink(
            client=client,
            clock=clock,
            filters=(topics.time_resp(core.venue), topics.state, topics.cmd_exec),
            handler=self._on_message,
        )
        self._stopping = asyncio.Event()
        self.looks: LookTap | None = None  # look/<venue> for the consoles, once loaded

    # -- messages ----------------------------------------------------------------------------
    def _on_message(self, message: BusMessage) -> None:
        now = self.clock.now()
        ref = self.core.topics.parse(message.topic)
        if ref is None:
            return
        kind = ref.kind.value
        if kind == "time/resp":
            self.core.time_response(message.payload, now)
            if self.core.locked(now):
                self._mark("locked")
        elif kind == "state":
            self.core.on_state(message.payload, now, self.health())
            self._mark("state")
        elif kind == "cmd/exec":
            grid = self.core.grid
            shared = grid.to_grid(now) if grid is not None and grid.ready else now
            self.core.on_exec(message.payload, shared, now)

    def health(self) -> VenueHealth | None:
        if self.session is None:
            return None
        stats = self.session.engine.statistics()
        return VenueHealth(
            snapshot=stats.playback,
            frames_dropped=stats.frames_dropped,
            outputs_ok=all(o.up and not o.errors for o in stats.outputs),
        )

    # -- loops -------------------------------------------------------------------------------
    async def _every(self, hz: float, action: Callable[[], object]) -> None:
        period = 1.0 / hz
        next_at = self.clock.now()
        while not self._stopping.is_set():
            result = action()
            if asyncio.iscoroutine(result):
                await result
            next_at += period
            now = self.clock.now()
            if next_at < now:  # fell behind (a stall): skip, never burst
                next_at = now + period
            await self.clock.sleep_until(next_at)

    async def _exchanges(self) -> None:
        opts = self.options
        next_at = self.clock.now()
        connects, burst_until = 0, next_at + opts.burst_s
        while not self._stopping.is_set():
            now = self.clock.now()
            if self.link.connects != connects:
                connects, burst_until = self.link.connects, now + opts.burst_s
            if self.link.connected:
                self._mark("connected")
                topic, payload = self.core.time_request(now)
                await self.link.publish(topic, payload, qos=0)
            burst = now < burst_until or not self.core.locked(now)
            next_at = max(next_at + 1.0 / (opts.burst_hz if burst else opts.exchange_hz), now)
            await self.clock.sleep_until(next_at)

    async def _status(self) -> None:
        m = self.milestones
        join = m["playing"] - m["connected"] if "playing" in m and "connected" in m else None
        topic, payload = self.core.status(self.clock.now(), self.health(), join)
        await self.link.publish(topic, payload, qos=1, retain=True)

    async def _look(self) -> None:
        if self.looks is None:
            return
        payload = self.looks.payload()  # polled at twice the look rate: none is skipped
        if payload is not None:
            await self.link.publish(self.core.topics.look(self.core.venue), payload, qos=0)

    def _mark(self, name: str) -> None:
        self.milestones.setdefault(name, round(self.clock.now() - self.started_at, 3))

    async def _load_stage(self, group: asyncio.TaskGroup) -> VenueStage:
        """Load the show in a worker thread while the bus connects and the timebase locks."""
        began = self.clock.now()
        stage = await asyncio.to_thread(self._load_below_realtime)
        self.core.set_content(stage.content)
        self.load_s = round(self.clock.now() - began, 3)
        self._mark("loaded")
        from controller.runtime.look_tap import LookTap

        looks = self.looks = LookTap(stage.job.plan, venue=self.core.venue)
        group.create_task(self._every(2 * looks.rate_hz, self._look), name="looks")
        return stage

    def _load_below_realtime(self) -> VenueStage:
        # With --rt this pool thread was started by the SCHED_FIFO bus thread and inherited
        # its priority: a second of importing and compiling there would stall the rendering
        # of every other venue on a shared host. Loading is not real-time work, but it is on
        # the join's clock: ahead of ordinary programs (nice), behind every real-time thread.
        normal_priority(LOAD_NICE if self.options.realtime else 0)
        stage = self._load()
        from controller.runtime.engine import preload_kernels

        preload_kernels(stage.job.plan, stage.job.patch)
        return stage

    async def _start_when_ready(self, stage: VenueStage) -> bool:
        """Start playing once ready; False when stopped before that."""
        deadline = self.clock.now() + self.options.ready_timeout_s
        while not self.core.ready:
            if self._stopping.is_set():
                return False
            if self.core.mismatch:
                raise VenueRefused(
                    "a different show from the conductor's:\n  " + "\n  ".join(self.core.mismatch)
                )
            if self.clock.now() > deadline:
                raise VenueRefused(
                    f"no conductor state and locked timebase within {self.options.ready_timeout_s:g} s"
                )
            await self.clock.sleep_until(self.clock.now() + 0.01)
        while not self.core.locked(self.clock.now()):
            if self._stopping.is_set():
                return False
            if self.clock.now() > deadline:
                raise VenueRefused("the timebase did not lock in time")
            await self.clock.sleep_until(self.clock.now() + 0.01)
        self._mark("locked")
        grid = self.core.grid
        assert grid is not None
        from controller.runtime.session import VenueSession

        factory = stage.session_factory or VenueSession
        looks = self.looks
        session = factory(
            stage.job, stage.session_options, clock=self.clock, outputs=stage.outputs(),
            grid=grid, on_frame=None if looks is None else looks.on_frame,
        )  # fmt: skip
        for command in self.core.joining_commands():
            session.submit(command)
        self.core.submit = session.submit
        self.session = session
        freeze_heap()
        session.start()
        self._mark("playing")
        _log.info("%s playing (joined at %s)", self.core.venue, self.core.state)
        return True

    async def run(self) -> None:
        """Play until stopped, the show ends or `duration` passes; raises VenueRefused."""
        if self.options.realtime:
            # The output thread runs SCHED_FIFO; this thread shares its GIL. Left at normal
            # priority it could be preempted by other processes while holding the GIL, and
            # the output thread would wait for it (priority inversion): one step below.
            self.realtime_status = request_realtime(BUS_PRIORITY)
        # The loading thread and this one share the GIL: the default 5 ms switch interval
        # would delay the time exchanges' receive stamps by up to 5 ms while it loads.
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
        async with asyncio.TaskGroup() as group:
            group.create_task(self.link.run(), name=f"bus[{self.core.venue}]")
            group.create_task(self._exchanges(), name="time")
            group.create_task(self._every(self.options.status_hz, self._status), name="status")
            if self.truth is not None:
                truth = self.truth
                sample = lambda: truth.sample(self.core, self.clock.now())  # noqa: E731
                group.create_task(self._every(TRUTH_HZ, sample), name="truth")
            try:
                stage = await self._load_stage(group)
                if await self._start_when_ready(stage):
                    await self._play(stage)
            finally:
                self._stopping.set()
                await self._offline()
                await self.link.stop()

    async def _play(self, stage: VenueStage) -> None:
        started = self.clock.now()

        def over() -> bool:
            duration = self.options.duration
            return self._stopping.is_set() or (
                duration is not None and self.clock.now() - started >= duration
            )

        while True:
            session = self.session
            assert session is not None
            while session.player.running and not over() and session.grid is self.core.grid:
                await self.clock.sleep_until(self.clock.now() + 0.1)
            session.finish()
            if over() or not session.player.stopped_cleanly or session.grid is self.core.grid:
                return
            if not await self._start_when_ready(stage):  # a new timeline: join it
                return

    async def _offline(self) -> None:
        status = bus.VenueStatus.offline(self.core.venue)
        await self.link.publish(
            self.core.topics.status(self.core.venue), bus.encode(status), 1, True
        )

    def stop(self) -> None:
        self._stopping.set()

    def submit(self, command: Command) -> None:
        if self.session is not None:
            self.session.submit(command)
