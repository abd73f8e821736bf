"""L7 operator commands over OSC: `/citypulse/go`, `/hold`, `/blackout i`, `/goto s`, `/master f`.

Addresses may carry a venue (`/citypulse/beijing/go`) to address one venue; commands for
another venue are ignored. Unknown addresses and wrong arguments are counted and reported
by the returned message, never raised: whatever arrives, a running show keeps running.
"""

from __future__ import annotations

from collections.abc import Callable

from controller.protocols import osc
from controller.runtime.engine import Engine
from controller.runtime.playback import CommandResult, Playback

__all__ = ["OscCommands"]


class OscCommands:
    def __init__(
        self, *, engine: Engine, venue: str, now: Callable[[], float], prefix: str = "/citypulse"
    ) -> None:
        self.engine = engine
        self.venue = venue
        self.now = now
        self.prefix = prefix
        self.accepted = 0
        self.refused = 0
        self.ignored = 0
        self.last: str = ""

    def __call__(self, message: osc.Message) -> None:
        parts = message.address.split("/")[1:]
        root = self.prefix.strip("/")
        if not parts or parts[0] != root:
            self._ignore(f"not a {self.prefix} address: {message.address}")
            return
        rest = parts[1:]
        if len(rest) == 2:
            if rest[0] != self.venue:
                self._ignore(f"for venue {rest[0]!r}")
                return
            rest = rest[1:]
        if len(rest) != 1:
            self._ignore(f"unknown address {message.address}")
            return
        action = self._action(rest[0], message.args)
        if isinstance(action, str):
            self.refused += 1
            self.last = action
            return
        result = self.engine.command(action, self.now())
        self.accepted += result.accepted
        self.refused += not result.accepted
        self.last = result.message

    def _ignore(self, why: str) -> None:
        self.ignored += 1
        self.last = why

    def _action(
        self, verb: str, args: tuple[object, ...]
    ) -> Callable[[Playback, float], CommandResult] | str:
        if verb == "go":
            return lambda p, t: p.go(t)
        if verb == "hold":
            return lambda p, t: p.hold(t)
        if verb == "blackout":
            on = bool(args[0]) if args else True
            return lambda p, t: p.set_blackout(t, on)
        if verb == "goto":
            if len(args) != 1 or not isinstance(args[0], str):
                return "goto needs one string argument: the cue name"
            cue = args[0]
            return lambda p, t: p.goto(t, cue)
        if verb == "master":
            if len(args) != 1 or not isinstance(args[0], int | float) or isinstance(args[0], bool):
                return "master needs one number 0..1"
            level = float(args[0])
            return lambda p, t: p.set_master(t, level)
        return f"unknown command {verb!r} (go, hold, blackout, goto, master)"
