"""L7 playback state machine: where the show is at any moment, and the operator's commands.

Rules:
- Time is an argument (`now`, monotonic seconds); nothing here reads a clock.
- States: LOADED -> ARMED -> RUNNING <-> HELD -> ENDED. RUNNING advances show position one
  second per second from an anchor (position p0 at time a0). GO may be scheduled for a
  future time (a shared start across venues): until then the position stays at the start.
- Reaching a cue with `hold: true` while RUNNING holds exactly at the cue's time until GO;
  GO resumes from there and the next hold is strictly later.
- GOTO jumps to a cue, keeping RUNNING or HELD; BLACKOUT is an output override that can
  be set in any state and does not move the show; the grand master scales output.
- At the end the show is ENDED, showing its last look or black (`end_action`).
- Each command returns a `CommandResult`; refused commands change nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

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
    t: float
    hold: bool


@dataclass(frozen=True, slots=True)
class CommandResult:
    accepted: bool
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackSnapshot:
    state: PlayState
    position: float
    cue: str | None  # last cue at or before the position
    next_cue: str | None
    blackout: bool
    master: float
    waiting_at: str | None  # hold cue the show waits at
    version: int  # bumps on every accepted command


class Playback:
    """Show position over time, driven by commands. Pure: time is passed in."""

    def __init__(
        self,
        *,
        duration: float,
        cues: Sequence[tuple[str, float, bool]] = (),
        end_action: EndAction = EndAction.BLACKOUT,
    ) -> None:
        if duration <= 0:
            msg = f"duration={duration!r} must be positive"
            raise ValueError(msg)
        self.duration = duration
        self.cues = tuple(sorted((Cue(n, t, h) for n, t, h in cues), key=lambda c: c.t))
        self.end_action = end_action
        self.state = PlayState.LOADED
        self._p0 = 0.0  # position at anchor
        self._a0 = 0.0  # anchor time
        self.blackout = False
        self.master = 1.0
        self.version = 0

    # -- position ------------------------------------------------------------------------
    def _next_hold(self, after: float) -> Cue | None:
        return next((c for c in self.cues if c.hold and c.t > after), None)

    def _limit(self) -> tuple[float, Cue | None]:
        hold = self._next_hold(self._p0)
        if hold is not None and hold.t < self.duration:
            return hold.t, hold
        return self.duration, None

    def position(self, now: float) -> float:
        """Show time at `now` (does not change state; see `update`)."""
        if self.state is not PlayState.RUNNING:
            return self._p0
        limit, _ = self._limit()
        return min(self._p0 + max(0.0, now - self._a0), limit)

    def update(self, now: float) -> PlayState:
        """Apply automatic transitions (hold at a hold cue, end) due by `now`."""
        if self.state is PlayState.RUNNING:
            limit, hold = self._limit()
            pos = self._p0 + max(0.0, now - self._a0)
            if pos >= limit:
                self._p0 = limit
                self._a0 = now
                self.state = PlayState.HELD if hold is not None else PlayState.ENDED
                self.version += 1
        return self.state

    def snapshot(self, now: float) -> PlaybackSnapshot:
        self.update(now)
        pos = self.position(now)
        cue = next((c.name for c in reversed(self.cues) if c.t <= pos), None)
        nxt = next((c.name for c in self.cues if c.t > pos), None)
        waiting = None
        if self.state is PlayState.HELD:
            waiting = next((c.name for c in self.cues if c.hold and abs(c.t - pos) < 1e-9), None)
        return PlaybackSnapshot(
            state=self.state, position=pos, cue=cue, next_cue=nxt, blackout=self.blackout,
            master=self.master, waiting_at=waiting, version=self.version,
        )  # fmt: skip

    # -- commands ------------------------------------------------------------------------
    def _ok(self, message: str) -> CommandResult:
        self.version += 1
        return CommandResult(True, message)

    def arm(self, now: float) -> CommandResult:
        self.update(now)
        if self.state in (PlayState.RUNNING, PlayState.HELD):
            return CommandResult(False, f"cannot arm while {self.state.value}; stop first")
        self.state = PlayState.ARMED
        self._p0, self._a0 = 0.0, now
        return self._ok("armed at the top of the show")

    def go(self, now: float, *, at: float | None = None) -> CommandResult:
        """Start (from ARMED) or resume (from HELD), now or at monotonic time `at`."""
        self.update(now)
        start = now if at is None else at
        if self.state is PlayState.ARMED:
            self.state = PlayState.RUNNING
            self._a0 = start
            return self._ok(
                f"go from {self._p0:.3f} s" + (f" at {at:.3f}" if at is not None else "")
            )
        if self.state is PlayState.HELD:
            self.state = PlayState.RUNNING
            self._a0 = max(start, now)
            return self._ok(f"resume from {self._p0:.3f} s")
        if self.state is PlayState.RUNNING:
            return CommandResult(False, "already running")
        return CommandResult(False, f"cannot GO while {self.state.value}; arm the show first")

    def hold(self, now: float) -> CommandResult:
        self.update(now)
        if self.state is not PlayState.RUNNING:
            return CommandResult(False, f"cannot HOLD while {self.state.value}")
        self._p0 = self.position(now)
        self._a0 = now
        self.state = PlayState.HELD
        return self._ok(f"held at {self._p0:.3f} s")

    def goto(self, now: float, cue: str) -> CommandResult:
        self.update(now)
        target = next((c for c in self.cues if c.name == cue), None)
        if target is None:
            known = ", ".join(c.name for c in self.cues) or "none"
            return CommandResult(False, f"unknown cue {cue!r} (cues: {known})")
        if self.state is PlayState.LOADED:
            return CommandResult(False, "arm the show before GOTO")
        self._p0, self._a0 = target.t, now
        if self.state is PlayState.ENDED:
            self.state = PlayState.HELD
        return self._ok(f"goto {cue} at {target.t:.3f} s ({self.state.value})")

    def seek(self, now: float, position: float) -> CommandResult:
        """Jump to a show time (start mid-show, late join); keeps RUNNING or HELD."""
        self.update(now)
        if not 0.0 <= position <= self.duration:
            return CommandResult(False, f"position={position!r} outside 0..{self.duration:g} s")
        if self.state is PlayState.LOADED:
            return CommandResult(False, "arm the show before seeking")
        self._p0, self._a0 = position, now
        if self.state is PlayState.ENDED:
            self.state = PlayState.HELD
        return self._ok(f"seek to {position:.3f} s ({self.state.value})")

    def set_blackout(self, now: float, on: bool) -> CommandResult:
        self.blackout = on
        return self._ok("blackout on" if on else "blackout off")

    def set_master(self, now: float, level: float) -> CommandResult:
        if not 0.0 <= level <= 1.0:
            return CommandResult(False, f"master={level!r} out of range 0..1")
        self.master = level
        return self._ok(f"grand master {level:.0%}")

    def output_dark(self, now: float) -> bool:
        """True when the wire must be black: blackout, or ended with end_action blackout."""
        state = self.update(now)
        return self.blackout or (state is PlayState.ENDED and self.end_action is EndAction.BLACKOUT)
