"""L7 the frame engine: show position -> rendered, patched frame -> every output.

Rules:
- `prepare(deadline)` renders the frame for a future deadline (render ahead), so the
  output thread only copies bytes onto the wire when the deadline comes.
- `stage(prepared, now)` sends the frame's data ahead of its deadline (outputs with a sync
  packet: Art-Net, sACN); `deliver(prepared, now)` at the deadline sends the sync packets
  (receivers latch on them, so the frame appears at the deadline) and the outputs without
  sync. Delivery checks the playback state at that moment: BLACKOUT (or an ended show set
  to black out) re-patches the prepared look with master 0 and re-sends the data before
  the sync, so a blackout reaches the wire on the very next frame, keeping positions
  (pan/tilt) and fixed channels; grand master changes likewise apply at delivery.
- One output failing never stops the others: its exception is counted on it and the
  frame goes on to the rest.
- Operator commands may arrive from any thread; they go through `command`, which holds
  the engine's lock while the playback changes.
- `tick(now)` is prepare + deliver in one call: tests drive frames with it, without threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from controller.compile.plan import VenuePlan
from controller.outputs.base import Output, OutputStats
from controller.patch.patcher import Patch
from controller.render.renderer import render
from controller.runtime.playback import CommandResult, Playback, PlaybackSnapshot

__all__ = ["Engine", "EngineStats", "Prepared"]


@dataclass(slots=True)
class Prepared:
    index: int
    deadline: float
    position: float
    frame: NDArray[np.float32]
    dmx: NDArray[np.uint8]
    master: float
    driven: NDArray[np.bool_]
    staged: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineStats:
    frames_sent: int
    frames_dropped: int
    late_frames: int
    max_late_ms: float
    blackout_frames: int
    output_failures: int
    playback: PlaybackSnapshot
    outputs: tuple[OutputStats, ...]


class Engine:
    def __init__(
        self,
        *,
        plan: VenuePlan,
        patch: Patch,
        playback: Playback,
        outputs: Sequence[Output],
    ) -> None:
        self.plan = plan
        self.patch = patch
        self.playback = playback
        self.outputs = tuple(outputs)
        self.lock = threading.RLock()
        self._frames = [plan.new_frame(), plan.new_frame()]
        self._driven = [plan.new_driven(), plan.new_driven()]
        self._dmx = [patch.new_output(), patch.new_output()]
        self._dark = patch.new_output()
        self._flip = 0
        self.frames_sent = 0
        self.frames_dropped = 0
        self.late_frames = 0
        self.max_late = 0.0
        self.blackout_frames = 0
        self.output_failures = 0

    def open(self, now: float) -> None:
        for out in self.outputs:
            self._guard(out, lambda o: o.open(now))

    def command(self, fn: Callable[[Playback, float], CommandResult], now: float) -> CommandResult:
        with self.lock:
            return fn(self.playback, now)

    def prepare(self, deadline: float, index: int = 0) -> Prepared:
        with self.lock:
            self.playback.update(deadline)
            position = self.playback.position(deadline)
            master = self.playback.master * self.plan.intensity
            if self.playback.output_dark(deadline):
                master = 0.0  # staged ahead while blacked out: stage black, never the lit look
        self._flip ^= 1
        frame, dmx, driven = (
            self._frames[self._flip],
            self._dmx[self._flip],
            self._driven[self._flip],
        )
        render(self.plan, max(0.0, position + self.plan.time_offset), frame, driven)
        self.patch.apply(frame, dmx, master, driven)
        return Prepared(index, deadline, position, frame, dmx, master, driven)

    def _guard(self, out: Output, action: Callable[[Output], None]) -> None:
        try:
            action(out)
        except Exception as exc:  # isolate outputs from each other: count, carry on
            self.output_failures += 1
            out.note_error(f"{type(exc).__name__}: {exc}")

    def stage(self, prepared: Prepared, now: float) -> None:
        """Send the frame's data ahead of its deadline (see the module rules)."""
        for out in self.outputs:
            self._guard(out, lambda o: o.stage(now, prepared.dmx))
        prepared.staged = True

    def deliver(self, prepared: Prepared, now: float) -> None:
        with self.lock:
            dark = self.playback.output_dark(now)
            master = self.playback.master * self.plan.intensity
        dmx = prepared.dmx
        restage = not prepared.staged
        if dark:
            self.blackout_frames += 1
            if prepared.master != 0.0:
                dmx = self.patch.apply(prepared.frame, self._dark, 0.0, prepared.driven)
                restage = True
        elif master != prepared.master:
            dmx = self.patch.apply(prepared.frame, self._dark, master, prepared.driven)
            restage = True
        late = now - prepared.deadline
        if late > 0.002:
            self.late_frames += 1
        self.max_late = max(self.max_late, late)
        for out in self.outputs:
            if restage:
                self._guard(out, lambda o: o.stage(now, dmx))
            self._guard(out, lambda o: o.commit(now))
        self.frames_sent += 1

    def poll(self, now: float) -> None:
        for out in self.outputs:
            self._guard(out, lambda o: o.poll(now))

    def tick(self, now: float) -> Prepared:
        prepared = self.prepare(now)
        self.deliver(prepared, now)
        return prepared

    def close(self, now: float) -> None:
        for out in self.outputs:
            self._guard(out, lambda o: o.close(now))

    def statistics(self, now: float) -> EngineStats:
        with self.lock:
            snap = self.playback.snapshot(now)
        return EngineStats(
            frames_sent=self.frames_sent,
            frames_dropped=self.frames_dropped,
            late_frames=self.late_frames,
            max_late_ms=round(self.max_late * 1e3, 3),
            blackout_frames=self.blackout_frames,
            output_failures=self.output_failures,
            playback=snap,
            outputs=tuple(o.stats() for o in self.outputs),
        )
