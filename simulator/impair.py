"""A userspace TCP relay that impairs the path between a client and a server (one per venue).

This machine's kernel has no netem, so WAN conditions are made here: `ImpairedLink` listens
on loopback, opens one upstream connection per client connection, and relays both ways.
Each direction follows its `PathModel` (`simulator.pathmodel`): a chunk read at `arrival`
with a sampled delay `d` is written at `max(previous release, arrival + d)`, so bytes of
one direction are never reordered and a slow chunk holds everything behind it
(head-of-line blocking, as TCP would). A stall freezes a direction from now for S seconds,
queued chunks included. A TCP relay cannot drop bytes, so loss is modelled as stalls.

`cut()` aborts every relayed connection and refuses new ones (accepted, then closed at
once) until `restore()`. `set_paths()` changes a model mid-run (a route change).
Releases wait on the injected clock's absolute deadlines; a write happens as soon as the
event loop wakes after that (usually well under 1 ms late, a few ms on a busy machine).
Statistics give the delays as scheduled and, apart, how late the writes actually were.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import deque
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Literal, Self

import numpy as np

from controller.clock import Clock
from simulator.pathmodel import DelaySampler, PathModel, PathSpecError, parse_path_spec

__all__ = [
    "DirectionStatistics",
    "ImpairedLink",
    "LinkStatistics",
    "PathModel",
    "PathSpecError",
    "parse_path_spec",
]

Direction = Literal["up", "down"]
CHUNK = 65536
DELAY_WINDOW = 100_000  # applied delays kept for the percentiles (most recent)


@dataclass(frozen=True, slots=True, kw_only=True)
class DirectionStatistics:
    bytes: int
    chunks: int
    stalls: int  # random and scripted
    delay_p50_ms: float | None  # applied delay: write time scheduled minus read time
    delay_p99_ms: float | None
    delay_max_ms: float | None
    late_p50_ms: float | None  # how late the event loop actually wrote, past the scheduled time
    late_p99_ms: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkStatistics:
    up: DirectionStatistics  # client -> upstream
    down: DirectionStatistics  # upstream -> client
    connections: int  # relayed since start
    active: int
    refused: int  # accepted while cut, closed at once
    upstream_failures: int  # the upstream refused or failed to connect

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class _Path:
    """One direction of the link: its sampler, stall state and counters."""

    def __init__(self, model: PathModel, seed: str) -> None:
        self.sampler = DelaySampler(model, seed=seed)
        self.stall_until = float("-inf")
        self.bytes = 0
        self.chunks = 0
        self.stalls = 0
        self.delays: deque[float] = deque(maxlen=DELAY_WINDOW)
        self.lateness: deque[float] = deque(maxlen=DELAY_WINDOW)

    def stall(self, until: float) -> None:
        self.stalls += 1
        self.stall_until = max(self.stall_until, until)

    def statistics(self) -> DirectionStatistics:
        delay, late = _percentiles_ms(self.delays), _percentiles_ms(self.lateness)
        return DirectionStatistics(
            bytes=self.bytes, chunks=self.chunks, stalls=self.stalls,
            delay_p50_ms=delay[0], delay_p99_ms=delay[1], delay_max_ms=delay[2],
            late_p50_ms=late[0], late_p99_ms=late[1],
        )  # fmt: skip


def _percentiles_ms(values: deque[float]) -> tuple[float | None, float | None, float | None]:
    """p50, p99 and max in milliseconds (rounded to microseconds); None when empty."""
    if not values:
        return None, None, None
    ms = np.asarray(values, dtype=np.float64) * 1e3
    p50, p99 = np.percentile(ms, [50, 99])
    return round(float(p50), 3), round(float(p99), 3), round(float(ms.max()), 3)


class ImpairedLink:
    """`async with ImpairedLink(upstream=(host, port), up=..., down=..., clock=...) as link:`
    then connect to `("127.0.0.1", link.port)` instead of the upstream."""

    def __init__(
        self,
        *,
        upstream: tuple[str, int],
        clock: Clock,
        listen: tuple[str, int] = ("127.0.0.1", 0),
        up: PathModel | None = None,
        down: PathModel | None = None,
        seed: int = 0,
    ) -> None:
        self.upstream = upstream
        self.listen = listen
        self._clock = clock
        self._paths = {
            "up": _Path(up or PathModel(), f"{seed}/up"),
            "down": _Path(down or PathModel(), f"{seed}/down"),
        }
        self._cut = False
        self._connections: set[asyncio.Task[None]] = set()
        self._counts = {"connections": 0, "refused": 0, "upstream_failures": 0}
        self._stack = AsyncExitStack()
        self._tg: asyncio.TaskGroup | None = None
        self._server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> Self:
        self._tg = await self._stack.enter_async_context(asyncio.TaskGroup())
        self._server = await asyncio.start_server(self._accept, *self.listen)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await self._stack.__aexit__(exc_type, exc, tb)
        if self._server is not None:
            await self._server.wait_closed()

    # -- control -------------------------------------------------------------------------

    def cut(self) -> None:
        """Abort every relayed connection and refuse new ones until `restore()`."""
        self._cut = True
        for task in list(self._connections):
            task.cancel()

    def restore(self) -> None:
        self._cut = False

    @property
    def is_cut(self) -> bool:
        return self._cut

    def stall(self, direction: Direction, seconds: float) -> None:
        """Freeze `direction` from now for `seconds`: nothing is written until then."""
        if not seconds >= 0.0:
            raise ValueError(f"seconds={seconds!r} must be >= 0")
        self._paths[direction].stall(self._clock.now() + seconds)

    def set_paths(self, *, up: PathModel | None = None, down: PathModel | None = None) -> None:
        """Change a direction's model from the next chunk on (order is still kept)."""
        for direction, model in (("up", up), ("down", down)):
            if model is not None:
                self._paths[direction].sampler.model = model

    def statistics(self) -> LinkStatistics:
        return LinkStatistics(
            up=self._paths["up"].statistics(),
            down=self._paths["down"].statistics(),
            active=len(self._connections),
            **self._counts,
        )

    # -- relay ---------------------------------------------------------------------------

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._cut or self._tg is None:
            self._counts["refused"] += 1
            writer.transport.abort()
            return
        self._counts["connections"] += 1
        name = f"impair[{self.port}->{self.upstream[1]}]#{self._counts['connections']}"
        task = self._tg.create_task(self._relay(reader, writer), name=name)
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection(*self.upstream)
        except OSError:
            self._counts["upstream_failures"] += 1
            client_w.transport.abort()
            return
        for w in (client_w, up_w):
            sock = w.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._pump(client_r, up_w, self._paths["up"]), name="up")
                tg.create_task(self._pump(up_r, client_w, self._paths["down"]), name="down")
        except* (OSError, EOFError):
            pass  # a peer reset or vanished: the relayed connection ends, like a real one
        finally:
            client_w.transport.abort()
            up_w.transport.abort()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: _Path
    ) -> None:
        queue: asyncio.Queue[tuple[float, float, bytes] | None] = asyncio.Queue()
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._release(queue, writer, path), name="release")
            last = float("-inf")
            while chunk := await reader.read(CHUNK):
                arrival = self._clock.now()
                delay, stall = path.sampler.sample()
                if stall > 0.0:
                    path.stall(arrival + stall)
                last = max(last, arrival + delay)  # head-of-line: never before the previous chunk
                queue.put_nowait((arrival, last, chunk))
            queue.put_nowait(None)

    async def _release(
        self,
        queue: asyncio.Queue[tuple[float, float, bytes] | None],
        writer: asyncio.StreamWriter,
        path: _Path,
    ) -> None:
        while (item := await queue.get()) is not None:
            arrival, release, chunk = item
            while (due := max(release, path.stall_until)) > self._clock.now():
                await self._clock.sleep_until(due)  # a stall may begin while we wait
            writer.write(chunk)
            path.lateness.append(self._clock.now() - due)
            path.bytes += len(chunk)
            path.chunks += 1
            path.delays.append(due - arrival)
            await writer.drain()
        if writer.can_write_eof():
            with contextlib.suppress(OSError):
                writer.write_eof()  # pass the half-close on, after everything before it
