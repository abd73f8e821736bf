"""L6 network outputs: Art-Net, sACN and OSC routes over a datagram sink.

Each output owns one sans-IO sender from `controller.protocols` and forwards what it
returns to its sink (a UDP socket, or the in-process simulator). Frames go out in
"constant" mode (every universe every frame, as consoles stream) followed by the sync
packet, so receivers latch whole frames; senders still keep unchanged universes alive.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

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
    "OscAttributes",
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
    # E1.31: root vector 8 (VECTOR_ROOT_E131_EXTENDED) covers sync AND discovery; the
    # framing vector tells them apart: 1 = synchronization, 2 = universe discovery
    return (
        len(data) >= 44
        and data[18:22] == b"\x00\x00\x00\x08"
        and data[40:44] == b"\x00\x00\x00\x01"
    )


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
        self._own_errors = 0
        self._own_last_error: str | None = None

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

    def note_error(self, message: str) -> None:
        self._own_errors += 1
        self._own_last_error = message

    def stats(self) -> OutputStats:
        """Errors the engine caught plus the sink's own (failed sends)."""
        self._stats.errors = self._own_errors + int(getattr(self.sink, "errors", 0))
        self._stats.last_error = getattr(self.sink, "last_error", None) or self._own_last_error
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


MAX_BUNDLE = 8192  # bytes per OSC bundle datagram (well under any UDP path limit)


@dataclass(frozen=True, slots=True, kw_only=True)
class OscAttributes:
    """What `osc_mode: attributes` sends: one value per (fixture, attribute) of the route."""

    decode: Callable[[NDArray[np.uint8]], NDArray[np.float32]]  # DMX -> attribute frame
    names: tuple[tuple[str, str], ...]  # (fixture id, attribute key)
    flat: NDArray[np.intp]  # their indices in the flattened frame


class OscOutput(_DatagramOutput):
    """OSC output, at each frame deadline, in bundles timetagged with that deadline.

    `osc_mode: blob`: one `,b` message per universe with its 512 slots, on the route's
    address pattern. `osc_mode: attributes`: one `,f` message per fixture attribute,
    `<pattern with universe=fixture>/<fixture id>/<attribute>`, sent when the value changes
    and for every attribute once per `refresh_s`. Bundles carry the wall-clock time of the
    deadline (`wall_offset` maps the clock to Unix time), so receivers that schedule by
    timetag apply a frame's messages together; bundles are split at MAX_BUNDLE bytes.
    """

    def __init__(
        self,
        *,
        name: str,
        route: Route,
        rows: NDArray[np.intp],
        sink: DatagramSink,
        venue: str,
        wall_offset: float = 0.0,
        attributes: OscAttributes | None = None,
        refresh_s: float = 1.0,
    ) -> None:
        super().__init__(name=name, route=route, rows=rows, sink=sink)
        self.address = (route.host or "127.0.0.1", route.port or DEFAULT_PORTS[Protocol.OSC])
        self.paths = [route.osc_address.format(venue=venue, universe=w) for w in route.wire]
        self.prefix = route.osc_address.format(venue=venue, universe="fixture")
        self.wall_offset = wall_offset
        self.attributes = attributes if route.osc_mode == "attributes" else None
        self.refresh_s = refresh_s
        self._dmx: NDArray[np.uint8] | None = None
        self._last: NDArray[np.float32] | None = None
        self._refresh_at = 0.0

    def stage(self, now: float, dmx: NDArray[np.uint8]) -> None:
        self._dmx = dmx.copy()

    def commit(self, now: float) -> None:
        if self._dmx is None:
            return
        messages = self._messages(now, self._dmx)
        self._dmx = None
        self._emit(self._bundles(now, messages))
        self._stats.frames += 1

    def _messages(self, now: float, dmx: NDArray[np.uint8]) -> list[osc.Message]:
        if self.attributes is None:
            return [
                osc.Message(address=path, args=(dmx[row].tobytes(),), type_tags="b")
                for path, row in zip(self.paths, self.rows, strict=True)
            ]
        values = self.attributes.decode(dmx).reshape(-1)[self.attributes.flat]
        send = np.ones(len(values), np.bool_)
        if self._last is not None and now < self._refresh_at:
            send = np.abs(values - self._last) > 1e-4
        else:
            self._refresh_at = now + self.refresh_s
        self._last = values.copy()
        return [
            osc.fixture_attribute_message(self.prefix, fixture, attribute, float(values[i]))
            for i in np.flatnonzero(send)
            for fixture, attribute in (self.attributes.names[i],)
        ]

    def _bundles(self, now: float, messages: list[osc.Message]) -> list[Datagram]:
        timetag = osc.to_timetag(now + self.wall_offset)
        out: list[Datagram] = []
        batch: list[osc.Message] = []
        size = 16
        for m in messages:
            length = len(osc.encode(m)) + 4
            if batch and size + length > MAX_BUNDLE:
                out.append(
                    Datagram(
                        osc.encode(osc.Bundle(timetag=timetag, elements=tuple(batch))), self.address
                    )
                )
                batch, size = [], 16
            batch.append(m)
            size += length
        if batch:
            out.append(
                Datagram(
                    osc.encode(osc.Bundle(timetag=timetag, elements=tuple(batch))), self.address
                )
            )
        return out

    def _encode(self, now: float, dmx: NDArray[np.uint8]) -> list[Datagram]:
        return self._bundles(now, self._messages(now, dmx))

    def poll(self, now: float) -> None:
        return

    def close(self, now: float) -> None:
        closer = getattr(self.sink, "close", None)
        if callable(closer):
            closer()
