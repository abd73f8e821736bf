"""L6 OSC output: a route's universes (or fixture attributes) in bundles at each deadline.

Rules:
- Nothing leaves at `stage`; at `commit` the frame's messages leave in bundles whose
  timetag is the frame's deadline (the `deadline` given to `stage`; the commit time when
  none was given), as wall-clock time (`wall_offset` maps the clock to Unix time). A
  receiver that schedules by timetag applies a frame at its deadline, however late the
  datagram left (OSC 1.0, OSC Bundles: the time tag says when the contents take effect).
- Each bundle is one datagram of at most `route.max_datagram` bytes (default 1472, the UDP
  payload of one 1500-byte Ethernet frame: no IP fragments, so one lost packet loses only
  its own universes). A message larger than that still goes, alone in its bundle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from controller.outputs.base import DatagramSink
from controller.outputs.network import DatagramOutput
from controller.outputs.routing import DEFAULT_PORTS, Route
from controller.protocols import osc
from controller.protocols.datagram import Datagram
from controller.show.rig import Protocol

__all__ = ["BUNDLE_HEADER", "OscAttributes", "OscOutput"]

BUNDLE_HEADER = 16  # OSC 1.0, OSC Bundles: "#bundle\0" and the 8-byte time tag
ELEMENT_SIZE = 4  # OSC 1.0, OSC Bundles: each element is preceded by its int32 size


@dataclass(frozen=True, slots=True, kw_only=True)
class OscAttributes:
    """What `osc_mode: attributes` sends: one value per (fixture, attribute) of the route."""

    decode: Callable[[NDArray[np.uint8]], NDArray[np.float32]]  # DMX -> attribute frame
    names: tuple[tuple[str, str], ...]  # (fixture id, attribute key)
    flat: NDArray[np.intp]  # their indices in the flattened frame


class OscOutput(DatagramOutput):
    """OSC output (see the module rules).

    `osc_mode: blob`: one `,b` message per universe with its 512 slots, on the route's
    address pattern. `osc_mode: attributes`: one `,f` message per fixture attribute,
    `<pattern with universe=fixture>/<fixture id>/<attribute>`, sent when the value changes
    and for every attribute once per `refresh_s`.
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
        self.max_datagram = route.max_datagram
        self._dmx: NDArray[np.uint8] | None = None
        self._deadline: float | None = None
        self._last: NDArray[np.float32] | None = None
        self._refresh_at = 0.0

    def stage(self, now: float, dmx: NDArray[np.uint8], *, deadline: float | None = None) -> None:
        self._dmx = dmx.copy()
        self._deadline = deadline

    def commit(self, now: float) -> None:
        if self._dmx is None:
            return
        at = now if self._deadline is None else self._deadline
        messages = self._messages(at, self._dmx)
        self._dmx, self._deadline = None, None
        self._emit(self._bundles(at, messages))
        self._stats.frames += 1

    def _messages(self, at: float, dmx: NDArray[np.uint8]) -> list[osc.Message]:
        if self.attributes is None:
            return [
                osc.Message(address=path, args=(dmx[row].tobytes(),), type_tags="b")
                for path, row in zip(self.paths, self.rows, strict=True)
            ]
        values = self.attributes.decode(dmx).reshape(-1)[self.attributes.flat]
        send = np.ones(len(values), np.bool_)
        if self._last is not None and at < self._refresh_at:
            send = np.abs(values - self._last) > 1e-4
        else:
            self._refresh_at = at + self.refresh_s
        self._last = values.copy()
        return [
            osc.fixture_attribute_message(self.prefix, fixture, attribute, float(values[i]))
            for i in np.flatnonzero(send)
            for fixture, attribute in (self.attributes.names[i],)
        ]

    def _bundles(self, at: float, messages: list[osc.Message]) -> list[Datagram]:
        """Bundles of whole messages, each at most `max_datagram` bytes when encoded."""
        timetag = osc.to_timetag(at + self.wall_offset)
        batches: list[list[osc.Message]] = []
        size = BUNDLE_HEADER
        for m in messages:
            length = ELEMENT_SIZE + len(osc.encode(m))
            if not batches or size + length > self.max_datagram:
                batches.append([])
                size = BUNDLE_HEADER
            batches[-1].append(m)
            size += length
        return [
            Datagram(osc.encode(osc.Bundle(timetag=timetag, elements=tuple(b))), self.address)
            for b in batches
        ]

    def poll(self, now: float) -> None:
        return
