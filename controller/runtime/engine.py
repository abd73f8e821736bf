"""L7 the frame engine: commands and show position -> rendered, patched frame -> every output.

Rules:
- One owner: `Playback` and the outputs are touched only by the thread that drives frames
  (the player's output thread, or a test calling `tick`). Other threads talk to the engine
  in two ways only: `submit(command)` puts a `Command` in the inbox (under the engine's one
  lock), and `snapshot()` / `statistics()` / `outcomes()` read copies published by the
  frame thread.
- Frames live on the frame grid (`controller.runtime.grid`): `prepare(tick)` applies the
  commands due by that tick in time order, then renders and patches show frame
  `Playback.frame(tick)` ahead of its deadline; `stage` sends the data ahead (outputs with
  a sync packet: Art-Net, sACN); `deliver` at the deadline sends the sync packets and the
  outputs without sync.
- Commands that can change the frame of their own tick (ARM, GO, RESUME, GOTO, SEEK)
  apply when a frame is prepared. The others (BLACKOUT, master, and HOLD, which holds the
  frame of its tick) apply at prepare or at delivery, whichever comes first: a HOLD heard
  while frame k is staged holds frame k; a blackout re-patches the prepared look with
  master 0 and re-sends the data before the sync, so it reaches the wire on the very next
  frame, keeping positions (pan/tilt) and fixed channels.
- One output failing never stops the others: its exception is counted on it and the
  frame goes on to the rest.
- Render is deterministic but not re-entrant (clips keep scratch buffers), which the one
  frame thread guarantees.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from controller.compile.plan import VenuePlan
from controller.outputs.base import Output, OutputStats
from controller.patch.patcher import Patch
from controller.render.renderer import render
from controller.runtime.commands import Command, CommandOutcome
from controller.runtime.grid import FrameGrid, LocalGrid
from controller.runtime.playback import EndAction, Playback, PlaybackSnapshot
from controller.runtime.thread_usage import NO_USAGE, ThreadUsage

__all__ = ["DropRecord", "Engine", "EngineStats", "Prepared", "plan_playback", "preload_kernels"]

OUTCOMES_KEPT = 256
DROPS_KEPT = 1000

# A dropped frame: (first tick skipped, frames, woke late ms, preparing took ms, then from
# the delivery before to the late wake: on the CPU ms, voluntary switches, involuntary
# switches): see Engine.record_drop
DropRecord = tuple[int, int, float, float, float, int, int]


@dataclass(slots=True)
class Prepared:
    tick: int
    deadline: float  # local monotonic time it is due
    show_frame: int
    position: float  # show seconds the frame depicts (before the venue's output trim)
    frame: NDArray[np.float32]
    dmx: NDArray[np.uint8]
    master: float  # the grand master it is patched with; after `deliver`, the one it went out with
    driven: NDArray[np.bool_]
    staged: bool = False
    final: bool = False  # the stop frame: sent as prepared, whatever the overrides say


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


def _copy_stats(stats: OutputStats) -> OutputStats:
    return dataclasses.replace(stats, extra=dict(stats.extra))


class Engine:
    def __init__(
        self,
        *,
        plan: VenuePlan,
        patch: Patch,
        playback: Playback,
        outputs: Sequence[Output],
        grid: FrameGrid | None = None,
    ) -> None:
        self.plan = plan
        self.patch = patch
        self.playback = playback
        self.outputs = tuple(outputs)
        self.grid: FrameGrid = grid if grid is not None else LocalGrid(epoch=0.0, fps=plan.fps)
        self._lock = threading.Lock()  # guards the inbox and what is published
        self._inbox: list[Command] = []
        self._outcomes: deque[CommandOutcome] = deque(maxlen=OUTCOMES_KEPT)
        self._snapshot = playback.snapshot(0)
        self._frames = [plan.new_frame(), plan.new_frame()]
        self._driven = [plan.new_driven(), plan.new_driven()]
        self._dmx = [patch.new_output(), patch.new_output()]
        self._dark = patch.new_output()
        self._flip = 0
        self.frames_sent = 0
        self.frames_dropped = 0
        self.drops: list[DropRecord] = []
        self.late_frames = 0
        self.max_late = 0.0
        self.blackout_frames = 0
        self.output_failures = 0

    # -- other threads -------------------------------------------------------------------
    def submit(self, command: Command) -> None:
        """Queue a command; it executes on the first frame due at or after its `exec_at`."""
        with self._lock:
            self._inbox.append(command)

    def snapshot(self) -> PlaybackSnapshot:
        """The playback as of the last frame prepared or delivered."""
        return self._snapshot

    def outcomes(self) -> tuple[CommandOutcome, ...]:
        with self._lock:
            return tuple(self._outcomes)

    def statistics(self) -> EngineStats:
        return EngineStats(
            frames_sent=self.frames_sent,
            frames_dropped=self.frames_dropped,
            late_frames=self.late_frames,
            max_late_ms=round(self.max_late * 1e3, 3),
            blackout_frames=self.blackout_frames,
            output_failures=self.output_failures,
            playback=self._snapshot,
            outputs=tuple(_copy_stats(o.stats()) for o in self.outputs),
        )

    # -- the frame thread ----------------------------------------------------------------
    def _due(self, tick: int, *, at_delivery: bool) -> list[tuple[int, Command]]:
        """Take the inbox's commands due by `tick`, in execution order."""
        due: list[tuple[int, int, Command]] = []
        with self._lock:
            keep = []
            for order, cmd in enumerate(self._inbox):
                at = tick if cmd.exec_at is None else self.grid.tick_for(cmd.exec_at)
                if at <= tick and (cmd.at_delivery or not at_delivery):
                    due.append((at, order, cmd))
                else:
                    keep.append(cmd)
            self._inbox = keep
        return [(at, cmd) for at, _, cmd in sorted(due, key=lambda d: (d[0], d[1]))]

    def _execute(self, tick: int, *, at_delivery: bool) -> None:
        for at, cmd in self._due(tick, at_delivery=at_delivery):
            result = self.playback.apply(cmd, tick, at)
            outcome = CommandOutcome(
                command=cmd,
                accepted=result.accepted,
                message=result.message,
                tick=tick if result.accepted else None,
                position=self.playback.frame(tick) / self.plan.fps,
            )
            with self._lock:
                self._outcomes.append(outcome)

    def _publish(self, tick: int) -> None:
        self._snapshot = self.playback.snapshot(tick)

    def record_drop(
        self,
        frames: int,
        tick: int | None = None,
        *,
        late_s: float = 0.0,
        busy_s: float = 0.0,
        used: ThreadUsage = NO_USAGE,
    ) -> None:
        """Count frames the player skipped because they could only have been sent late.

        `late_s`: how late the player woke for `tick`; `busy_s`: how long preparing it took
        (from delivering the frame before); `used`: what the thread used from delivering
        the frame before to waking late (preparing and waiting for the deadline). A long
        `busy_s` mostly on the CPU is slow work (a render, a stage); mostly off it, the
        thread waited (`waits`: for the interpreter lock or I/O) or was kept off the CPU
        (`preempted`: another thread ran); a short one with a large `late_s` means the
        thread could not run at its deadline (a stall of the machine shows in every venue).
        """
        self.frames_dropped += frames
        if tick is not None and len(self.drops) < DROPS_KEPT:
            self.drops.append((
                tick, frames, round(late_s * 1e3, 3), round(busy_s * 1e3, 3),
                round(used.cpu_s * 1e3, 3), used.waits, used.preempted,
            ))  # fmt: skip

    def open(self, now: float) -> None:
        for out in self.outputs:
            self._guard(out, lambda o: o.open(now))

    def prepare(self, tick: int) -> Prepared:
        """Apply the commands due by `tick` and render its frame ahead of its deadline."""
        self._execute(tick, at_delivery=False)
        pb = self.playback
        show_frame = pb.frame(tick)
        master = 0.0 if pb.output_dark(tick) else pb.master * self.plan.intensity
        self._publish(tick)
        return self._render(tick, show_frame, master)

    def warm_up(self) -> None:
        """Render and patch, off the record, a frame inside every clip: first-use costs
        (compiled kernels loading, caches, allocations) are paid before the first deadline,
        not by a dropped frame when a clip first plays. Rendering is deterministic, so these
        frames change nothing that comes after."""
        fps, last = self.plan.fps, self.plan.frame_count - 1
        frames = {0} | {
            min(last, max(0, round((c.start + c.end) / 2 * fps))) for c in self.plan.clips
        }
        for frame in sorted(frames):
            self._render(0, frame, 0.0)
        self._render(0, 0, 0.0)  # both buffers

    def prepare_stop(self, tick: int, *, dark: bool) -> Prepared:
        """The stop frame: the current show frame, black when `dark`, sent as prepared."""
        pb = self.playback
        master = 0.0 if dark else pb.master * self.plan.intensity
        prepared = self._render(tick, pb.frame(tick), master)
        prepared.final = True
        return prepared

    def _render(self, tick: int, show_frame: int, master: float) -> Prepared:
        self._flip ^= 1
        frame, dmx, driven = (
            self._frames[self._flip],
            self._dmx[self._flip],
            self._driven[self._flip],
        )
        render(self.plan, self.plan.render_time(show_frame), frame, driven)
        self.patch.apply(frame, dmx, master, driven)
        position = show_frame / self.plan.fps
        deadline = self.grid.deadline(tick)
        return Prepared(tick, deadline, show_frame, position, frame, dmx, master, driven)

    def _guard(self, out: Output, action: Callable[[Output], None]) -> None:
        try:
            action(out)
        except Exception as exc:  # isolate outputs from each other: count, carry on
            self.output_failures += 1
            out.note_error(f"{type(exc).__name__}: {exc}")

    def stage(self, prepared: Prepared, now: float) -> None:
        """Send the frame's data ahead of its deadline (see the module rules)."""
        for out in self.outputs:
            self._guard(out, lambda o: o.stage(now, prepared.dmx, deadline=prepared.deadline))
        prepared.staged = True

    def deliver(self, prepared: Prepared, now: float) -> None:
        """At the deadline: apply due overrides, then sync (or send) the frame."""
        dmx, restage, master = prepared.dmx, not prepared.staged, prepared.master
        if not prepared.final:
            self._execute(prepared.tick, at_delivery=True)
            pb = self.playback
            master = 0.0 if pb.output_dark(prepared.tick) else pb.master * self.plan.intensity
            if master != prepared.master:
                dmx = self.patch.apply(prepared.frame, self._dark, master, prepared.driven)
                restage = True
            self._publish(prepared.tick)
        prepared.master = master  # what went out (a blackout heard at delivery included)
        if master == 0.0:
            self.blackout_frames += 1
        late = now - prepared.deadline
        if late > 0.002:
            self.late_frames += 1
        self.max_late = max(self.max_late, late)
        for out in self.outputs:
            if restage:
                self._guard(out, lambda o: o.stage(now, dmx, deadline=prepared.deadline))
            self._guard(out, lambda o: o.commit(now))
        self.frames_sent += 1

    def poll(self, now: float) -> None:
        for out in self.outputs:
            self._guard(out, lambda o: o.poll(now))

    def tick(self, tick: int) -> Prepared:
        """Prepare and deliver frame `tick` at its deadline (tests drive frames with it)."""
        prepared = self.prepare(tick)
        self.deliver(prepared, prepared.deadline)
        return prepared

    def close(self, now: float) -> None:
        for out in self.outputs:
            self._guard(out, lambda o: o.close(now))


def preload_kernels(plan: VenuePlan, patch: Patch) -> None:
    """A throwaway engine's warm-up, with no outputs: the compiled kernels the venue uses
    load (from the JIT's on-disk cache) in the calling thread. A joining venue does this while
    its timebase locks, and its session's own warm-up then takes milliseconds (measured:
    206 ms the first time in a process, 3 ms after)."""
    Engine(plan=plan, patch=patch, playback=plan_playback(plan), outputs=()).warm_up()


def plan_playback(plan: VenuePlan, end_action: EndAction = EndAction.BLACKOUT) -> Playback:
    """A fresh playback of the plan's frames and cues."""
    cues = [(c.name, c.t, c.hold) for c in plan.cues]
    return Playback(fps=plan.fps, frame_count=plan.frame_count, cues=cues, end_action=end_action)
