"""L7 one frame grid for every shard of a venue on one machine, without the broker.

A sharded venue's processes all read the same monotonic clock (CLOCK_MONOTONIC is one
clock per machine), so:
- alone (`citypulse run --shards N`) every shard plays a `LocalGrid` on the epoch the
  coordinator chose: frame k is due at the same instant in every process;
- in lockstep (`citypulse venue --shards N`) the coordinator owns the bus and the
  timebase, and publishes each clock map it is steered to on a `MapBoard`, a few words of
  shared memory; every shard's `BoardGrid` computes its deadlines from the current map,
  exactly as the coordinator's `SharedGrid` would.

The board is a seqlock: the writer makes the version odd, writes the map, makes it even;
a reader retries until it read one even version on both sides of the map.
"""

from __future__ import annotations

from multiprocessing import shared_memory

import numpy as np

from controller.runtime.shared_grid import MappedGrid, TrustedClockMap
from controller.sync.discipline import ClockMap

__all__ = ["BoardGrid", "MapBoard"]

_WORDS = 6  # version, local_at, shared_at, rate, slew, slew_s


class MapBoard:
    """A clock map in shared memory: one writer (the coordinator), readers in the shards."""

    def __init__(self, name: str | None = None) -> None:
        self._shm = shared_memory.SharedMemory(name=name, create=name is None, size=8 * _WORDS)
        self._owner = name is None
        self._words = np.ndarray((_WORDS,), dtype=np.float64, buffer=self._shm.buf)
        if self._owner:
            self._words[:] = 0.0

    @property
    def name(self) -> str:
        return self._shm.name

    def publish(self, clock_map: ClockMap | TrustedClockMap) -> None:
        if isinstance(clock_map, TrustedClockMap):  # shared = local + offset, for ever
            clock_map = ClockMap(local_at=0.0, shared_at=clock_map.offset_s, rate=0.0)
        w = self._words
        version = w[0]
        w[0] = version + 1.0  # odd: being written
        w[1:6] = (clock_map.local_at, clock_map.shared_at, clock_map.rate, clock_map.slew,
                  clock_map.slew_s)  # fmt: skip
        w[0] = version + 2.0

    def read(self) -> ClockMap | None:
        """The current map, or None before the first `publish`."""
        w = self._words
        while True:
            before = float(w[0])
            local_at, shared_at, rate, slew, slew_s = (float(x) for x in w[1:6])
            if before == float(w[0]) and int(before) % 2 == 0:
                break
        if before == 0.0:
            return None
        return ClockMap(local_at=local_at, shared_at=shared_at, rate=rate, slew=slew, slew_s=slew_s)

    def close(self) -> None:
        del self._words
        self._shm.close()
        if self._owner:
            self._shm.unlink()


class BoardGrid(MappedGrid):
    """A `MappedGrid` whose clock map is read from a `MapBoard` every time."""

    def __init__(self, *, epoch: float, fps: int, board: MapBoard) -> None:
        super().__init__(epoch=epoch, fps=fps)
        self.board = board

    @property
    def ready(self) -> bool:
        return self.board.read() is not None

    def _current(self) -> ClockMap:
        current = self.board.read()
        if current is None:
            msg = "the coordinator has published no clock map yet"
            raise RuntimeError(msg)
        return current
