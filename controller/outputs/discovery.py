"""L6 Art-Net node discovery: ArtPoll out, ArtPollReply in, compared with what a rig expects.

Art-Net 4: a controller broadcasts ArtPoll (directed broadcast, never 255.255.255.255) and
may assume every node has replied within 3 s; nodes reply by unicast. Replies are decoded
with the sans-IO codec; this module only owns the socket and the waiting.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from controller.clock import Clock
from controller.errors import ProtocolError
from controller.outputs.routing import DEFAULT_PORTS, Route
from controller.protocols import artnet
from controller.show.rig import Protocol

__all__ = ["NodeCheck", "discover_nodes", "expected_nodes"]


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeCheck:
    host: str
    expected: tuple[int, ...]  # port-addresses the rig sends there
    found: artnet.ArtPollReply | None

    @property
    def missing(self) -> tuple[int, ...]:
        have = set(self.found.output_port_addresses) if self.found else set()
        return tuple(p for p in self.expected if p not in have)


def expected_nodes(routes: list[Route]) -> dict[str, tuple[int, ...]]:
    nodes: dict[str, set[int]] = {}
    for r in routes:
        if r.protocol is Protocol.ARTNET and r.host:
            nodes.setdefault(r.host, set()).update(r.wire)
    return {h: tuple(sorted(p)) for h, p in nodes.items()}


def discover_nodes(
    *,
    to: str,
    port: int = DEFAULT_PORTS[Protocol.ARTNET],
    listen_port: int = DEFAULT_PORTS[Protocol.ARTNET],
    wait_s: float,
    clock: Clock,
) -> tuple[list[tuple[tuple[str, int], artnet.ArtPollReply]], int]:
    """Send one ArtPoll to `to`:`port`, collect replies for `wait_s`.

    Nodes answer to port 6454 of the poller (Art-Net 4), so replies are read on
    `listen_port` (0: an ephemeral port, for nodes that reply to the source port).
    Returns (replies, malformed packet count).
    """
    if to == "255.255.255.255":
        msg = "Art-Net 4 forbids the limited broadcast 255.255.255.255: use a directed broadcast"
        raise ValueError(msg)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("", listen_port))
    replies: list[tuple[tuple[str, int], artnet.ArtPollReply]] = []
    malformed = 0
    try:
        sock.sendto(artnet.encode(artnet.ArtPoll(flags=0x02)), (to, port))
        deadline = clock.now() + wait_s
        while (left := deadline - clock.now()) > 0:
            sock.settimeout(left)
            try:
                data, source = sock.recvfrom(2048)
            except TimeoutError:
                break
            try:
                packet = artnet.decode(data)
            except ProtocolError:
                malformed += 1
                continue
            if isinstance(packet, artnet.ArtPollReply):
                replies.append((source, packet))
    finally:
        sock.close()
    return replies, malformed
