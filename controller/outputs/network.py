"""L6 network outputs: Art-Net and sACN routes over a datagram sink.

Each output owns one sans-IO sender from `controller.protocols` and forwards what it
returns to its sink (a UDP socket, or the in-process simulator). Frames go out in
"constant" mode (every universe every frame, as consoles stream) followed by the sync
packet, so receivers latch whole frames; senders still keep unchanged universes alive.
The sender returns the data and the sync apart (`Burst`): the data leaves at `stage`,
ahead of the deadline, and the sync at `commit`, on it. Without sync, everything leaves
at `commit`. Art-Net outputs share one sink and one `ArtNetNode` (see `artnet_node`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from controller.outputs import mmsg
from controller.outputs.artnet_node import ArtNetNode
from controller.outputs.base import DatagramSink, OutputStats
from controller.outputs.mmsg import SendBatch
from controller.outputs.routing import DEFAULT_PORTS, Route, describe_wire
from controller.outputs.udp import UdpSink
from controller.protocols import artnet, sacn
from controller.protocols.datagram import Burst, Datagram, UniverseStream
from controller.show.rig import Protocol, directed_broadcast

__all__ = [
    "ArtNetOutput",
    "SacnOutput",
    "artnet_sync_address",
    "directed_broadcast",
    "route_rows",
]

_log = logging.getLogger("citypulse.outputs")


def route_rows(route: Route, universes: Sequence[int]) -> NDArray[np.intp]:
    """Rows of the venue's DMX array that a route carries, in route order."""
    index = {u: i for i, u in enumerate(universes)}
    return np.array([index[u] for u in route.universes], dtype=np.intp)


class DatagramOutput:
    """Base of the datagram outputs: counts what it sends and the errors that are its own.

    The sink may be shared (every Art-Net output uses one socket), so a failed send is
    counted on the output whose datagram failed, from the sink's counters around it.
    """

    def __init__(
        self, *, name: str, route: Route, rows: NDArray[np.intp], sink: DatagramSink
    ) -> None:
        self.name = name
        self.route = route
        self.rows = rows
        self.sink = sink
        self._stats = OutputStats(name=name)
        self._errors = 0
        self._last_error: str | None = None

    def send_frame(self, now: float, dmx: NDArray[np.uint8]) -> None:
        """`stage` then `commit` at once (tests and tools; the engine calls them apart)."""
        self.stage(now, dmx, deadline=now)
        self.commit(now)

    def stage(self, now: float, dmx: NDArray[np.uint8], *, deadline: float | None = None) -> None:
        raise NotImplementedError

    def commit(self, now: float) -> None:
        raise NotImplementedError

    def _emit(self, datagrams: list[Datagram]) -> None:
        errors = int(getattr(self.sink, "errors", 0))
        for d in datagrams:
            self.sink.sendto(d.data, d.address)
            self._stats.bytes += len(d.data)
        self._stats.packets += len(datagrams)
        failed = int(getattr(self.sink, "errors", 0)) - errors
        if failed > 0:
            self._errors += failed
            self._last_error = getattr(self.sink, "last_error", None)

    def open(self, now: float) -> None:
        """Open the sink; say what the operator should know (a port in use, renumbering)."""
        opener = getattr(self.sink, "open", None)
        if callable(opener):
            opener()
        notes = [getattr(self.sink, "warning", None)]
        if self.route.renumbered:
            notes.append(f"universes renumbered on the wire: {describe_wire(self.route)}")
        for note in notes:
            if isinstance(note, str) and note not in self._stats.warnings:
                self._stats.warnings += (note,)
                _log.warning("%s: %s", self.name, note)

    def close(self, now: float) -> None:
        closer = getattr(self.sink, "close", None)
        if callable(closer):
            closer()

    def note_error(self, message: str) -> None:
        self._errors += 1
        self._last_error = message

    def stats(self) -> OutputStats:
        """Errors the engine caught plus this output's failed sends."""
        self._stats.errors = self._errors
        self._stats.last_error = self._last_error
        return self._stats


