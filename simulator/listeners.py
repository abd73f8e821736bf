"""Async I/O shells around `SimulatorCore`: UDP listeners and a pty-based ENTTEC widget.

Rules:
- `async with Simulator(...) as sim:` binds every socket and opens the pty on entry (none
  in `__init__`), runs one named task per socket and per pty in a TaskGroup, and closes
  them all on exit. A failing task cancels the block and surfaces in an ExceptionGroup.
- Arrival time is the injected `Clock.now()`; the shells only read bytes and hand them
  to the core with the sender's address. No protocol logic lives here.
- sACN multicast: Linux delivers a multicast datagram only to sockets bound to the
  wildcard or to the group address, never to one bound to 127.0.0.1. One socket per group
  would lose the order between groups, which E1.31 sync depends on (the sync packet
  follows the data it latches, on another group). So sACN uses ONE receiving socket,
  bound to the wildcard address on `port` with SO_REUSEADDR and, for a loopback `host`,
  SO_BINDTODEVICE to the loopback device so it hears loopback traffic only. It joins
  239.255.hi.lo of every multicast-routed universe (and `sacn_universes`) on `host`.
  Past the per-socket limit (`net.ipv4.igmp_max_memberships`, 20 by default) unbound
  holder sockets join the rest; Linux delivers those groups to the receiver too
  (IP_MULTICAST_ALL, on by default). Without multicast universes it binds `host` only.
- Art-Net: the socket sets SO_REUSEADDR, as Art-Net software does, so it can share UDP
  6454 with a `citypulse run --output artnet` on the same host (which binds the wildcard
  address on 6454 with SO_REUSEADDR to be an Art-Net node). Linux hands a datagram sent to
  127.0.0.1:6454 to the socket bound to 127.0.0.1 (the simulator), and a broadcast ArtPoll
  to the wildcard-bound one (the controller), whichever of the two started first.
- ENTTEC: the widget is a pty pair: the slave is put in raw mode and stays open for the
  simulator's lifetime (so the master never reads EIO when the controller closes it); the
  controller opens `enttec_path` with pyserial; the master is read with `loop.add_reader`.
- Open DMX: a pty pair likewise (`opendmx_path`). A pty carries no BREAK (Linux ptys
  ignore TIOCSBRK), so packets are framed by length: start code + 512 slots, the packet
  citypulse's Open DMX output always sends. A stream that does not start on a packet
  boundary stays misframed; the simulator counts what it cannot use, as for any line.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import ipaddress
import logging
import os
import socket
import tty
from collections.abc import Callable, Coroutine, Iterable
from types import TracebackType
from typing import Any, Self

from controller.clock import Clock
from controller.errors import TransportError
from controller.show.rig import Protocol
from simulator.core import LOGGER_NAME, SimulatorCore, WireProtocol

__all__ = ["Simulator", "sacn_group"]

_log = logging.getLogger(LOGGER_NAME)
_Job = Callable[[], Coroutine[Any, Any, None]]
_MAX_DATAGRAM = 65536
_RECEIVE_BUFFER = 4 * 1024 * 1024
_OPEN_DMX_PACKET = 1 + 512  # DMX512-A (ANSI E1.11): start code and 512 slots


def sacn_group(universe: int) -> str:
    """E1.31 multicast group of a universe: 239.255.hi.lo."""
    return f"239.255.{universe >> 8 & 0xFF}.{universe & 0xFF}"


def _udp_socket(
    host: str, port: int, *, reuse: bool = False, device: str | None = None
) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        if reuse:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if device is not None:
            try:  # unprivileged since Linux 5.7; older kernels: hear every interface
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, device.encode())
            except PermissionError:
                _log.info("cannot bind the sACN listener to %s; it hears every interface", device)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER)
        sock.bind((host, port))
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        msg = f"cannot bind UDP {host}:{port}: {exc.strerror or exc}"
        raise TransportError(msg) from exc
    return sock


def _join(sock: socket.socket, group: str, interface: str) -> bool:
    """Join `group` on `interface`; False when this socket holds all the groups it may."""
    membership = socket.inet_aton(group) + socket.inet_aton(interface)
    try:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
    except OSError as exc:
        if exc.errno == errno.ENOBUFS:  # net.ipv4.igmp_max_memberships reached
            return False
        msg = f"cannot join multicast group {group} on {interface}: {exc.strerror or exc}"
        raise TransportError(msg) from exc
    return True


def _loopback_device(host: str) -> str | None:
    """The loopback interface's name when `host` is a loopback address (else None)."""
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host).is_loopback:
            names = [name for _, name in socket.if_nameindex()]
            return "lo" if "lo" in names else None
    return None


