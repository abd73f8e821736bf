"""L7 playback state machine: which show frame each output frame (tick) shows, and commands.

Rules:
- Pure: time is an argument, as a tick (the index of an output frame on the frame grid,
  see `controller.runtime.grid`). Show positions are whole show frames: frame n depicts
  show time n / fps, exactly the frame n that `citypulse render` writes.
- Time never goes backwards here: a call with an earlier tick than one already seen is
  answered as of the latest tick (the engine prepares frame k + 1 before it delivers it).
- States: LOADED -> ARMED -> RUNNING <-> HELD -> ENDED. RUNNING advances one show frame
  per tick from an anchor (show frame f0 on tick k0).
- Reaching a cue with `hold: true` while RUNNING holds on the cue's frame until GO; GO
  resumes from there and the next hold is strictly later.
- GO (from ARMED or HELD) and GOTO/SEEK while RUNNING catch up: a command that executes
  on tick k but was due on an earlier tick e anchors at e, so a venue that heard it late
  shows the same frame as one that heard it on time. HOLD never goes back: it holds the
  frame of the tick it executes on, so show time on the wire never runs backwards except
  on GOTO or SEEK.
- BLACKOUT and the grand master are output overrides: they never move the show.
- After its last frame the show is ENDED, showing the last frame or black (`end_action`).
- Each command returns a `CommandResult`; refused commands change nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from controller.runtime.commands import Command, CommandKind, CommandResult

__all__ = ["CommandResult", "EndAction", "PlayState", "Playback", "PlaybackSnapshot"]


class PlayState(enum.StrEnum):
    LOADED = "loaded"
    ARMED = "armed"
    RUNNING = "running"
    HELD = "held"
    ENDED = "ended"


class EndAction(enum.StrEnum):
    BLACKOUT = "blackout"
    HOLD = "hold"  # keep the last look on the wire


@dataclass(frozen=True, slots=True)
class Cue:
    name: str
    frame: int
    hold: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackSnapshot:
    state: PlayState
    tick: int  # the output frame this describes
    frame: int  # the show frame on the wire at `tick`
    position: float  # show seconds: frame / fps
    anchor_frame: int  # show frame `anchor_frame` ...
    anchor_tick: int  # ... was (or is due) on tick `anchor_tick`
    cue: str | None  # last cue at or before the position
    next_cue: str | None
    blackout: bool
    master: float
    waiting_at: str | None  # hold cue the show waits at
    version: int  # bumps on every accepted command and automatic transition


class Playback:
    """Show frame per tick, driven by commands. Pure: ticks are passed in."""

    def __init__(
        self,
        *,
        fps: int,
        frame_count: int,
        cues: Sequence[tuple[str, float, bool]] = (),
        end_action: EndAction = EndAction.BLACKOUT,
    ) -> None:
        if frame_count < 1 or fps < 1:
            msg = f"frame_count={frame_count!r} and fps={fps!r} must be positive"
            raise ValueError(msg)
        self.fps = fps
        self.frame_count = frame_count
        self.cues = tuple(
            sorted((Cue(n, self.frame_of(t), h) for n, t, h in cues), key=lambda c: c.frame)
        )
        self.end_action = end_action
        self.state = PlayState.LOADED
        self._f0 = 0  # show frame at the anchor
        self._k0 = 0  # anchor tick
        self._tick: int | None = None  # the latest tick seen
        self.blackout = False
        self.master = 1.0
        self.version = 0

    def frame_of(self, seconds: float) -> int:
        """The show frame nearest `seconds`, within the show."""
        return min(max(round(seconds * self.fps), 0), self.frame_count - 1)

    # -- position ------------------------------------------------------------------------
    def _seen(self, tick: int) -> int:
        if self._tick is None or tick > self._tick:
            self._tick = tick
        return self._tick

    def _next_hold(self, after: int) -> Cue | None:
        return next((c for c in self.cues if c.hold and c.frame > after), None)

    def _limit(self) -> tuple[int, Cue | None]:
        hold = self._next_hold(self._f0)
        return (hold.frame, hold) if hold is not None else (self.frame_count, None)

    def frame(self, tick: int) -> int:
        """The show frame on the wire at `tick` (does not change state; see `update`)."""
        tick = max(tick, self._tick if self._tick is not None else tick)
        if self.state is not PlayState.RUNNING:
            return min(self._f0, self.frame_count - 1)
        limit, _ = self._limit()
        return min(self._f0 + max(0, tick - self._k0), limit, self.frame_count - 1)

    def update(self, tick: int) -> PlayState:
        """Apply automatic transitions (hold at a hold cue, end) due by `tick`."""
        tick = self._seen(tick)
        if self.state is PlayState.RUNNING:
            limit, hold = self._limit()
            if self._f0 + (tick - self._k0) >= limit:
                self._k0 += limit - self._f0  # the tick the limit was reached on
                if hold is not None:
                    self._f0, self.state = hold.frame, PlayState.HELD
                else:
                    self._f0, self.state = self.frame_count - 1, PlayState.ENDED
                self.version += 1
        return self.state

    def snapshot(self, tick: int) -> PlaybackSnapshot:
        self.update(tick)
        tick = self._seen(tick)
        frame = self.frame(tick)
        cue = next((c.name for c in reversed(self.cues) if c.frame <= frame), None)
        nxt = next((c.name for c in self.cues if c.frame > frame), None)
        waiting = None
        if self.state is PlayState.HELD:
            waiting = next((c.name for c in self.cues if c.hold and c.frame == frame), None)
        return PlaybackSnapshot(
            state=self.state, tick=tick, frame=frame, position=frame / self.fps,
            anchor_frame=self._f0, anchor_tick=self._k0, cue=cue, next_cue=nxt,
            blackout=self.blackout, master=self.master, waiting_at=waiting, version=self.version,
        )  # fmt: skip

    def output_dark(self, tick: int) -> bool:
        """True when the wire must be black: blackout, or ended with end_action blackout."""
        state = self.update(tick)
        return self.blackout or (state is PlayState.ENDED and self.end_action is EndAction.BLACKOUT)

    # -- commands ------------------------------------------------------------------------
    def apply(self, command: Command, tick: int, exec_tick: int | None = None) -> CommandResult:
        """Execute `command` on `tick`; it was due on `exec_tick` (None or later: `tick`)."""
        self.update(tick)
        tick = self._seen(tick)
        due = tick if exec_tick is None else min(exec_tick, tick)
        kind, args = command.kind, command.args
        if kind is CommandKind.ARM:
            result = self._arm(tick)
        elif kind is CommandKind.GO:
            result = self._go(tick, due)
        elif kind is CommandKind.RESUME:
            result = (
                self._go(tick, due)
                if self.state is PlayState.HELD
                else CommandResult(False, f"cannot RESUME while {self.state.value}; only when held")
            )
        elif kind is CommandKind.HOLD:
            result = self._hold(tick)
        elif kind is CommandKind.GOTO:
            result = self._goto(tick, due, str(args[0]))
        elif kind is CommandKind.SEEK:
            result = self._seek(tick, due, float(args[0]))
        elif kind is CommandKind.ADOPT:
            result = self._adopt(tick, str(args[0]), int(args[1]), int(args[2]))
        elif kind is CommandKind.BLACKOUT:
            self.blackout = bool(args[0])
            result = self._ok("blackout on" if self.blackout else "blackout off")
        else:
            self.master = float(args[0])
            result = self._ok(f"grand master {self.master:.0%}")
        self.update(tick)
        return result

    def _ok(self, message: str) -> CommandResult:
        self.version += 1
        return CommandResult(True, message)

    def _arm(self, tick: int) -> CommandResult:
        if self.state in (PlayState.RUNNING, PlayState.HELD):
            return CommandResult(False, f"cannot arm while {self.state.value}; stop first")
        self.state, self._f0, self._k0 = PlayState.ARMED, 0, tick
        return self._ok("armed at the top of the show")

    def _go(self, tick: int, due: int) -> CommandResult:
        if self.state in (PlayState.ARMED, PlayState.HELD):
            verb = "go" if self.state is PlayState.ARMED else "resume"
            # Catch up: anchored on the tick it was due, never before the show stopped.
            self._k0 = max(due, self._k0)
            self.state = PlayState.RUNNING
            late = tick - self._k0
            return self._ok(
                f"{verb} from {self._f0 / self.fps:.3f} s"
                + (f" ({late} frames late)" if late else "")
            )
        if self.state is PlayState.RUNNING:
            return CommandResult(False, "already running")
        return CommandResult(False, f"cannot GO while {self.state.value}; arm the show first")

    def _hold(self, tick: int) -> CommandResult:
        if self.state is not PlayState.RUNNING:
            return CommandResult(False, f"cannot HOLD while {self.state.value}")
        self._f0, self._k0, self.state = self.frame(tick), tick, PlayState.HELD
        return self._ok(f"held at {self._f0 / self.fps:.3f} s")

    def _jump(self, tick: int, due: int, frame: int) -> None:
        self._f0 = frame
        self._k0 = due if self.state is PlayState.RUNNING else tick
        if self.state is PlayState.ENDED:
            self.state = PlayState.HELD

    def _goto(self, tick: int, due: int, name: str) -> CommandResult:
        target = next((c for c in self.cues if c.name == name), None)
        if target is None:
            known = ", ".join(c.name for c in self.cues) or "none"
            return CommandResult(False, f"unknown cue {name!r} (cues: {known})")
        if self.state is PlayState.LOADED:
            return CommandResult(False, "arm the show before GOTO")
        self._jump(tick, due, target.frame)
        return self._ok(f"goto {name} at {target.frame / self.fps:.3f} s ({self.state.value})")

    def _adopt(self, tick: int, state: str, frame: int, anchor_tick: int) -> CommandResult:
        """Take another playback's state and anchor (late join, or healing a missed command)."""
        if frame >= self.frame_count:
            return CommandResult(False, f"frame={frame} is past the show's last frame")
        self.state = PlayState(state)
        self._f0, self._k0 = frame, anchor_tick
        return self._ok(
            f"adopt {state} at {frame / self.fps:.3f} s (anchored on tick {anchor_tick})"
        )

    def _seek(self, tick: int, due: int, seconds: float) -> CommandResult:
        duration = self.frame_count / self.fps
        if not 0.0 <= seconds <= duration:
            return CommandResult(False, f"position={seconds!r} outside 0..{duration:g} s")
        if self.state is PlayState.LOADED:
            return CommandResult(False, "arm the show before seeking")
        frame = self.frame_of(seconds)
        self._jump(tick, due, frame)
        return self._ok(f"seek to {frame / self.fps:.3f} s ({self.state.value})")
