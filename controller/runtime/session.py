"""L7 one venue playing: playback, engine and player wired together, outputs injected.

The caller (the CLI, show tests, benchmarks) builds the outputs with the sinks it wants:
real sockets and serial ports, or the simulator. Everything an operator does reaches the
engine as a `Command` through `submit`, including the auto-go of a hold, which this
session issues from the output thread when a hold has lasted `hold_wait` seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from controller.clock import Clock
from controller.outputs.base import Output
from controller.runtime.commands import Command, CommandKind
from controller.runtime.engine import Engine, Prepared, plan_playback
from controller.runtime.grid import FrameGrid, LocalGrid, describe_grid
from controller.runtime.job import VenueJob
from controller.runtime.playback import EndAction, PlayState
from controller.runtime.player import Player

__all__ = ["SessionOptions", "VenueSession", "lateness_summary"]

KEYS = "g/space GO, h HOLD, b BLACKOUT, n/p next/previous cue, +/- master, q quit"


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionOptions:
    go: bool = False
    auto_go: bool = False
    hold_wait: float = 2.0
    duration: float | None = None
    end_action: str = "blackout"
    master: float = 1.0
    realtime: bool = False
    arm: bool = True  # False: a lockstep venue, whose state comes from the conductor


def lateness_summary(lateness: Sequence[float]) -> dict[str, float]:
    late = np.asarray(lateness, dtype=np.float64) * 1e3 if lateness else np.zeros(1)
    return {
        "p50": round(float(np.percentile(late, 50)), 3),
        "p99": round(float(np.percentile(late, 99)), 3),
        "max": round(float(late.max()), 3),
    }


class VenueSession:
    def __init__(
        self,
        job: VenueJob,
        options: SessionOptions,
        *,
        clock: Clock,
        outputs: Sequence[Output],
        start: float | None = None,
        grid: FrameGrid | None = None,
        on_frame: Callable[[Prepared, float], None] | None = None,
    ) -> None:
        self.job = job
        self.options = options
        self.clock = clock
        plan = job.plan
        self.playback = plan_playback(plan, EndAction(options.end_action))
        now = clock.now()
        self.grid = grid if grid is not None else LocalGrid(epoch=now, fps=plan.fps)
        self.engine = Engine(
            plan=plan, patch=job.patch, playback=self.playback, outputs=outputs, grid=self.grid
        )
        # the first frame's delivery: --duration counts from it
        self.started_at: float | None = None
        self._held_since: float | None = None
        self._auto_go_sent: int | None = None  # playback version the last auto-go answered
        for command in self._opening(start):
            self.engine.submit(command)
        self.player = Player(
            engine=self.engine,
            clock=clock,
            realtime=options.realtime,
            until=self._done,
            on_frame=on_frame,
            stop_dark=self.playback.end_action is EndAction.BLACKOUT,
        )

    def _opening(self, start: float | None) -> list[Command]:
        opts = self.options
        if not opts.arm:
            return []
        commands = [Command(kind=CommandKind.ARM, origin="session")]
        if opts.master != 1.0:
            commands.append(Command(kind=CommandKind.MASTER, args=(opts.master,), origin="session"))
        if start is not None:
            commands.append(Command(kind=CommandKind.SEEK, args=(start,), origin="session"))
        if opts.go:
            commands.append(Command(kind=CommandKind.GO, origin="session"))
        return commands

    def submit(self, command: Command) -> None:
        self.engine.submit(command)

    # -- the output thread's policy --------------------------------------------------------
    def _done(self, now: float) -> bool:
        snap = self.engine.snapshot()
        opts = self.options
        if snap.state is PlayState.ENDED:
            return True
        if self.started_at is None:
            self.started_at = now
        if opts.duration is not None and now - self.started_at >= opts.duration - 1e-9:
            return True
        if snap.state is PlayState.HELD and opts.auto_go:
            if self._held_since is None:
                self._held_since = now
            if now - self._held_since >= opts.hold_wait and self._auto_go_sent != snap.version:
                self.engine.submit(Command(kind=CommandKind.GO, origin="auto-go"))
                self._auto_go_sent = snap.version
        else:
            self._held_since = None
        return False

    # -- running ---------------------------------------------------------------------------
    def start(self) -> None:
        """Play in the output thread (real time)."""
        self.player.start()

    def run_inline(self) -> None:
        """Play in the calling thread (virtual time: a ManualClock with autojump)."""
        self.player.run()

    def stop(self) -> None:
        self.player.stop()

    def wait(self, timeout: float) -> bool:
        """True while still playing (waits up to `timeout` seconds)."""
        return not self.player.join(timeout if timeout > 0 else 0.001)

    def finish(self, timeout: float = 5.0) -> bool:
        """Ask the output thread to send its stop frame and end; False if it did not."""
        self.player.stop()
        return self.player.join(timeout)

    # -- the operator's keys ---------------------------------------------------------------
    def key(self, ch: str) -> bool:
        """Handle one operator key as a command; False to quit."""
        if ch == "q":
            self.player.stop()
            return False
        command = self._key_command(ch)
        if command is not None:
            self.submit(command)
        return True

    def _key_command(self, ch: str) -> Command | None:
        snap = self.engine.snapshot()
        simple = {"g": CommandKind.GO, " ": CommandKind.GO, "h": CommandKind.HOLD}
        if ch in simple:
            return Command(kind=simple[ch], origin="keys")
        if ch == "b":
            return Command(kind=CommandKind.BLACKOUT, args=(not snap.blackout,), origin="keys")
        if ch in "+-" and ch:
            step = 0.1 if ch == "+" else -0.1
            level = min(1.0, max(0.0, round(snap.master + step, 2)))
            return Command(kind=CommandKind.MASTER, args=(level,), origin="keys")
        if ch in ("n", "p"):
            names = [c.name for c in self.playback.cues]
            current = names.index(snap.cue) if snap.cue in names else -1
            target = current + (1 if ch == "n" else -1)
            if 0 <= target < len(names):
                return Command(kind=CommandKind.GOTO, args=(names[target],), origin="keys")
        return None

    # -- what the operator sees ------------------------------------------------------------
    def last_message(self) -> str:
        outcomes = self.engine.outcomes()
        if not outcomes:
            return ""
        o = outcomes[-1]
        return f"{o.command.describe()}: {o.message}" + ("" if o.accepted else " (refused)")

    def status_text(self) -> str:
        s = self.engine.statistics()
        pb = s.playback
        late = lateness_summary(self.player.lateness[-400:])["p99"]
        flags = " BLACKOUT" if pb.blackout else ""
        wait = f" waiting at {pb.waiting_at} (GO)" if pb.waiting_at else ""
        return (
            f"{self.job.plan.venue} {pb.state.value.upper()}{flags}{wait}  t={pb.position:7.2f}s  "
            f"cue {pb.cue or '-'} -> {pb.next_cue or '-'}  master {pb.master:.0%}  "
            f"sent {s.frames_sent} dropped {s.frames_dropped} late-p99 {late:.2f}ms  "
            f"{self.last_message()}"
        )

    def report(self) -> dict[str, Any]:
        s = self.engine.statistics()
        out: dict[str, Any] = {
            "venue": self.job.plan.venue,
            "state": s.playback.state.value,
            "position_s": round(s.playback.position, 3),
            "frames_sent": s.frames_sent,
            "frames_dropped": s.frames_dropped,
            "grid": describe_grid(self.grid),
            # see DropRecord in controller.runtime.engine
            "drops": [list(d) for d in self.engine.drops[:100]],
            "late_frames": s.late_frames,
            "lateness_ms": lateness_summary(self.player.lateness),
            "realtime": self.player.realtime_status,
            "outputs": [
                {
                    "name": o.name,
                    "frames": o.frames,
                    "packets": o.packets,
                    "errors": o.errors,
                    "up": o.up,
                    "last_error": o.last_error,
                    "warnings": list(o.warnings),
                }
                for o in s.outputs
            ],
            "commands": [
                {
                    "command": o.command.describe(),
                    "origin": o.command.origin,
                    "accepted": o.accepted,
                    "message": o.message,
                    "tick": o.tick,
                }
                for o in self.engine.outcomes()
            ],
        }
        if self.player.error is not None:
            out["error"] = f"{type(self.player.error).__name__}: {self.player.error}"
        elif not self.player.stopped_cleanly and not self.player.running:
            out["error"] = "the output thread ended without its stop frame"
        return out
