"""Async I/O shells around `SimulatorCore`: UDP listeners and a pty-based ENTTEC widget.

Rules:
- `async with Simulator(...) as sim:` binds every socket and opens the pty on entry (none
  in `__init__`), runs one named task per socket or pty in a TaskGroup, and closes them
  all on exit. A failing task cancels the block and surfaces in an ExceptionGroup.
- Arrival time is the injected `Clock.now()`; the shells only read bytes and hand them
  to the core with the sender's address. No protocol logic lives here.
- sACN multicast: Linux delivers a multicast datagram only to sockets bound to the
  wildcard or to the group address, never to one bound to 127.0.0.1. So sACN gets one
  unicast socket on `host:port` plus one socket per group `239.255.hi.lo:port` (routed
  universes and `sacn_universes`), each with SO_REUSEADDR and IP_ADD_MEMBERSHIP on
  the `host` interface. One socket per group also keeps under Linux's 20-groups-per-socket
  default (`net.ipv4.igmp_max_memberships`) and never hears groups joined by others.
- Several sockets lose the order between them, and E1.31 sync depends on it (the sync
  packet follows the data it latches, on another group). So one task serves all sACN
  sockets: it drains every socket until a whole pass finds nothing, then hands the batch
  to the core sorted by the kernel's receive timestamp (SO_TIMESTAMPNS), which is the
  order the datagrams arrived in.
- The ENTTEC widget is a pty pair: the slave is put in raw mode and stays open for the
  simulator's lifetime (so the master never reads EIO when the controller closes it); the
  controller opens `enttec_path` with pyserial; the master is read with `loop.add_reader`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import socket
import struct
import tty
from collections.abc import Callable, Coroutine, Iterable
from types import TracebackType
from typing import Any, Self

from controller.clock import Clock
from controller.errors import TransportError
from controller.show.rig import Protocol
from simulator.core import SimulatorCore, WireProtocol

__all__ = ["Simulator", "sacn_group"]

_MAX_DATAGRAM = 65536
_RECEIVE_BUFFER = 4 * 1024 * 1024
_MAX_BATCH = 4096  # datagrams merged at most before delivering, so a flood cannot starve
# Linux (asm-generic): SO_TIMESTAMPNS, also the SCM type of its ancillary data; Python's
# socket module does not name it. The payload is a struct timespec.
_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_TIMESPEC = struct.Struct("@qq")
_Stamped = tuple[int, bytes, tuple[str, int]]  # (receive time ns, datagram, sender)
_Job = Callable[[], Coroutine[Any, Any, None]]


def sacn_group(universe: int) -> str:
    """E1.31 multicast group of a universe: 239.255.hi.lo."""
    return f"239.255.{universe >> 8 & 0xFF}.{universe & 0xFF}"


def _udp_socket(host: str, port: int, *, reuse: bool = False) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        if reuse:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER)
        sock.bind((host, port))
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        msg = f"cannot bind UDP {host}:{port}: {exc.strerror or exc}"
        raise TransportError(msg) from exc
    return sock


def _stamp_arrivals(sock: socket.socket) -> None:
    """Ask the kernel for each datagram's receive time (used to merge several sockets)."""
    with contextlib.suppress(OSError):  # without it the merge keeps per-socket order only
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)


def _receive_stamped(sock: socket.socket) -> _Stamped | None:
    """One queued datagram with its kernel receive time, or None when the queue is empty."""
    try:
        data, ancillary, _, address = sock.recvmsg(_MAX_DATAGRAM, socket.CMSG_SPACE(_TIMESPEC.size))
    except BlockingIOError:
        return None
    stamp = 0
    for level, kind, raw in ancillary:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(raw) >= _TIMESPEC.size:
            seconds, nanoseconds = _TIMESPEC.unpack_from(raw)
            stamp = seconds * 1_000_000_000 + nanoseconds
    return stamp, data, (str(address[0]), int(address[1]))


