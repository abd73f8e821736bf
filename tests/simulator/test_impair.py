"""ImpairedLink over real loopback sockets: delay as modelled, order kept, cut/restore, stalls."""

from __future__ import annotations

import asyncio
import contextlib
import random
import selectors
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import numpy as np
import pytest

from controller.clock import Clock, MonotonicClock
from controller.testing import ManualClock
from simulator.impair import ImpairedLink
from simulator.links import precise_loop
from simulator.pathmodel import DelaySampler, PathModel

pytestmark = pytest.mark.network

STAMP = struct.Struct("<Id4x")  # sequence, send time: 16 bytes


@dataclass
class Upstream:
    """A test server: records what arrives (with the arrival time), echoes it if asked."""

    clock: Clock
    echo: bool = False
    received: bytearray = field(default_factory=bytearray)
    arrivals: list[tuple[float, bytes]] = field(default_factory=list)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    closed: int = 0
    handlers: list[asyncio.Task[None]] = field(default_factory=list)
    port: int = 0
    got: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        task = asyncio.current_task()
        assert task is not None
        self.handlers.append(task)
        try:
            while chunk := await reader.read(65536):
                self.arrivals.append((self.clock.now(), chunk))
                self.received += chunk
                self.got.set()
                if self.echo:
                    writer.write(chunk)
                    await writer.drain()
        except ConnectionError:
            pass
        finally:
            self.closed += 1
            writer.close()


@contextlib.asynccontextmanager
async def upstream(clock: Clock, *, echo: bool = False) -> AsyncIterator[Upstream]:
    server_state = Upstream(clock, echo=echo)
    server = await asyncio.start_server(server_state.handle, "127.0.0.1", 0)
    server_state.port = server.sockets[0].getsockname()[1]
    async with server:
        yield server_state
        for w in server_state.writers:
            w.transport.abort()
        await asyncio.gather(*server_state.handlers)


async def connect(link: ImpairedLink) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", link.port)


async def test_one_way_delay_matches_the_model() -> None:
    clock = MonotonicClock()
    model = PathModel(delay_s=0.030, jitter_s=0.010)
    n, spacing = 30, 0.040
    async with (
        upstream(clock) as server,
        ImpairedLink(upstream=("127.0.0.1", server.port), up=model, clock=clock, seed=11) as link,
    ):
        _, writer = await connect(link)
        start = clock.now()
        for k in range(n):
            await clock.sleep_until(start + k * spacing)
            writer.write(STAMP.pack(k, clock.now()))
        while len(server.received) < n * STAMP.size:
            await asyncio.wait_for(server.got.wait(), 2.0)
            server.got.clear()
        writer.close()
        stats = link.statistics()
    # each message arrives whole or split: time it by the chunk holding its last byte
    ends = np.cumsum([len(chunk) for _, chunk in server.arrivals])
    times = [server.arrivals[int(np.searchsorted(ends, (k + 1) * STAMP.size))][0] for k in range(n)]
    sent = [STAMP.unpack_from(server.received, k * STAMP.size)[1] for k in range(n)]
    measured = np.array(times) - np.array(sent)
    draws = DelaySampler(model, seed="11/up")
    expected = np.array([draws.sample()[0] for _ in range(n)])
    assert measured.min() >= 0.030 - 0.001  # never earlier than the floor
    # the relay writes when the event loop wakes: allow a few ms of lateness on a busy machine
    excess = np.median(measured) - np.median(expected)
    assert -0.001 <= excess <= 0.004
    assert np.percentile(measured, 90) == pytest.approx(np.percentile(expected, 90), abs=0.008)
    assert stats.up.bytes == n * STAMP.size
    if stats.up.chunks == n:  # one message per chunk (a busy loop may merge two): the same draws
        assert stats.up.delay_p50_ms == pytest.approx(np.median(expected) * 1e3, abs=1e-3)
    assert stats.up.late_p50_ms is not None
    assert stats.up.late_p50_ms == pytest.approx(excess * 1e3, abs=2.0)
    assert stats.down.bytes == 0


async def test_order_is_kept_byte_for_byte_both_ways() -> None:
    clock = MonotonicClock()
    rng = random.Random(5)
    payload = rng.randbytes(300_000)
    jumpy = PathModel(delay_s=0.002, jitter_s=0.003, spike_p=0.05, spike_s=0.010)
    async with (
        upstream(clock, echo=True) as server,
        ImpairedLink(
            upstream=("127.0.0.1", server.port), up=jumpy, down=jumpy, clock=clock, seed=3
        ) as link,
    ):
        reader, writer = await connect(link)
        echoed = bytearray()

        async def collect() -> None:
            while chunk := await reader.read(65536):
                echoed.extend(chunk)

        collector = asyncio.create_task(collect())
        sent = 0
        while sent < len(payload):
            size = rng.randint(1, 4000)
            writer.write(payload[sent : sent + size])
            sent += size
            if rng.random() < 0.2:
                await clock.sleep_until(clock.now() + rng.random() * 0.002)
            if sent > len(payload) // 2:
                link.set_paths(up=PathModel(), down=PathModel())  # a shorter route: no overtaking
        await writer.drain()
        writer.write_eof()  # the half-close travels after the data; the server then closes
        await asyncio.wait_for(collector, 5.0)
        writer.close()
        stats = link.statistics()
    assert bytes(server.received) == payload
    assert bytes(echoed) == payload
    assert stats.up.bytes == stats.down.bytes == len(payload)
    assert stats.up.delay_max_ms is not None
    assert stats.up.delay_max_ms >= 10.0  # spikes happened


