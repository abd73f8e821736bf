"""L5 the `(bytes, address)` record every sans-IO sender returns, and their shared universe stream.

`UniverseStream` is the machinery common to the Art-Net and sACN senders: a preallocated
packet batch with one row per universe, a `RefreshSchedule` deciding which rows go out at
`now`, per-row sequence numbers and a per-protocol sync packet. What is due comes back as a
`Burst`: the data and the sync packets apart, as they were encoded, so an output sends the
data ahead and holds the sync for the frame deadline without re-parsing its own bytes.

Rules:
- `stage` writes new universe data into a payload row and marks the row pending: always in
  "constant" mode; in "on_change" mode only when the data differs from what was last sent,
  or the row was never sent.
- `due(now)` returns the pending rows plus every active row whose keep-alive expired
  (`sent_at + keepalive_s <= now`), and records them as sent at `now`. A row is active from
  its first send until `deactivate` (sACN stream termination).
- Time enters only through `now`; nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, NamedTuple, TypeAlias

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "DMX_SLOTS",
    "Burst",
    "Datagram",
    "DmxData",
    "Mode",
    "PacketBatch",
    "RefreshSchedule",
    "UniverseStream",
    "dmx_row",
]

DMX_SLOTS = 512  # E1.11: a full universe is 512 slots after the start code

Mode: TypeAlias = Literal["on_change", "constant"]
DmxData: TypeAlias = bytes | bytearray | memoryview | NDArray[np.uint8]


class Datagram(NamedTuple):
    """One UDP payload and where to send it; one datagram per list element."""

    data: bytes
    address: tuple[str, int]


class Burst(NamedTuple):
    """What a sender has due at `now`, kept apart by role from the moment it is encoded."""

    data: list[Datagram]  # may leave ahead of the frame deadline (universe data, discovery)
    sync: list[Datagram]  # latches the data at the receivers: leaves at the deadline, last

    @property
    def datagrams(self) -> list[Datagram]:
        """Everything in wire order: the data, then the sync."""
        return self.data + self.sync


def dmx_row(data: DmxData) -> NDArray[np.uint8]:
    """View `data` as a uint8 row of exactly 512 slots, without copying.

    Raises:
        ValueError: `data` is not 512 bytes, or is an array of another dtype or shape.
    """
    row = data if isinstance(data, np.ndarray) else np.frombuffer(data, np.uint8)
    if row.dtype != np.uint8 or row.shape != (DMX_SLOTS,):
        msg = f"universe data has dtype {row.dtype} shape {row.shape}, expected uint8 (512,)"
        raise ValueError(msg)
    return row


class RefreshSchedule:
    """Which rows of a sender's packet batch are due at `now` (see the module rules)."""

    def __init__(self, size: int, *, keepalive_s: float, mode: Mode) -> None:
        if not keepalive_s > 0:
            msg = f"keepalive_s={keepalive_s!r} must be > 0"
            raise ValueError(msg)
        self._keepalive_s = keepalive_s
        self._constant = mode == "constant"
        self._pending = np.zeros(size, np.bool_)
        self._active = np.zeros(size, np.bool_)
        self._sent_at = np.zeros(size, np.float64)

    def stage(self, row: int, payloads: NDArray[np.uint8], data: NDArray[np.uint8]) -> None:
        """Write `data` into `payloads[row]` and mark the row pending if it must be sent."""
        target = payloads[row]
        if self._constant or not self._active[row] or not np.array_equal(target, data):
            target[:] = data
            self._pending[row] = True

    def stage_all(self, payloads: NDArray[np.uint8], frames: NDArray[np.uint8]) -> None:
        """Vectorised `stage` of every row at once: `frames` has the shape of `payloads`."""
        if frames.shape != payloads.shape or frames.dtype != np.uint8:
            shape = f"dtype {frames.dtype} shape {frames.shape}"
            msg = f"frames has {shape}, expected uint8 {payloads.shape}"
            raise ValueError(msg)
        if self._constant:
            payloads[...] = frames
            self._pending[:] = True
            return
        changed = ~self._active | np.any(payloads != frames, axis=1)
        payloads[changed] = frames[changed]
        self._pending |= changed

    def due(self, now: float) -> NDArray[np.intp]:
        """Rows to send at `now`, in row order; they count as sent at `now`."""
        expired = self._active & (self._sent_at + self._keepalive_s <= now)
        rows = np.flatnonzero(self._pending | expired)
        self._pending[:] = False
        self._sent_at[rows] = now
        self._active[rows] = True
        return rows

    def active_rows(self) -> NDArray[np.intp]:
        """Rows sent at least once and not deactivated since."""
        return np.flatnonzero(self._active)

    def deactivate(self, rows: NDArray[np.intp]) -> None:
        """Stop keep-alives for `rows` until they are staged again."""
        self._active[rows] = False
        self._pending[rows] = False

    def next_deadline(self) -> float | None:
        """When the earliest keep-alive falls due, or None while nothing is active."""
        if not self._active.any():
            return None
        return float(self._sent_at[self._active].min()) + self._keepalive_s