class _SyncedOutput(DatagramOutput):
    """Data at `stage`, the sync packet held for `commit` (see the module docstring).

    On a UDP socket to IPv4 destinations the data leaves in batches (sendmmsg, see
    `controller.outputs.mmsg`) straight from the sender's packet buffer; elsewhere (the
    simulator, IPv6) datagram by datagram.
    """

    sender: UniverseStream

    def __init__(
        self, *, name: str, route: Route, rows: NDArray[np.intp], sink: DatagramSink
    ) -> None:
        super().__init__(name=name, route=route, rows=rows, sink=sink)
        self._at_deadline: list[Datagram] = []
        self._rows_at_deadline: NDArray[np.intp] | None = None
        self._batch: SendBatch | None = None
        self._batched: bool | None = None  # decided at the first stage
        first = int(rows[0]) if len(rows) else 0
        contiguous = np.array_equal(rows, np.arange(first, first + len(rows)))
        self._span = slice(first, first + len(rows)) if contiguous else None

    def _encode(self, now: float, dmx: NDArray[np.uint8]) -> Burst:
        self._load(dmx)
        return self.sender.burst(now)

    def _load(self, dmx: NDArray[np.uint8]) -> None:
        """Stage this output's universes of the venue's DMX (a view when they are in a row)."""
        self.sender.stage_array(dmx[self._span] if self._span is not None else dmx[self.rows])

    def _extra(self, now: float) -> list[Datagram]:
        """Datagrams due besides the universe data (sACN universe discovery)."""
        return []

    def _send_batch(self) -> SendBatch | None:
        if self._batched is None:
            stream = self.sender
            self._batched = (
                isinstance(self.sink, UdpSink)
                and mmsg.available()
                and all(mmsg.ipv4(d) for d in stream.destinations)
            )
            if self._batched:
                self._batch = SendBatch(stream.packets, stream.destinations)
        return self._batch

    def _send_rows(self, batch: SendBatch, rows: NDArray[np.intp]) -> None:
        assert isinstance(self.sink, UdpSink)
        errors = self.sink.errors
        self.sink.send_batch(batch, None if len(rows) == batch.rows else rows)
        self._stats.packets += len(rows)
        self._stats.bytes += len(rows) * self.sender.packets.shape[1]
        if self.sink.errors > errors:
            self._errors += self.sink.errors - errors
            self._last_error = self.sink.last_error

    def stage(self, now: float, dmx: NDArray[np.uint8], *, deadline: float | None = None) -> None:
        batch = self._send_batch()
        if batch is None:
            burst = self._encode(now, dmx)
            if burst.sync:
                self._emit(burst.data)
                self._at_deadline = burst.sync
            else:  # no sync on this route: the data itself goes at the deadline
                self._at_deadline = burst.data
            return
        self._load(dmx)
        rows, sync = self.sender.due_rows(now)
        extra = self._extra(now)
        if sync:
            self._send_rows(batch, rows)
            self._emit(extra)
            self._at_deadline, self._rows_at_deadline = sync, None
        else:
            self._at_deadline, self._rows_at_deadline = extra, rows

    def commit(self, now: float) -> None:
        if self._rows_at_deadline is not None and self._batch is not None:
            self._send_rows(self._batch, self._rows_at_deadline)
            self._rows_at_deadline = None
        self._emit(self._at_deadline)
        self._at_deadline = []
        self._stats.frames += 1


def _merge(routes: Sequence[Route], universes: Sequence[int]) -> tuple[list[int], NDArray[np.intp]]:
    """Wire universes of `routes`, ascending (the senders' row order), and their DMX rows.

    `plan_routes` numbers overrides without collisions and `citypulse check` refuses a rig
    that sends one wire universe twice in one sync domain (R208), so a repeat here is a
    programming error.
    """
    wire = [w for r in routes for w in r.wire]
    if len(set(wire)) != len(wire):
        msg = f"two routes send the same wire universe: {sorted(wire)}"
        raise ValueError(msg)
    rows = np.concatenate([route_rows(r, universes) for r in routes])
    order = np.argsort(np.array(wire))
    return sorted(wire), rows[order]


