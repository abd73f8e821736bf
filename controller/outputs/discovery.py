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
from controller.outputs.network import directed_broadcast
from controller.outputs.routing import DEFAULT_PORTS, Route
from controller.outputs.udp import is_loopback
from controller.protocols import artnet
from controller.show.rig import Protocol

__all__ = [
    "NodeCheck",
    "NodeSummary",
    "discover_nodes",
    "expected_nodes",
    "poll_address",
    "summarize",
]

STYLES = {0: "node", 1: "controller", 2: "media", 3: "route", 4: "backup", 5: "config", 6: "visual"}


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeCheck:
    host: str
    expected: tuple[int, ...]  # port-addresses the rig sends there
    found: NodeSummary | None

    @property
    def missing(self) -> tuple[int, ...]:
        have = set(self.found.outputs) if self.found else set()
        return tuple(p for p in self.expected if p not in have)


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeSummary:
    """Every ArtPollReply from one IP, merged: a device with more than 4 ports sends one
    reply per group of ports, numbered by BindIndex (Art-Net 4)."""

    ip: str
    short_name: str
    long_name: str
    style: str
    outputs: tuple[int, ...]  # Port-Addresses it takes off the network (SwOut)
    inputs: tuple[int, ...]  # Port-Addresses it puts onto the network (SwIn): a controller's
    refresh_rate: int
    replies: int


def summarize(replies: list[tuple[tuple[str, int], artnet.ArtPollReply]]) -> list[NodeSummary]:
    """One summary per source IP, ordered by IP; names from the lowest BindIndex."""
    by_ip: dict[str, list[artnet.ArtPollReply]] = {}
    for source, reply in replies:
        by_ip.setdefault(source[0], []).append(reply)
    out = []
    for ip, group in sorted(by_ip.items()):
        root = min(group, key=lambda r: r.bind_index)
        out.append(
            NodeSummary(
                ip=ip,
                short_name=root.short_name,
                long_name=root.long_name,
                style=STYLES.get(root.style, f"style {root.style}"),
                outputs=tuple(sorted({p for r in group for p in r.output_port_addresses})),
                inputs=tuple(sorted({p for r in group for p in r.input_port_addresses})),
                refresh_rate=root.refresh_rate,
                replies=len(group),
            )
        )
    return out


def poll_address(host: str) -> str:
    """Where to broadcast an ArtPoll that reaches `host`: its directed broadcast.

    Loopback: 127.255.255.255, the broadcast of 127.0.0.0/8. A poll unicast to 127.0.0.1
    would reach only one of the programs sharing port 6454 on this host (the last to
    bind it), where a broadcast reaches them all.
    """
    if is_loopback(host):
        return "127.255.255.255"
    return directed_broadcast(host)


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
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # share 6454 with a node
        sock.bind(("", listen_port))
    except OSError:
        sock.close()
        raise
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
