"""L6 citypulse as an Art-Net node while it outputs Art-Net: ArtPoll in, ArtPollReply out.

Art-Net 4 expects every device, controllers included, to answer ArtPoll and to use UDP
port 6454 at both ends. Every Art-Net output of a venue shares one sink bound to 6454
(`UdpSink(bind_port=6454)`) and one `ArtNetNode`, which knows every Port-Address they send.

Rules:
- `poll()` reads what arrived on the shared socket (the outputs call it from their own
  `poll`, once per frame) and answers each ArtPoll with `artnet_reply.poll_replies`, by
  unicast to the poller's IP on port 6454 (Art-Net 4: ArtPollReply is unicast, never
  broadcast). A poller whose ArtPoll left from another port also gets the replies on that
  port: tools that poll from an ephemeral port hear them there.
- Anything else that arrives (our own ArtDmx looping back, another controller's traffic,
  garbage) is counted in `ignored` and dropped; nothing raises.
- A sink that cannot receive (the in-process simulator) makes the node silent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from controller.errors import ProtocolError
from controller.outputs.base import DatagramSink
from controller.protocols import artnet
from controller.protocols.artnet_reply import NodeIdentity, poll_replies

__all__ = ["ArtNetNode"]

Receiver = Callable[[], list[tuple[bytes, tuple[str, int]]]]
Locator = Callable[[str], str]


class ArtNetNode:
    """Answers ArtPoll for every Art-Net output sharing `sink` (see the module rules)."""

    def __init__(
        self, *, sink: DatagramSink, identity: NodeIdentity, local_ip: Locator | None = None
    ) -> None:
        self.sink = sink
        self.identity = identity
        receive = getattr(sink, "receive", None)
        self._receive: Receiver | None = receive if callable(receive) else None
        self._local_ip = local_ip or (lambda _poller: "0.0.0.0")
        self.port_addresses: set[int] = set()
        self.polls = 0  # ArtPolls answered
        self.replies = 0  # ArtPollReply packets sent
        self.ignored = 0  # other datagrams that reached the node's port

    def add(self, port_addresses: Iterable[int]) -> None:
        """Port-Addresses an output sends: listed in every reply."""
        self.port_addresses.update(port_addresses)

    def poll(self) -> None:
        """Answer the ArtPolls that arrived since the last call."""
        if self._receive is None:
            return
        polls: dict[tuple[str, int], artnet.ArtPoll] = {}  # one answer per poller and call
        for data, source in self._receive():
            try:
                packet = artnet.decode(data)
            except ProtocolError:
                packet = None
            if isinstance(packet, artnet.ArtPoll):
                polls[source] = packet
            else:
                self.ignored += 1
        for source, packet in polls.items():
            self._answer(packet, source)

    def _answer(self, packet: artnet.ArtPoll, source: tuple[str, int]) -> None:
        replies = poll_replies(
            ip=self._local_ip(source[0]),
            identity=self.identity,
            port_addresses=self.port_addresses,
            replies_sent=self.replies,
            poll=packet,
        )
        destinations = {(source[0], artnet.PORT), source}
        for reply in replies:
            data = artnet.encode(reply)
            for destination in sorted(destinations):
                self.sink.sendto(data, destination)
        self.polls += 1
        self.replies += len(replies)
