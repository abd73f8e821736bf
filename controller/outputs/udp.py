"""L6 UDP datagram sink: one non-blocking socket per output, errors counted, never raised.

A send that fails (buffer full, network down) is counted and dropped: a frame is only
worth sending on time, and the next frame replaces it. Multicast goes out on the
interface given (127.0.0.1 for loopback tests), with loop-back enabled so a simulator on
the same host receives it.

A sink opened with `bind_port` (the Art-Net output: Art-Net 4 uses UDP 6454 at both ends)
binds the wildcard address on that port, so what it sends leaves from it and what arrives
on it can be `receive`d. It sets SO_REUSEADDR, as Art-Net software does (OLA binds its
node socket with SO_REUSEADDR): another program that also sets it (`citypulse discover`,
`citypulse simulate`, a second node) can share the port, and a broadcast ArtPoll reaches
every one of them. It does NOT set SO_REUSEPORT: on Linux that spreads unicast datagrams
across the sharing sockets, so each would lose part of the ArtDmx and ArtPollReply unicast
to it. When a program that did not set SO_REUSEADDR holds the port, the sink binds an
ephemeral port instead and says so in `warning`: data still flows, ArtPoll goes unanswered.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import socket

import numpy as np
from numpy.typing import NDArray

from controller.outputs.mmsg import SendBatch

__all__ = ["UdpSink", "is_loopback", "local_address_toward"]

# Whole frames must fit: on loopback a datagram's memory stays charged to the sending
# socket until the receiver has read it, and 4,035 sACN universes take about 6 MiB a frame.
SEND_BUFFER = 32 * 1024 * 1024
SO_SNDBUFFORCE = 32  # Linux: SO_SNDBUF beyond wmem_max, for CAP_NET_ADMIN
RECEIVE_LIMIT = 64  # datagrams read per `receive` call, so a flood cannot stall the caller
_MAX_DATAGRAM = 2048  # Art-Net packets are at most 530 bytes; larger ones are cut and dropped


class UdpSink:
    def __init__(
        self,
        *,
        multicast_interface: str | None = None,
        ttl: int = 8,
        broadcast: bool = False,
        bind_port: int | None = None,
    ) -> None:
        self.multicast_interface = multicast_interface
        self.ttl = ttl
        self.broadcast = broadcast
        self.bind_port = bind_port
        self.sent = 0
        self.errors = 0
        self.last_error: str | None = None
        self.warning: str | None = None  # e.g. the port to bind was held by another program
        self._sock: socket.socket | None = None

    @property
    def port(self) -> int | None:
        """The local port datagrams leave from (None until the socket is open)."""
        return None if self._sock is None else int(self._sock.getsockname()[1])

    def open(self) -> None:
        """Create, configure and bind the socket (raises OSError; nothing is left half-open).

        Opening an open sink does nothing (outputs may share one sink).
        """
        if self._sock is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._configure(sock)
            if self.bind_port is not None:
                self._bind(sock, self.bind_port)
        except OSError:
            sock.close()
            raise
        self._sock = sock

    def _configure(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        with contextlib.suppress(OSError):  # past net.core.wmem_max where allowed (root)
            sock.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, SEND_BUFFER)
        if self.broadcast:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, self.ttl)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        if self.multicast_interface:
            sock.setsockopt(
                socket.IPPROTO_IP,
                socket.IP_MULTICAST_IF,
                socket.inet_aton(self.multicast_interface),
            )

    def _bind(self, sock: socket.socket, port: int) -> None:
        """The wildcard address on `port` (broadcasts reach only wildcard-bound sockets)."""
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
        except OSError as exc:
            if exc.errno not in (errno.EADDRINUSE, errno.EACCES):
                raise
            sock.bind(("0.0.0.0", 0))
            self.warning = (
                f"UDP port {port} is held by another program ({exc.strerror or exc}): "
                f"sending from port {sock.getsockname()[1]} instead, and nothing sent to "
                f"port {port} reaches this output"
            )

    def sendto(self, data: bytes, address: tuple[str, int]) -> None:
        if self._sock is None:
            try:
                self.open()
            except OSError as exc:  # e.g. a multicast interface not on this host: count, drop
                self.errors += 1
                self.last_error = f"socket setup: {exc.strerror or exc}"
                return
        assert self._sock is not None
        try:
            self._sock.sendto(data, address)
            self.sent += 1
        except OSError as exc:  # BlockingIOError, ENETUNREACH, ...: count, drop, go on
            self.errors += 1
            self.last_error = f"{address[0]}:{address[1]}: {exc.strerror or exc}"

    def send_batch(self, batch: SendBatch, rows: NDArray[np.intp] | None = None) -> int:
        """Send rows of a prebuilt batch (all when None) in as few calls as the kernel
        takes (sendmmsg); failures are counted as for `sendto`. Returns the number sent."""
        if self._sock is None:
            try:
                self.open()
            except OSError as exc:
                self.errors += batch.rows if rows is None else len(rows)
                self.last_error = f"socket setup: {exc.strerror or exc}"
                return 0
        assert self._sock is not None
        sent, failed, code = batch.send(self._sock.fileno(), rows)
        self.sent += sent
        if failed:
            self.errors += failed
            self.last_error = f"sendmmsg: {os.strerror(code)}"
        return sent

    def receive(self, limit: int = RECEIVE_LIMIT) -> list[tuple[bytes, tuple[str, int]]]:
        """Datagrams waiting on the socket (at most `limit`), without blocking."""
        out: list[tuple[bytes, tuple[str, int]]] = []
        if self._sock is None:
            return out
        for _ in range(limit):
            try:
                data, source = self._sock.recvfrom(_MAX_DATAGRAM)
            except BlockingIOError:
                break
            except OSError:  # e.g. an ICMP error reported on the socket: nothing to read
                continue
            out.append((data, (str(source[0]), int(source[1]))))
        return out

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def local_address_toward(host: str) -> str:
    """The local IPv4 address the OS would send from to reach `host` (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((host, 9))  # UDP connect only picks a route
            return str(probe.getsockname()[0])
        except OSError:
            return "0.0.0.0"


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
