"""Sans-IO simulated receiver for a venue: datagrams and serial bytes in, the latched look out.

No sockets and no clock: every call takes `now`. The shells in `simulator.listeners` and
`simulator.inprocess` feed it; packets are decoded with `simulator.wire` only.

Rules:
- Wire universes map to our universes (rows of `patch.universes`) through the same
  `plan_routes` routes the controller sends with. Valid DMX for an unmapped wire universe
  is counted `unrouted`.
- Art-Net: ArtDmx is applied at once until the first ArtSync; from then on it is buffered
  and latched by each ArtSync (from the IP of the latest ArtDmx), until no ArtSync came
  for `sync_timeout_s` (Art-Net 4: 4 s), when buffered data is applied and immediate mode
  resumes. Sequence 0 disables the check; else 1..255 wraps to 1, a packet up to 19
  behind is late (discarded), a jump forward counts the packets skipped.
- sACN: see `simulator.sacn_sources` for sequence, priority and stream termination.
  Data with a Synchronization Address waits for a sync packet with that address; preview
  data and non-zero start codes never reach the output.
- OSC: `/<...>/universe/<n> ,b <blob>` or the route's own address pattern carries one
  universe (a bundle is applied whole or not at all); one-number messages are counted as
  per-fixture attribute messages.
- ENTTEC: bytes are framed per source; label 6 with start code 0 is one universe. Open
  DMX packets (start code + slots, framed by BREAK in the shell) arrive as "opendmx".
- Anything malformed is counted per protocol and dropped with one WARNING line on the
  `citypulse.simulator` logger; `receive` never raises for bad input.
- A universe is at most 512 slots. A packet carrying more is malformed and dropped, never
  truncated: E1.31-2016 Property Value Count is 1..513 (START code + slots), Art-Net 4
  ArtDmx Length is 2..512, ENTTEC label 6 carries 24..512 slots, a DMX512 (E1.11) packet
  512 at most, an OSC universe blob 1..512 bytes. Out-of-range universes are malformed too
  (E1.31 1..63999; an ArtDmx Net with bit 7 set). An odd ArtDmx Length ("should be even")
  is read as sent.
- Frames: see `simulator.frames`. A sync latches its universes at once; a latch that
  includes the lowest routed universe is a frame (without sync, that universe's arrival
  is). A latch is torn when a universe of the previous latch of the same kind is missing.

Not thread-safe: call it from one thread (the engine's output thread in rehearsals).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from typing import Literal, TypeAlias

import numpy as np
from numpy.typing import NDArray

from controller.errors import ProtocolError, RemoteProtocolError
from controller.outputs.routing import Route
from controller.patch.patcher import Patch
from controller.show.rig import Protocol
from controller.show.twin import Twin
from simulator.frames import FrameBook
from simulator.osc_input import sort_messages
from simulator.sacn_sources import UniverseSources
from simulator.stats import DEFAULT_CAPACITY, ProtocolCounts, SimStats
from simulator.wire import artnet as wire_artnet
from simulator.wire import enttec as wire_enttec
from simulator.wire import osc as wire_osc
from simulator.wire import sacn as wire_sacn

__all__ = ["LOGGER_NAME", "LatchCallback", "SimulatorCore", "WireProtocol"]

LOGGER_NAME = "citypulse.simulator"
WireProtocol: TypeAlias = Literal["artnet", "sacn", "osc", "enttec", "opendmx"]
LatchCallback: TypeAlias = Callable[[float, int, bytes], None]  # (t, our universe, 512 bytes)
PROTOCOLS: tuple[WireProtocol, ...] = ("artnet", "sacn", "osc", "enttec", "opendmx")

_log = logging.getLogger(LOGGER_NAME)
_ARTNET_MAX = 18 + 512  # ArtDmx: 18-byte header + at most 512 slots
_ARTNET_OPS = frozenset(
    (wire_artnet.OP_DMX, wire_artnet.OP_SYNC, wire_artnet.OP_POLL, wire_artnet.OP_POLL_REPLY)
)
_ARTNET_LATE = 20  # ours, mirroring E1.31: up to 19 behind is late, further is a restart
_SERIAL_MAX = 1 + 512  # start code + slots
_MAX_STREAMS = 16  # ENTTEC byte streams kept (one per device)


class SimulatorCore:
    """The receiving end of every route of one venue (see the module rules)."""

    def __init__(
        self,
        *,
        twin: Twin,
        patch: Patch,
        routes: Iterable[Route],
        fps: float,
        sync_timeout_s: float = 4.0,
        venue: str | None = None,
        on_latch: LatchCallback | None = None,
        interval_capacity: int = DEFAULT_CAPACITY,
    ) -> None:
        self.twin = twin
        self.patch = patch
        self.routes = tuple(routes)
        self.fps = fps
        self.sync_timeout_s = sync_timeout_s
        self.venue = venue if venue is not None else twin.venue.id
        self.on_latch = on_latch
        self._dmx = patch.new_output()
        self._map_routes()
        self._book = FrameBook(fps=fps, marker=self._marker, capacity=interval_capacity)
        self._counts: dict[str, dict[str, int]] = {
            k: dict.fromkeys(PROTOCOLS, 0) for k in ("packets", "malformed", "ignored")
        }
        self._n: dict[str, int] = defaultdict(int)
        self._gaps = np.zeros(len(patch.universes), np.int64)
        # Art-Net
        self._artnet_sync_at: float | None = None
        self._artnet_source: str | None = None
        self._artnet_pending: dict[int, bytes] = {}
        self._artnet_sequence: dict[int, int] = {}
        # sACN
        self._sources = [UniverseSources() for _ in patch.universes]
        self._released: set[int] = set()
        self._sacn_pending: dict[int, tuple[int, bytes]] = {}  # row -> (sync address, data)
        # ENTTEC
        self._streams: dict[str, wire_enttec.WidgetStream] = {}

    def _map_routes(self) -> None:
        rows = {u: i for i, u in enumerate(self.patch.universes)}
        self._wire: dict[tuple[str, int], int] = {}
        self._osc_paths: dict[str, int] = {}
        self._osc_wire: dict[int, int] = {}
        self._serial: dict[str, int] = {}
        for route in self.routes:
            for universe, wire in zip(route.universes, route.wire, strict=True):
                row = rows.get(universe)
                if row is None:
                    continue
                self._wire[(route.protocol.value, wire)] = row
                if route.protocol in (Protocol.ENTTEC, Protocol.OPENDMX):
                    self._serial[route.device or ""] = row
                elif route.protocol is Protocol.OSC:
                    path = route.osc_address.format(venue=self.venue, universe=wire)
                    self._osc_paths[path] = row
                    self._osc_wire[wire] = row
        routed = set(self._wire.values())
        self._marker = min(routed) if routed else None

    # -- state ---------------------------------------------------------------------------
    @property
    def dmx(self) -> NDArray[np.uint8]:
        """The latched look, one row per universe of the patch (a read-only view)."""
        view = self._dmx.view()
        view.flags.writeable = False
        return view

    @property
    def universes(self) -> tuple[int, ...]:
        return self.patch.universes

    def frame(self, out_frame: NDArray[np.float32]) -> NDArray[np.float32]:
        """The attribute frame the latched bytes show (`Patch.decode`)."""
        return self.patch.decode(self._dmx, out_frame)

    def statistics(self) -> SimStats:
        gaps = tuple((u, int(n)) for u, n in zip(self.patch.universes, self._gaps, strict=True))
        return SimStats(
            packets=ProtocolCounts(**self._counts["packets"]),
            malformed=ProtocolCounts(**self._counts["malformed"]),
            ignored=ProtocolCounts(**self._counts["ignored"]),
            unrouted=self._n["unrouted"],
            latches=self._book.latches,
            frames_latched=self._book.frames,
            torn_frames=self._book.torn,
            sequence_gaps=int(self._gaps.sum()),
            gaps_by_universe=gaps,
            out_of_order=self._n["out_of_order"],
            lower_priority=self._n["lower_priority"],
            stream_terminations=self._n["terminations"],
            released_universes=tuple(sorted(self.patch.universes[r] for r in self._released)),
            osc_attribute_messages=self._n["osc_attributes"],
            timing=self._book.timing(),
        )

    # -- input ---------------------------------------------------------------------------
    def receive(
        self, now: float, protocol: WireProtocol, data: bytes, source: tuple[str, int]
    ) -> None:
        """One datagram (or, for "enttec", a chunk of the serial byte stream) from `source`."""
        if protocol not in PROTOCOLS:
            msg = f"protocol={protocol!r} is not one of {PROTOCOLS}"
            raise ValueError(msg)
        if protocol == "enttec":
            self._enttec(now, data, source)
            return
        self._counts["packets"][protocol] += 1
        try:
            if protocol == "artnet":
                self._artnet(now, data, source)
            elif protocol == "sacn":
                self._sacn(now, data)
            elif protocol == "osc":
                self._osc(now, data)
            else:
                self._serial_packet(now, "opendmx", data, source)
        except ProtocolError as exc:
            self._malformed(protocol, source, str(exc))

    def poll(self, now: float) -> None:
        """Apply timeouts due by `now` (Art-Net sync; `receive` also does this)."""
        self._artnet_timeout(now)

    def _malformed(self, protocol: str, source: tuple[str, int], reason: str) -> None:
        self._counts["malformed"][protocol] += 1
        _log.warning("%s packet from %s:%s dropped: %s", protocol, source[0], source[1], reason)

    def _ignore(self, protocol: str) -> None:
        self._counts["ignored"][protocol] += 1

    # -- output --------------------------------------------------------------------------
    def _write(self, now: float, row: int, data: bytes) -> None:
        target = self._dmx[row]
        target[: len(data)] = np.frombuffer(data, np.uint8)
        target[len(data) :] = 0  # a short universe has no slots past its length
        if self.on_latch is not None:
            self.on_latch(now, self.patch.universes[row], target.tobytes())

    def _apply(self, now: float, row: int, data: bytes) -> None:
        """Immediate mode: show `data` now."""
        self._book.arrived(now, row)
        self._write(now, row, data)

    def _latch(self, now: float, domain: Hashable, rows: list[tuple[int, bytes]]) -> None:
        """A sync: show every buffered universe of `domain` at once."""
        for row, data in rows:
            self._write(now, row, data)
        self._book.latched(now, domain, (row for row, _ in rows))

    # -- Art-Net -------------------------------------------------------------------------
    def _artnet(self, now: float, data: bytes, source: tuple[str, int]) -> None:
        if len(data) > _ARTNET_MAX:
            msg = f"oversized Art-Net packet: {len(data)} bytes > {_ARTNET_MAX}"
            raise RemoteProtocolError(msg)
        if data[:8] == wire_artnet.ID and len(data) >= 10:
            if int.from_bytes(data[8:10], "little") not in _ARTNET_OPS:
                self._ignore("artnet")  # a valid OpCode we do not act on (ArtTimeCode...)
                return
        frame = wire_artnet.parse(data)
        self._artnet_timeout(now)
        if isinstance(frame, wire_artnet.ArtDmxFrame):
            self._artnet_dmx(now, frame, source[0])
        elif isinstance(frame, wire_artnet.ArtSyncFrame):
            if self._artnet_source is not None and source[0] != self._artnet_source:
                self._ignore("artnet")  # Art-Net 4: ArtSync from another IP is ignored
                return
            entering, self._artnet_sync_at = self._artnet_sync_at is None, now
            if entering:  # data so far was shown on arrival and its frame already counted
                return
            pending, self._artnet_pending = self._artnet_pending, {}
            self._latch(now, "artnet", sorted(pending.items()))
        else:
            self._ignore("artnet")

    def _artnet_dmx(self, now: float, frame: wire_artnet.ArtDmxFrame, ip: str) -> None:
        row = self._wire.get(("artnet", frame.port_address))
        if row is None:
            self._n["unrouted"] += 1
            return
        if frame.sequence:
            last = self._artnet_sequence.get(row)
            if last is not None:
                if (last - frame.sequence) % 255 < _ARTNET_LATE:
                    self._n["out_of_order"] += 1
                    return
                self._gaps[row] += (frame.sequence - last - 1) % 255
            self._artnet_sequence[row] = frame.sequence
        self._artnet_source = ip
        if self._artnet_sync_at is None:
            self._apply(now, row, frame.data)
        else:
            self._artnet_pending[row] = frame.data

    def _artnet_timeout(self, now: float) -> None:
        if self._artnet_sync_at is None or now - self._artnet_sync_at < self.sync_timeout_s:
            return
        self._artnet_sync_at = None  # Art-Net 4: back to non-synchronous operation
        pending, self._artnet_pending = self._artnet_pending, {}
        for row, data in sorted(pending.items()):
            self._write(now, row, data)

    # -- sACN ----------------------------------------------------------------------------
    def _sacn(self, now: float, data: bytes) -> None:
        packet = wire_sacn.parse(data)
        if isinstance(packet, wire_sacn.SacnSyncFrame):
            address = packet.sync_address
            due = sorted((r, d) for r, (a, d) in self._sacn_pending.items() if a == address)
            for done, _ in due:
                del self._sacn_pending[done]
            self._latch(now, ("sacn", address), due)
            return
        if not isinstance(packet, wire_sacn.SacnDataFrame) or packet.preview:
            self._ignore("sacn")  # discovery; preview data is for visualisers only
            return
        row = self._wire.get(("sacn", packet.universe))
        if row is None:
            self._n["unrouted"] += 1
            return
        verdict = self._sources[row].packet(
            now, cid=packet.cid, priority=packet.priority, sequence=packet.sequence,
            terminated=packet.stream_terminated,
        )  # fmt: skip
        self._gaps[row] += verdict.gap
        self._n["out_of_order"] += verdict.out_of_order
        self._n["lower_priority"] += verdict.lower_priority
        if verdict.terminated:
            self._n["terminations"] += 1
            if not self._sources[row]:
                self._released.add(row)
                self._sacn_pending.pop(row, None)
        if not verdict.accept:
            return
        if packet.start_code != 0:
            self._ignore("sacn")  # e.g. 0xDD per-address priority
            return
        self._released.discard(row)
        if packet.sync_address:
            self._sacn_pending[row] = (packet.sync_address, packet.data)
        else:
            self._apply(now, row, packet.data)

    # -- OSC -----------------------------------------------------------------------------
    def _osc(self, now: float, data: bytes) -> None:
        contents = sort_messages(wire_osc.parse(data), paths=self._osc_paths, wire=self._osc_wire)
        self._n["osc_attributes"] += contents.attributes
        self._n["unrouted"] += contents.unrouted
        self._counts["ignored"]["osc"] += contents.ignored
        for row, blob in contents.universes:  # OSC 1.0: a bundle takes effect as a whole
            self._apply(now, row, blob)

    # -- serial --------------------------------------------------------------------------
    def _enttec(self, now: float, data: bytes, source: tuple[str, int]) -> None:
        stream = self._streams.get(source[0])
        if stream is None:
            if len(self._streams) >= _MAX_STREAMS:
                del self._streams[next(iter(self._streams))]
            stream = self._streams[source[0]] = wire_enttec.WidgetStream()
        rejected = stream.rejected
        frames = stream.feed(data)
        for _ in range(stream.rejected - rejected):
            self._counts["packets"]["enttec"] += 1
            self._malformed("enttec", source, "bad frame (length > 600 or no 0xE7 end byte)")
        for frame in frames:
            self._counts["packets"]["enttec"] += 1
            if frame.label != wire_enttec.LABEL_SEND_DMX:
                self._ignore("enttec")
                continue
            try:
                self._serial_packet(now, "enttec", frame.data, source)
            except ProtocolError as exc:
                self._malformed("enttec", source, f"label 6: {exc}")

    def _serial_packet(
        self, now: float, protocol: str, data: bytes, source: tuple[str, int]
    ) -> None:
        """Start code + slots, as label 6 carries them and an Open DMX line sends them."""
        if protocol == "enttec":
            packet = wire_enttec.parse_send_dmx(data)
            start_code, slots = packet.start_code, packet.slots
        else:
            if not 2 <= len(data) <= _SERIAL_MAX:
                msg = f"DMX packet of {len(data)} bytes (need start code + 1..512 slots)"
                raise RemoteProtocolError(msg)
            start_code, slots = data[0], bytes(data[1:])
        if start_code != 0:
            self._ignore(protocol)  # E1.11: only the null start code carries levels
            return
        row = self._serial.get(source[0])
        if row is None and len(set(self._serial.values())) == 1:
            row = next(iter(self._serial.values()))  # the venue's only widget
        if row is None:
            self._n["unrouted"] += 1
            return
        self._apply(now, row, slots)
