"""L7 a venue's looks: the light of every k-th delivered frame, for the consoles (docs/bus.md).

Two threads meet here, and only through a triple buffer:
- the output thread calls `on_frame(prepared, now)` after delivering each frame (the
  player's hook). On ticks divisible by `every` it copies the light rows of the frame it
  just sent into its spare buffer (a few rows, no render) and swaps it with the latest
  under a lock held for two assignments: it never waits for the bus;
- the bus thread calls `payload()` (a few times per look period): it swaps the latest copy
  with its reading buffer, downsamples it to the show's `LookLayout` with the master that
  went out with the frame (a blackout looks black), and encodes a `bus.Look`.
"""

from __future__ import annotations

import base64
import threading

import numpy as np

from controller.compile.plan import VenuePlan
from controller.preview.look import LIGHT_ROWS, LookLayout
from controller.protocols import bus
from controller.runtime.engine import Prepared

__all__ = ["LOOKS_HZ", "LookTap", "look_every"]

LOOKS_HZ = 8.0  # looks a second the tap aims for: k = round(fps / 8)


def look_every(fps: int) -> int:
    """Every how many frames a look is taken: 5 at 40 fps (8 a second)."""
    return max(1, round(fps / LOOKS_HZ))


class LookTap:
    def __init__(self, plan: VenuePlan, *, venue: str, max_cells: int = bus.MAX_LOOK_CELLS) -> None:
        self.venue = venue
        self.every = look_every(plan.fps)
        self.rate_hz = plan.fps / self.every
        self.layout = LookLayout.of_plan(plan, max_cells=max_cells)
        n = plan.home.shape[1]
        self._buffers = [np.zeros((len(LIGHT_ROWS), n), np.float32) for _ in range(3)]
        self._spare, self._latest, self._reading = 0, 1, 2  # a permutation of the buffers
        self._fresh: tuple[int, int, float] | None = None  # tick, show frame, master of latest
        self._lock = threading.Lock()
        self.copies = 0  # frames copied (output thread)
        self.looks = 0  # payloads made (bus thread)

    # -- the output thread ------------------------------------------------------------------
    def on_frame(self, prepared: Prepared, now: float) -> None:
        """The player's hook: copy the light of every `every`-th delivered frame."""
        if prepared.tick % self.every:
            return
        np.take(prepared.frame, LIGHT_ROWS, axis=0, out=self._buffers[self._spare])
        with self._lock:
            self._spare, self._latest = self._latest, self._spare
            self._fresh = (prepared.tick, prepared.show_frame, prepared.master)
        self.copies += 1

    # -- the bus thread ---------------------------------------------------------------------
    def payload(self) -> bytes | None:
        """The look of the latest copied frame, once; None when nothing new was copied."""
        with self._lock:
            fresh, self._fresh = self._fresh, None
            if fresh is None:
                return None
            self._reading, self._latest = self._latest, self._reading
        tick, frame, master = fresh
        colours = self.layout.colours(self._buffers[self._reading], master)
        look = bus.Look(
            venue=self.venue, tick=tick, frame=frame, cells=self.layout.cells,
            light=base64.b64encode(colours.tobytes()).decode("ascii"),
        )  # fmt: skip
        self.looks += 1
        return bus.encode(look)
