"""L6 UDP datagram sink: one non-blocking socket per output, errors counted, never raised.

A send that fails (buffer full, network down) is counted and dropped: a frame is only
worth sending on time, and the next frame replaces it. Multicast goes out on the
interface given (127.0.0.1 for loopback tests), with loop-back enabled so a simulator on
the same host receives it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket

__all__ = ["UdpSink", "is_loopback"]

SEND_BUFFER = 4 * 1024 * 1024


class UdpSink:
    def __init__(
        self, *, multicast_interface: str | None = None, ttl: int = 8, broadcast: bool = False
    ) -> None:
        self.multicast_interface = multicast_interface
        self.ttl = ttl
        self.broadcast = broadcast
        self.sent = 0
        self.errors = 0
        self.last_error: str | None = None
        self._sock: socket.socket | None = None

    def open(self) -> None:
        """Create and configure the socket (raises OSError; nothing is left half-open)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._configure(sock)
        except OSError:
            sock.close()
            raise
        self._sock = sock

    def _configure(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
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

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