class ArtNetOutput(_SyncedOutput):
    """Every Art-Net route sharing one broadcast domain: ArtDmx unicast to each node, then
    ONE ArtSync per frame (Art-Net 4: the controller broadcasts a single ArtSync after all
    the ArtDmx of a frame). With a `node`, it answers ArtPoll for the port-addresses it
    sends (see `artnet_node`)."""

    def __init__(
        self,
        *,
        name: str,
        routes: Sequence[Route],
        universes: Sequence[int],
        sink: DatagramSink,
        node: ArtNetNode | None = None,
    ) -> None:
        wire, rows = _merge(routes, universes)
        super().__init__(name=name, route=routes[0], rows=rows, sink=sink)
        targets = {
            w: (r.host or "127.0.0.1", r.port or DEFAULT_PORTS[Protocol.ARTNET])
            for r in routes
            for w in r.wire
        }
        self.sender = artnet.ArtNetSender(
            targets=targets, sync_address=artnet_sync_address(routes[0]), mode="constant"
        )
        self.wire = wire
        self.node = node
        if node is not None:
            node.add(wire)

    def poll(self, now: float) -> None:
        self._emit(self.sender.poll(now))
        if self.node is not None:
            self.node.poll()
            self._stats.extra["artpoll_answered"] = float(self.node.polls)


def artnet_sync_address(route: Route) -> tuple[str, int] | None:
    """Where a route's ArtSync goes (None when sync is off); routes sharing it share a sender."""
    if not route.sync:
        return None
    host = route.host or "127.0.0.1"
    return (
        route.broadcast or directed_broadcast(host),
        route.port or DEFAULT_PORTS[Protocol.ARTNET],
    )


def _utf8_prefix(text: str, size: int) -> str:
    """The longest prefix of `text` that is at most `size` UTF-8 bytes."""
    return text.encode("utf-8", "replace")[:size].decode("utf-8", "ignore")


class SacnOutput(_SyncedOutput):
    """Every sACN route of one priority: one source (CID), one sync universe, one sync
    packet per frame after all the data packets."""

    sender: sacn.SacnSender

    def __init__(
        self,
        *,
        name: str,
        routes: Sequence[Route],
        universes: Sequence[int],
        sink: DatagramSink,
        source_name: str,
    ) -> None:
        wire, rows = _merge(routes, universes)
        super().__init__(name=name, route=routes[0], rows=rows, sink=sink)
        destinations: dict[int, tuple[str, int]] = {}
        custom = False
        for r in routes:
            port = r.port or DEFAULT_PORTS[Protocol.SACN]
            for w in r.wire:
                if r.multicast:
                    destinations[w] = (sacn.multicast_group(w), port)
                    custom |= port != sacn.PORT
                else:
                    destinations[w] = (r.host or "127.0.0.1", port)
                    custom = True
        self.sender = sacn.SacnSender(
            cid=uuid.uuid5(uuid.NAMESPACE_URL, f"citypulse:{source_name}").bytes,
            source_name=_utf8_prefix(source_name.replace("\x00", " "), 63),
            universes=wire,
            priority=routes[0].priority,
            sync_address=wire[0] if routes[0].sync else 0,
            unicast=destinations if custom else None,
            mode="constant",
        )

    def _extra(self, now: float) -> list[Datagram]:
        return self.sender.discovery(now)

    def poll(self, now: float) -> None:
        self._emit(self.sender.poll(now))

    def close(self, now: float) -> None:
        self._emit(self.sender.terminate(now))  # E1.31: three stream-terminated packets
        super().close(now)
