"""L6 network outputs: Art-Net, sACN and OSC routes over a datagram sink.

Each output owns one sans-IO sender from `controller.protocols` and forwards what it
returns to its sink (a UDP socket, or the in-process simulator). Frames go out in
"constant" mode (every universe every frame, as consoles stream) followed by the sync
packet, so receivers latch whole frames; senders still keep unchanged universes alive.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from controller.outputs.base import DatagramSink, OutputStats
from controller.outputs.routing import DEFAULT_PORTS, Route
from controller.outputs.udp import is_loopback
from controller.protocols import artnet, osc, sacn
from controller.protocols.datagram import Datagram
from controller.show.rig import Protocol

__all__ = [
    "ArtNetOutput",
    "OscOutput",
    "SacnOutput",
    "artnet_sync_address",
    "directed_broadcast",
    "is_sync_packet",
    "route_rows",
]


def route_rows(route: Route, universes: Sequence[int]) -> NDArray[np.intp]:
    """Rows of the venue's DMX array that a route carries, in route order."""
    index = {u: i for i, u in enumerate(universes)}
    return np.array([index[u] for u in route.universes], dtype=np.intp)


def directed_broadcast(host: str) -> str:
    """Loopback: the host itself (loopback has no broadcast); else the /24 broadcast."""
    if is_loopback(host):
        return host
    parts = host.split(".")
    if len(parts) == 4 and all(p.isdigit() for p in parts):
        return ".".join([*parts[:3], "255"])
    return host


def is_sync_packet(data: bytes) -> bool:
    """An ArtSync (OpCode 0x5200) or an E1.31 universe-synchronization packet (root vector 8)."""
    if data[:8] == b"Art-Net\x00":
        return data[8:10] == b"\x00\x52"
    return len(data) >= 22 and data[18:22] == b"\x00\x00\x00\x08"


class _DatagramOutput:
    """Sync-capable outputs send data packets at `stage` and hold the sync for `commit`."""

    def __init__(
        self, *, name: str, route: Route, rows: NDArray[np.intp], sink: DatagramSink
    ) -> None:
        self.name = name
        self.route = route
        self.rows = rows
        self.sink = sink
        self._stats = OutputStats(name=name)
        self._held: list[Datagram] = []
        self._staged: list[Datagram] = []

    def _encode(self, now: float, dmx: NDArray[np.uint8]) -> list[Datagram]:
        raise NotImplementedError

    def stage(self, now: float, dmx: NDArray[np.uint8]) -> None:
        datagrams = self._encode(now, dmx)
        syncs = [d for d in datagrams if is_sync_packet(d.data)]
        if syncs:
            self._emit([d for d in datagrams if not is_sync_packet(d.data)])
            self._held = syncs
        else:  # no sync on this route: the data itself goes at the deadline
            self._staged = datagrams

    def commit(self, now: float) -> None:
        self._emit(self._staged + self._held)
        self._staged, self._held = [], []
        self._stats.frames += 1

    def send_frame(self, now: float, dmx: NDArray[np.uint8]) -> None:
        self.stage(now, dmx)
        self.commit(now)

    def _emit(self, datagrams: list[Datagram]) -> None:
        for d in datagrams:
            self.sink.sendto(d.data, d.address)
            self._stats.bytes += len(d.data)
        self._stats.packets += len(datagrams)

    def open(self, now: float) -> None:
        opener = getattr(self.sink, "open", None)
        if callable(opener):
            opener()

    def stats(self) -> OutputStats:
        errors = getattr(self.sink, "errors", 0)
        self._stats.errors = int(errors)
        self._stats.last_error = getattr(self.sink, "last_error", None)
        return self._stats


def _merge(routes: Sequence[Route], universes: Sequence[int]) -> tuple[list[int], NDArray[np.intp]]:
    wire = [w for r in routes for w in r.wire]
    if len(set(wire)) != len(wire):
        msg = f"two routes send the same wire universe: {sorted(wire)}"
        raise ValueError(msg)
    rows = np.concatenate([route_rows(r, universes) for r in routes])
    order = np.argsort(np.array(wire))  # senders order universes ascending
    return sorted(wire), rows[order]


class ArtNetOutput(_DatagramOutput):
    """Every Art-Net route sharing one broadcast domain: ArtDmx unicast to each node, then
    ONE ArtSync per frame (Art-Net 4: the controller broadcasts a single ArtSync after all
    the ArtDmx of a frame)."""

    def __init__(
        self, *, name: str, routes: Sequence[Route], universes: Sequence[int], sink: DatagramSink
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
        self._rows = rows
        self.wire = wire

    def _encode(self, now: float, dmx: NDArray[np.uint8]) -> list[Datagram]:
        return self.sender.frame_array(now, dmx[self._rows])

    def poll(self, now: float) -> None:
        self._emit(self.sender.poll(now))

    def close(self, now: float) -> None:
        closer = getattr(self.sink, "close", None)
        if callable(closer):
            closer()


def artnet_sync_address(route: Route) -> tuple[str, int] | None:
    """Where a route's ArtSync goes (None when sync is off); routes sharing it share a sender."""
    if not route.sync:
        return None
    host = route.host or "127.0.0.1"
    return (
        route.broadcast or directed_broadcast(host),
        route.port or DEFAULT_PORTS[Protocol.ARTNET],
    )


class SacnOutput(_DatagramOutput):
    """Every sACN route of one priority: one source (CID), one sync universe, one sync
    packet per frame after all the data packets."""

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
            source_name=source_name[:63],
            universes=wire,
            priority=routes[0].priority,
            sync_address=wire[0] if routes[0].sync else 0,
            unicast=destinations if custom else None,
            mode="constant",
        )
        self._rows = rows

    def _encode(self, now: float, dmx: NDArray[np.uint8]) -> list[Datagram]:
        return self.sender.frame_array(now, dmx[self._rows])

    def poll(self, now: float) -> None:
        self._emit(self.sender.poll(now))

    def close(self, now: float) -> None:
        self._emit(self.sender.terminate(now))  # E1.31: three stream-terminated packets
        closer = getattr(self.sink, "close", None)
        if callable(closer):
            closer()


class OscOutput(_DatagramOutput):
    """One OSC message per universe with its 512 slots as a blob (`osc_mode: blob`)."""

    def __init__(
        self, *, name: str, route: Route, rows: NDArray[np.intp], sink: DatagramSink, venue: str
    ) -> None:
        super().__init__(name=name, route=route, rows=rows, sink=sink)
        self.address = (route.host or "127.0.0.1", route.port or DEFAULT_PORTS[Protocol.OSC])
        self.paths = [route.osc_address.format(venue=venue, universe=w) for w in route.wire]

    def _encode(self, now: float, dmx: NDArray[np.uint8]) -> list[Datagram]:
        return [
            Datagram(
                osc.encode(osc.Message(address=path, args=(dmx[row].tobytes(),), type_tags="b")),
                self.address,
            )
            for path, row in zip(self.paths, self.rows, strict=True)
        ]

    def poll(self, now: float) -> None:
        return

    def close(self, now: float) -> None:
        closer = getattr(self.sink, "close", None)
        if callable(closer):
            closer()