async def _closed(reader: asyncio.StreamReader) -> bool:
    try:
        return await asyncio.wait_for(reader.read(100), 2.0) == b""
    except ConnectionError:
        return True


async def test_cut_closes_relayed_connections_and_refuses_new_ones_until_restored() -> None:
    clock = MonotonicClock()
    async with (
        upstream(clock, echo=True) as server,
        ImpairedLink(upstream=("127.0.0.1", server.port), clock=clock) as link,
    ):
        reader, writer = await connect(link)
        writer.write(b"hello")
        assert await asyncio.wait_for(reader.readexactly(5), 2.0) == b"hello"
        link.cut()
        assert await _closed(reader)
        late_reader, late_writer = await connect(link)
        assert await _closed(late_reader)
        for _ in range(100):  # the upstream side sees the relayed connection end too
            if server.closed:
                break
            await clock.sleep_until(clock.now() + 0.01)
        assert server.closed == 1
        assert link.statistics().refused == 1
        link.restore()
        reader2, writer2 = await connect(link)
        writer2.write(b"again")
        assert await asyncio.wait_for(reader2.readexactly(5), 2.0) == b"again"
        stats = link.statistics()
        for w in (writer, late_writer, writer2):
            w.close()
    assert (stats.connections, stats.refused, stats.active) == (2, 1, 1)


async def test_a_stall_holds_everything_behind_it_and_only_its_direction() -> None:
    clock = MonotonicClock()
    async with (
        upstream(clock) as server,
        ImpairedLink(upstream=("127.0.0.1", server.port), clock=clock) as link,
    ):
        reader, writer = await connect(link)
        writer.write(b"a")
        await asyncio.wait_for(server.got.wait(), 2.0)
        t0 = clock.now()
        link.stall("up", 0.3)
        writer.write(b"b")
        await clock.sleep_until(t0 + 0.1)
        writer.write(b"c")
        server.writers[0].write(b"x")  # the other direction flows on
        assert await asyncio.wait_for(reader.readexactly(1), 2.0) == b"x"
        down_latency = clock.now() - (t0 + 0.1)
        while server.received != b"abc":
            server.got.clear()
            await asyncio.wait_for(server.got.wait(), 2.0)
        writer.close()
        stats = link.statistics()
    assert down_latency < 0.05
    later = [t - t0 for t, chunk in server.arrivals if chunk != b"a"]
    assert all(0.3 - 0.001 <= t < 0.3 + 0.05 for t in later), later
    assert stats.up.stalls == 1


async def test_a_random_stall_freezes_from_the_chunk_that_drew_it() -> None:
    clock = MonotonicClock()
    async with (
        upstream(clock) as server,
        ImpairedLink(
            upstream=("127.0.0.1", server.port),
            up=PathModel(stall_p=1.0, stall_s=0.15),
            clock=clock,
        ) as link,
    ):
        _, writer = await connect(link)
        t0 = clock.now()
        writer.write(b"a")
        await asyncio.wait_for(server.got.wait(), 2.0)
        writer.close()
    assert 0.15 - 0.001 <= server.arrivals[0][0] - t0 < 0.15 + 0.05


async def test_releases_wait_for_the_injected_clock() -> None:
    clock = ManualClock(0.0)
    async with (
        upstream(clock) as server,
        ImpairedLink(
            upstream=("127.0.0.1", server.port), up=PathModel(delay_s=1.0), clock=clock
        ) as link,
    ):
        _, writer = await connect(link)
        writer.write(b"due at 1.0")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(server.got.wait(), 0.2)  # real time passes, virtual does not
        clock.advance(0.999)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(server.got.wait(), 0.05)
        clock.advance(0.001)
        await asyncio.wait_for(server.got.wait(), 2.0)
        writer.close()
    assert server.received == b"due at 1.0"


def _median_lateness_ms(loop: asyncio.AbstractEventLoop) -> float:
    clock = MonotonicClock()

    async def wakes() -> list[float]:
        late = []
        for _ in range(40):
            due = clock.now() + 0.0003
            await clock.sleep_until(due)
            late.append((clock.now() - due) * 1e3)
        return late

    try:
        return float(np.median(loop.run_until_complete(wakes())))
    finally:
        loop.close()


def test_the_links_event_loop_wakes_to_the_microsecond_not_the_millisecond() -> None:
    """epoll takes whole milliseconds (rounded up): a 0.3 ms wait wakes at 1 ms, 0.7 ms late
    every time. The links' loop waits with select(2): a fraction of that."""
    epoll = _median_lateness_ms(asyncio.SelectorEventLoop(selectors.EpollSelector()))
    precise = _median_lateness_ms(precise_loop())
    assert epoll >= 0.6
    assert precise < epoll / 2
