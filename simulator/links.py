"""Impaired links in their own process: one `ImpairedLink` per venue, between it and the broker.

The relays run on an event loop of their own, in a child process, so their release times
never wait for a busy orchestrator (or for the GIL of anything else). The parent asks over
a Pipe: the ports to connect to, cut/restore a venue's link, statistics, stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import os
import selectors
from collections.abc import Mapping
from multiprocessing.connection import Connection
from typing import Any, Self

from controller.clock import MonotonicClock
from simulator.impair import ImpairedLink
from simulator.pathmodel import parse_path_spec

__all__ = ["LinksProcess"]

START_TIMEOUT_S = 30.0


async def _serve(specs: Mapping[str, str], upstream: tuple[str, int], pipe: Connection) -> None:
    clock = MonotonicClock()
    async with contextlib.AsyncExitStack() as stack:
        links: dict[str, ImpairedLink] = {}
        for seed, (name, spec) in enumerate(sorted(specs.items())):
            up, down = parse_path_spec(spec)
            link = ImpairedLink(upstream=upstream, clock=clock, up=up, down=down, seed=seed + 1)
            links[name] = await stack.enter_async_context(link)
        pipe.send({name: link.port for name, link in links.items()})
        loop = asyncio.get_running_loop()
        while True:
            request = await loop.run_in_executor(None, pipe.recv)
            verb, name = request
            if verb == "stop":
                pipe.send(None)
                return
            if verb == "stats":
                pipe.send({n: link.statistics().as_dict() for n, link in links.items()})
            elif verb == "cut":
                links[name].cut()
                pipe.send(True)
            elif verb == "restore":
                links[name].restore()
                pipe.send(True)


def _main(
    specs: dict[str, str], upstream: tuple[str, int], pipe: Connection, priority: int | None
) -> None:
    if priority is not None:
        with contextlib.suppress(OSError):  # refused: it runs at normal priority
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    with asyncio.Runner(loop_factory=precise_loop) as runner:
        runner.run(_serve(specs, upstream, pipe))


def precise_loop() -> asyncio.AbstractEventLoop:
    """An event loop whose timers wake to the microsecond: epoll takes its timeout in whole
    milliseconds (rounded up), which made every release up to 1 ms late and each leg's delay
    floor wander by 1-2.5 ms from one 5 s stretch to the next (a WAN's floor is crisp);
    select(2) takes microseconds. The relays hold a handful of sockets: select's limit of
    1,024 descriptors is far away."""
    return asyncio.SelectorEventLoop(selectors.SelectSelector())


class LinksProcess:
    """`with LinksProcess({"lhasa": "rtt=60ms,jitter=10ms"}, ("127.0.0.1", 1883)) as links:`"""

    def __init__(
        self,
        specs: Mapping[str, str],
        upstream: tuple[str, int],
        *,
        priority: int | None = None,  # SCHED_FIFO for the relays (the network is not the venues')
    ) -> None:
        for spec in specs.values():
            parse_path_spec(spec)  # a bad spec fails here, in the caller, with its message
        self.specs = dict(specs)
        self.upstream = upstream
        self.priority = priority
        self.ports: dict[str, int] = {}
        self._pipe: Connection | None = None
        self._process: Any = None

    def __enter__(self) -> Self:
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        self._process = ctx.Process(
            target=_main,
            args=(self.specs, self.upstream, child, self.priority),
            daemon=True,
            name="links",
        )
        self._process.start()
        if not parent.poll(START_TIMEOUT_S):
            self._process.kill()
            msg = "the impaired links did not start"
            raise RuntimeError(msg)
        self.ports = parent.recv()
        self._pipe = parent
        return self

    def _ask(self, verb: str, name: str = "") -> Any:
        assert self._pipe is not None
        self._pipe.send((verb, name))
        return self._pipe.recv()

    def cut(self, name: str) -> None:
        self._ask("cut", name)

    def restore(self, name: str) -> None:
        self._ask("restore", name)

    def statistics(self) -> dict[str, Any]:
        stats: dict[str, Any] = self._ask("stats")
        return stats

    def __exit__(self, *exc: object) -> None:
        if self._pipe is not None:
            with contextlib.suppress(OSError, EOFError):
                self._ask("stop")
        if self._process is not None:
            self._process.join(5)
            if self._process.is_alive():
                self._process.kill()
