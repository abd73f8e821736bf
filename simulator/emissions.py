"""A venue's frame emission times, read from the datagrams it sent (pure; time passed in).

Decoding uses the simulator's own wire readers (`simulator.wire`), not the controller's
codecs. A frame is emitted when its sync packet leaves (Art-Net 4 ArtSync; E1.31-2016
universe synchronization packet), since that is when receivers latch it. A venue that sends
no sync at all is timed by the first data packet of each frame (ArtDmx, E1.31 data): a data
packet starts a new frame when its universe already appeared in the current frame, or when
it comes more than half a period after the frame's first packet (if the period is known).

Each frame also carries what it showed (`levels()`): the sum of every DMX byte receivers hold
at that moment (the latest data of each universe) and a CRC-32 of it, so a test can see the
frame a show started on, or the first dark frame of a blackout.
"""

from __future__ import annotations

import zlib
from collections import Counter

from controller.errors import ProtocolError
from simulator.wire import artnet, sacn

__all__ = ["VenueFrames"]

ARTNET_ID = b"Art-Net\x00"


class VenueFrames:
    """Accumulates one venue's datagrams: `feed(t, data)`, then `times()` and `counts()`."""

    def __init__(self, *, period_s: float | None = None) -> None:
        self.period_s = period_s
        self.sync: dict[str, list[float]] = {"artsync": [], "sacn-sync": []}
        self.data_frames: list[float] = []
        self._frame_keys: set[tuple[str, int]] = set()
        self._frame_start = float("-inf")
        self._latched: dict[tuple[str, int], tuple[int, int]] = {}  # universe: (sum, CRC-32)
        self._total = 0  # sum over `_latched`, kept as packets arrive (cheap per packet)
        self.sync_levels: dict[str, list[tuple[int, int]]] = {"artsync": [], "sacn-sync": []}
        self.data_levels: list[tuple[int, int]] = []
        self.packets = Counter[
            str
        ]()  # by kind: artsync, sacn-sync, artdmx, sacn-data, other, malformed

    def feed(self, t: float, data: bytes) -> None:
        """One datagram that arrived at `t`."""
        try:
            packet = (artnet.parse if data[:8] == ARTNET_ID else sacn.parse)(data)
        except ProtocolError:
            self.packets["malformed"] += 1
            return
        match packet:
            case artnet.ArtSyncFrame():
                self._count_sync("artsync", t)
            case sacn.SacnSyncFrame():
                self._count_sync("sacn-sync", t)
            case artnet.ArtDmxFrame():
                self.packets["artdmx"] += 1
                self._data(t, ("artnet", packet.port_address), packet.data)
            case sacn.SacnDataFrame() if packet.start_code == 0 and not packet.preview:
                self.packets["sacn-data"] += 1
                self._data(t, ("sacn", packet.universe), packet.data)
            case _:
                self.packets["other"] += 1  # polls, discovery, preview or other start codes

    def _count_sync(self, kind: str, t: float) -> None:
        self.packets[kind] += 1
        self.sync[kind].append(t)
        self.sync_levels[kind].append(self._level())

    def _level(self) -> tuple[int, int]:
        """Sum of the held DMX bytes, and a CRC-32 of their universes' CRC-32s in order."""
        crcs = b"".join(self._latched[key][1].to_bytes(4, "big") for key in sorted(self._latched))
        return self._total, zlib.crc32(crcs)

    def _latch(self, key: tuple[str, int], data: bytes) -> None:
        level = sum(data)
        self._total += level - self._latched.get(key, (0, 0))[0]
        self._latched[key] = (level, zlib.crc32(data))

    def _data(self, t: float, key: tuple[str, int], data: bytes) -> None:
        late = self.period_s is not None and t - self._frame_start > self.period_s / 2
        if key in self._frame_keys or late or not self.data_frames:
            if self.data_frames:
                self.data_levels.append(self._level())  # the frame that just ended
            self.data_frames.append(t)
            self._frame_start = t
            self._frame_keys.clear()
        self._frame_keys.add(key)
        self._latch(key, data)

    @property
    def source(self) -> str:
        """What times the frames: "artsync", "sacn-sync", "data", or "none"."""
        kind = max(self.sync, key=lambda k: len(self.sync[k]))
        if self.sync[kind]:
            return kind
        return "data" if self.data_frames else "none"

    def levels(self) -> list[tuple[int, int]]:
        """(level, CRC-32) of each frame of `times()`: what receivers held as it went out."""
        source = self.source
        if source == "data":  # the last frame is still open: as it stands
            return [*self.data_levels, self._level()]
        return list(self.sync_levels.get(source, []))

    def times(self) -> list[float]:
        """Emission time of each frame, in arrival order."""
        source = self.source
        if source == "data":
            return list(self.data_frames)
        return list(self.sync.get(source, []))