def _sacn_socket(
    stack: contextlib.ExitStack, host: str, port: int, groups: list[str]
) -> socket.socket:
    """The one sACN receiving socket (see the module rules); `stack` closes it and the holders."""
    device = _loopback_device(host) if groups else None
    sock = _udp_socket("0.0.0.0" if groups else host, port, reuse=True, device=device)
    stack.callback(sock.close)
    holder = sock
    for group in groups:
        if _join(holder, group, host):
            continue
        holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        stack.callback(holder.close)
        if not _join(holder, group, host):
            msg = f"cannot join multicast group {group}: no memberships left on a new socket"
            raise TransportError(msg)
    return sock


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
        opendmx: open a pty that behaves like an Open DMX line (see the module rules).
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
        opendmx: bool = False,
    ) -> None:
        self.core = core
        self.clock = clock
        self.host = host
        self._wanted: dict[WireProtocol, int | None] = {
            "artnet": artnet_port,
            "sacn": sacn_port,
            "osc": osc_port,
        }
        routed = {
            w for r in core.routes if r.protocol is Protocol.SACN and r.multicast for w in r.wire
        }
        self.sacn_universes = tuple(sorted(routed | set(sacn_universes)))
        self._ptys: dict[WireProtocol, str | None] = {}  # wanted: protocol -> core's device
        if enttec:
            self._ptys["enttec"] = enttec_device
        if opendmx:
            self._ptys["opendmx"] = None
        self._ports: dict[str, int] = {}
        self._paths: dict[str, str] = {}
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
        return self._path("enttec", "no ENTTEC widget (not entered, or enttec=False)")

    @property
    def opendmx_path(self) -> str:
        """The pty slave of the simulated Open DMX line."""
        return self._path("opendmx", "no Open DMX line (not entered, or opendmx=False)")

    def _path(self, protocol: str, missing: str) -> str:
        if protocol not in self._paths:
            raise RuntimeError(missing)
        return self._paths[protocol]

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
            self._tasks, self._ports, self._paths = [], {}, {}

    def _open(self, stack: contextlib.ExitStack) -> list[tuple[str, _Job]]:
        """Bind sockets and open the pty; returns the named jobs that serve them."""
        jobs: list[tuple[str, _Job]] = []
        for protocol, wanted in self._wanted.items():
            if wanted is None:
                continue
            if protocol == "sacn":
                groups = [sacn_group(u) for u in self.sacn_universes]
                sock = _sacn_socket(stack, self.host, wanted, groups)
            else:
                sock = _udp_socket(self.host, wanted, reuse=protocol == "artnet")
                stack.callback(sock.close)
            port = self._ports[protocol] = sock.getsockname()[1]
            serve = functools.partial(self._serve_udp, protocol, sock)
            jobs.append((f"simulator[{protocol}@{self.host}:{port}]", serve))
        for protocol, device in self._ptys.items():
            master, slave = os.openpty()
            stack.callback(os.close, master)
            stack.callback(os.close, slave)
            tty.setraw(slave)  # no echo, no line editing, no CR/LF translation
            os.set_blocking(master, False)
            path = self._paths[protocol] = os.ttyname(slave)
            serve = functools.partial(self._serve_pty, master, protocol, device or path)
            jobs.append((f"simulator[{protocol}@{path}]", serve))
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

    async def _serve_pty(self, master: int, protocol: WireProtocol, device: str) -> None:
        loop = asyncio.get_running_loop()
        failed: asyncio.Future[None] = loop.create_future()
        line = bytearray()  # Open DMX: bytes of the packet being framed

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
            if protocol == "enttec":
                self._deliver("enttec", data, (device, 0))
                return
            line.extend(data)
            while len(line) >= _OPEN_DMX_PACKET:
                self._deliver("opendmx", bytes(line[:_OPEN_DMX_PACKET]), (device, 0))
                del line[:_OPEN_DMX_PACKET]

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