def _join(sock: socket.socket, group: str, interface: str) -> None:
    membership = socket.inet_aton(group) + socket.inet_aton(interface)
    try:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
    except OSError as exc:
        msg = f"cannot join multicast group {group} on {interface}: {exc.strerror or exc}"
        raise TransportError(msg) from exc


def _drain(sockets: list[socket.socket]) -> list[_Stamped]:
    """Everything queued on `sockets`, in kernel arrival order.

    Passes repeat until one finds nothing: whatever arrives after that pass began is
    later than everything collected, so sorting the batch by receive time is exact.
    """
    batch: list[_Stamped] = []
    while len(batch) < _MAX_BATCH:
        found = len(batch)
        for sock in sockets:
            while len(batch) < _MAX_BATCH and (item := _receive_stamped(sock)) is not None:
                batch.append(item)
        if len(batch) == found:
            break
    batch.sort(key=lambda item: item[0])  # stable: equal stamps keep per-socket order
    return batch


class Simulator:
    """Listens on loopback for a venue's outputs and feeds everything to `core`.

    Args:
        core: the receiver state every packet goes to.
        clock: gives arrival times (MonotonicClock in production, ManualClock in tests).
        host: address to bind and the interface for multicast membership.
        artnet_port, sacn_port, osc_port: UDP ports, 0 for an ephemeral one, None to not
            listen for that protocol.
        sacn_universes: extra sACN universes whose groups to join (e.g. a sync universe
            that carries no data).
        enttec: open a pty that behaves like an ENTTEC DMX USB Pro.
        enttec_device: the device name handed to the core for the widget's bytes (a
            route's `device`); default the slave path.
    """

    def __init__(
        self,
        *,
        core: SimulatorCore,
        clock: Clock,
        host: str = "127.0.0.1",
        artnet_port: int | None = 0,
        sacn_port: int | None = 0,
        osc_port: int | None = 0,
        sacn_universes: Iterable[int] = (),
        enttec: bool = False,
        enttec_device: str | None = None,
    ) -> None:
        self.core = core
        self.clock = clock
        self.host = host
        self._wanted: dict[WireProtocol, int | None] = {
            "artnet": artnet_port,
            "sacn": sacn_port,
            "osc": osc_port,
        }
        routed = {w for r in core.routes if r.protocol is Protocol.SACN for w in r.wire}
        self.sacn_universes = tuple(sorted(routed | set(sacn_universes)))
        self._enttec = enttec
        self._enttec_device = enttec_device
        self._ports: dict[str, int] = {}
        self._enttec_path: str | None = None
        self._group: asyncio.TaskGroup | None = None
        self._stack: contextlib.ExitStack | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._changed = asyncio.Event()
        self.received = 0  # datagrams and serial chunks handed to the core

    # -- addresses -----------------------------------------------------------------------
    def _port(self, protocol: str) -> int:
        if protocol not in self._ports:
            msg = f"no {protocol} listener (not entered, or its port was None)"
            raise RuntimeError(msg)
        return self._ports[protocol]

    @property
    def artnet_port(self) -> int:
        return self._port("artnet")

    @property
    def sacn_port(self) -> int:
        return self._port("sacn")

    @property
    def osc_port(self) -> int:
        return self._port("osc")

    @property
    def enttec_path(self) -> str:
        """The pty slave: open it with `serial.Serial(path)` as the widget's device."""
        if self._enttec_path is None:
            msg = "no ENTTEC widget (not entered, or enttec=False)"
            raise RuntimeError(msg)
        return self._enttec_path

    # -- lifetime ------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        if self._group is not None:
            msg = "this Simulator is already open"
            raise RuntimeError(msg)
        stack = contextlib.ExitStack()
        try:
            jobs = self._open(stack)
            group = asyncio.TaskGroup()
            await group.__aenter__()
        except BaseException:
            stack.close()
            raise
        self._stack, self._group = stack, group
        self._tasks = [group.create_task(job(), name=name) for name, job in jobs]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        group, stack = self._group, self._stack
        if group is None or stack is None:
            msg = "__aexit__ without __aenter__"
            raise RuntimeError(msg)
        for task in self._tasks:
            task.cancel()
        try:
            await group.__aexit__(exc_type, exc, tb)
        finally:
            stack.close()
            self._group = self._stack = None
            self._tasks, self._ports, self._enttec_path = [], {}, None

    def _open(self, stack: contextlib.ExitStack) -> list[tuple[str, _Job]]:
        """Bind sockets and open the pty; returns the named jobs that serve them."""
        jobs: list[tuple[str, _Job]] = []
        for protocol, wanted in self._wanted.items():
            if wanted is None:
                continue
            sock = _udp_socket(self.host, wanted, reuse=protocol == "sacn")
            stack.callback(sock.close)
            port = self._ports[protocol] = sock.getsockname()[1]
            name = f"simulator[{protocol}@{self.host}:{port}]"
            if protocol != "sacn":
                jobs.append((name, functools.partial(self._serve_udp, protocol, sock)))
                continue
            sockets = [sock]
            for universe in self.sacn_universes:
                group = sacn_group(universe)
                member = _udp_socket(group, port, reuse=True)
                stack.callback(member.close)
                _join(member, group, self.host)
                sockets.append(member)
            for member in sockets:
                _stamp_arrivals(member)
            groups = f"+{len(sockets) - 1} groups" if len(sockets) > 1 else ""
            jobs.append((name + groups, functools.partial(self._serve_merged, "sacn", sockets)))
        if self._enttec:
            master, slave = os.openpty()
            stack.callback(os.close, master)
            stack.callback(os.close, slave)
            tty.setraw(slave)  # no echo, no line editing, no CR/LF translation
            os.set_blocking(master, False)
            self._enttec_path = os.ttyname(slave)
            source = self._enttec_device or self._enttec_path
            serve = functools.partial(self._serve_pty, master, source)
            jobs.append((f"simulator[enttec@{self._enttec_path}]", serve))
        return jobs

    # -- serving -------------------------------------------------------------------------
    def _deliver(self, protocol: WireProtocol, data: bytes, source: tuple[str, int]) -> None:
        self.core.receive(self.clock.now(), protocol, data, source)
        self.received += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def _serve_udp(self, protocol: WireProtocol, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            data, address = await loop.sock_recvfrom(sock, _MAX_DATAGRAM)
            self._deliver(protocol, data, (str(address[0]), int(address[1])))

    async def _serve_merged(self, protocol: WireProtocol, sockets: list[socket.socket]) -> None:
        """Serve several sockets in arrival order (see the module rules)."""
        loop = asyncio.get_running_loop()
        ready = asyncio.Event()
        for sock in sockets:
            loop.add_reader(sock.fileno(), ready.set)
        try:
            while True:
                await ready.wait()
                ready.clear()
                for stamp_ns, data, source in _drain(sockets):
                    del stamp_ns
                    self._deliver(protocol, data, source)
        finally:
            for sock in sockets:
                loop.remove_reader(sock.fileno())

    async def _serve_pty(self, master: int, device: str) -> None:
        loop = asyncio.get_running_loop()
        failed: asyncio.Future[None] = loop.create_future()

        def readable() -> None:
            try:
                data = os.read(master, _MAX_DATAGRAM)
            except BlockingIOError:
                return
            except OSError as exc:
                loop.remove_reader(master)
                if not failed.done():
                    failed.set_exception(TransportError(f"pty {device}: {exc}"))
                return
            self._deliver("enttec", data, (device, 0))

        loop.add_reader(master, readable)
        try:
            await failed
        finally:
            loop.remove_reader(master)

    # -- waiting -------------------------------------------------------------------------
    async def wait_condition(self, predicate: Callable[[SimulatorCore], bool]) -> None:
        """Return once `predicate(core)` holds; re-checked after every delivery."""
        while not predicate(self.core):
            await self._changed.wait()

    async def wait_received(self, count: int) -> None:
        """Return once `count` datagrams or serial chunks have reached the core."""
        while self.received < count:
            await self._changed.wait()