class PacketBatch:
    """Preallocated 512-slot packets, one row per universe.

    Built from one encoded template per row. Per frame the owner writes the `sequences`
    column and the `payloads` block, both views into `packets`, then sends `packet(i)`;
    nothing else is re-encoded.
    """

    def __init__(
        self, templates: Sequence[bytes], *, sequence_offset: int, payload_offset: int
    ) -> None:
        rows = np.frombuffer(b"".join(templates), np.uint8)
        self.packets: NDArray[np.uint8] = rows.reshape(
            len(templates), payload_offset + DMX_SLOTS
        ).copy()
        self.sequences: NDArray[np.uint8] = self.packets[:, sequence_offset]
        self.payloads: NDArray[np.uint8] = self.packets[:, payload_offset:]

    def packet(self, index: int) -> bytes:
        """Row `index` as datagram bytes (a copy: the batch is rewritten next frame)."""
        return self.packet_rows(np.array([index], np.intp))[0]

    def packet_rows(self, rows: NDArray[np.intp]) -> list[bytes]:
        """Rows as datagram bytes: one gather and one copy, then cheap slices."""
        width = self.packets.shape[1]
        raw = self.packets[rows].tobytes()
        return [raw[start : start + width] for start in range(0, len(raw), width)]


class UniverseStream:
    """Base of the UDP universe senders: stage frames, emit what is due at `now`.

    Subclasses say how a sequence number advances and what follows a burst (sync).
    """

    def __init__(
        self,
        *,
        batch: PacketBatch,
        universes: Sequence[int],
        destinations: Sequence[tuple[str, int]],
        keepalive_s: float,
        mode: Mode,
    ) -> None:
        self._batch = batch
        self._order = tuple(universes)
        self._rows = {universe: row for row, universe in enumerate(self._order)}
        self._destinations = tuple(destinations)
        self._schedule = RefreshSchedule(len(self._order), keepalive_s=keepalive_s, mode=mode)

    @property
    def universes(self) -> tuple[int, ...]:
        """Row order of `frame_array`: the configured universes, ascending."""
        return self._order

    def _row(self, universe: int) -> int:
        row = self._rows.get(universe)
        if row is None:
            msg = f"universe={universe!r} is not configured (known: {self._order})"
            raise ValueError(msg)
        return row

    def stage(self, universes: Mapping[int, DmxData]) -> None:
        """Stage 512-slot `universes` (bytes-like or uint8 arrays) for the next `burst`."""
        for universe, data in universes.items():
            self._schedule.stage(self._row(universe), self._batch.payloads, dmx_row(data))

    def stage_array(self, frames: NDArray[np.uint8]) -> None:
        """Vectorised `stage`: `frames[i]` is universe `universes[i]`, shape (n, 512)."""
        self._schedule.stage_all(self._batch.payloads, frames)

    def burst(self, now: float) -> Burst:
        """What is due at `now` (staged universes, expired keep-alives), data and sync apart."""
        rows = self._schedule.due(now)
        return Burst(self._emit(rows), self._sync() if rows.size else [])

    def due_rows(self, now: float) -> tuple[NDArray[np.intp], list[Datagram]]:
        """`burst(now)` without copying the data out: the rows due, their sequences
        advanced (datagram i is `packets[i]` to `destinations[i]`), and the sync packet."""
        rows = self._schedule.due(now)
        sequences = self._batch.sequences
        sequences[rows] = self._next_sequence(sequences[rows])
        return rows, self._sync() if rows.size else []

    @property
    def packets(self) -> NDArray[np.uint8]:
        """The preallocated packets, one row per universe (rewritten by every stage)."""
        return self._batch.packets

    @property
    def destinations(self) -> tuple[tuple[str, int], ...]:
        return self._destinations

    def frame(self, now: float, universes: Mapping[int, DmxData]) -> list[Datagram]:
        """`stage` then `burst`, in wire order (for callers that send everything at once)."""
        self.stage(universes)
        return self.poll(now)

    def frame_array(self, now: float, frames: NDArray[np.uint8]) -> list[Datagram]:
        """`stage_array` then `burst`, in wire order."""
        self.stage_array(frames)
        return self.poll(now)

    def poll(self, now: float) -> list[Datagram]:
        """`burst(now)` in wire order: the data due, then the sync packet."""
        return self.burst(now).datagrams

    def next_deadline(self) -> float | None:
        """The next `now` at which `poll` has something to send, or None."""
        return self._schedule.next_deadline()

    def _emit(self, rows: NDArray[np.intp]) -> list[Datagram]:
        """Advance the sequence of `rows`, then snapshot their packets."""
        sequences = self._batch.sequences
        sequences[rows] = self._next_sequence(sequences[rows])
        packets, destinations = self._batch.packet_rows(rows), self._destinations
        return [
            Datagram(data, destinations[i]) for data, i in zip(packets, rows.tolist(), strict=True)
        ]

    def _next_sequence(self, current: NDArray[np.uint8]) -> NDArray[np.uint8]:
        raise NotImplementedError

    def _sync(self) -> list[Datagram]:
        """The sync packet that follows a burst of data (none by default)."""
        return []
