"""L7 operator commands as values: what to do, to what, when, and who asked.

Rules:
- Every operator action (keys, OSC, the auto-go of a hold, and later MQTT and the console)
  is a `Command`: kind, typed arguments, an id, its origin and an execution time `exec_at`
  on the venue's frame grid (`None`: as soon as possible). Commands are plain data: they
  cross threads and processes as dicts (`as_dict` / `Command.from_dict`).
- A command is validated once, when it is built; `from_dict` turns anything a peer sent
  into a `Command` or a `CommandError` naming the field, never another exception.
- Which state a command is accepted in is `Playback`'s business, not this module's.
"""

from __future__ import annotations

import enum
import itertools
import math
from dataclasses import dataclass, field
from typing import Any

from controller.errors import ControllerError

__all__ = [
    "DELIVERY_KINDS",
    "POSITION_KINDS",
    "Command",
    "CommandError",
    "CommandKind",
    "CommandOutcome",
    "CommandResult",
]


class CommandError(ControllerError):
    """A command that cannot be built: unknown kind, wrong arguments, bad field."""


class CommandKind(enum.StrEnum):
    ARM = "arm"
    GO = "go"  # start from ARMED, or resume from HELD
    RESUME = "resume"  # only from HELD
    HOLD = "hold"
    GOTO = "goto"  # args: (cue name,)
    SEEK = "seek"  # args: (show seconds,)
    BLACKOUT = "blackout"  # args: (on,)
    MASTER = "master"  # args: (level 0..1,)
    ADOPT = "adopt"  # args: (state, anchor frame, anchor tick): take the conductor's state


# Kinds that move the show position. Only they can change the frame of the tick they
# execute on (ARM, GOTO, SEEK, a late GO): applied when a frame is prepared.
POSITION_KINDS = frozenset(
    {
        CommandKind.ARM,
        CommandKind.GO,
        CommandKind.RESUME,
        CommandKind.HOLD,
        CommandKind.GOTO,
        CommandKind.SEEK,
        CommandKind.ADOPT,
    }
)

# Kinds that never change the frame of the tick they execute on (output overrides, and HOLD,
# which holds the frame of that tick): applied when a frame is prepared or delivered,
# whichever comes first, so they reach the very next frame on the wire.
DELIVERY_KINDS = frozenset({CommandKind.BLACKOUT, CommandKind.MASTER, CommandKind.HOLD})

_ids = itertools.count(1)


def _check_args(kind: CommandKind, args: tuple[Any, ...]) -> None:
    """Raise CommandError unless `args` are exactly what `kind` takes."""
    if kind in (CommandKind.ARM, CommandKind.GO, CommandKind.RESUME, CommandKind.HOLD):
        if args:
            raise CommandError(f"{kind.value} takes no arguments, got {len(args)}")
        return
    if kind is CommandKind.ADOPT:
        _check_adopt(args)
        return
    if len(args) != 1:
        raise CommandError(f"{kind.value} takes one argument, got {len(args)}")
    (value,) = args
    if kind is CommandKind.GOTO:
        if not isinstance(value, str) or not value:
            raise CommandError(f"goto takes a cue name, got {value!r}")
    elif kind is CommandKind.BLACKOUT:
        if not isinstance(value, bool):
            raise CommandError(f"blackout takes true or false, got {value!r}")
    else:  # MASTER, SEEK: a finite number
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise CommandError(f"{kind.value} takes a number, got {value!r}")
        if kind is CommandKind.MASTER and not 0.0 <= value <= 1.0:
            raise CommandError(f"master={value!r} out of range 0..1")
        if kind is CommandKind.SEEK and value < 0.0:
            raise CommandError(f"seek={value!r} must not be negative")


_ADOPTABLE = ("armed", "running", "held", "ended")


def _check_adopt(args: tuple[Any, ...]) -> None:
    if len(args) != 3:
        raise CommandError(f"adopt takes a state, a frame and a tick, got {len(args)} arguments")
    state, frame, tick = args
    if state not in _ADOPTABLE:
        raise CommandError(f"adopt: state={state!r} is not one of {', '.join(_ADOPTABLE)}")
    for name, value in (("frame", frame), ("tick", tick)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise CommandError(f"adopt: {name}={value!r} must be a whole number")
    if frame < 0:
        raise CommandError(f"adopt: frame={frame!r} must not be negative")


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """One operator action. `exec_at` is a time on the venue's frame grid, or None (now)."""

    kind: CommandKind
    args: tuple[str | float | bool, ...] = ()
    id: str = field(default_factory=lambda: f"c{next(_ids)}")
    origin: str = "local"
    exec_at: float | None = None
    force: bool = False  # start even though a venue is in holdover (the operator insists)

    def __post_init__(self) -> None:
        if not isinstance(self.kind, CommandKind):
            raise CommandError(f"kind={self.kind!r} is not a command")
        _check_args(self.kind, self.args)
        if self.exec_at is not None and not math.isfinite(self.exec_at):
            raise CommandError(f"exec_at={self.exec_at!r} must be a finite time")
        if not self.id or not self.origin:
            raise CommandError("a command needs a non-empty id and origin")

    @property
    def moves_position(self) -> bool:
        return self.kind in POSITION_KINDS

    @property
    def at_delivery(self) -> bool:
        """May execute when a frame is delivered (see `DELIVERY_KINDS`)."""
        return self.kind in DELIVERY_KINDS

    def describe(self) -> str:
        """As an operator types it: `GO`, `GOTO finale`, `BLACKOUT on`, `MASTER 0.5`."""
        args = " ".join(
            ("on" if a else "off") if isinstance(a, bool) else str(a) for a in self.args
        )
        return f"{self.kind.value.upper()}{' ' + args if args else ''}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "args": list(self.args),
            "id": self.id,
            "origin": self.origin,
            "exec_at": self.exec_at,
            "force": self.force,
        }

    @classmethod
    def from_dict(cls, data: object) -> Command:
        """Build a command from what a peer sent; raises CommandError naming the field."""
        if not isinstance(data, dict):
            raise CommandError(f"a command is an object, got {type(data).__name__}")
        unknown = sorted(set(data) - {"kind", "args", "id", "origin", "exec_at", "force"})
        if unknown:
            raise CommandError(f"unknown field {unknown[0]!r}")
        raw_kind = data.get("kind")
        try:
            kind = CommandKind(str(raw_kind))
        except ValueError:
            kinds = ", ".join(k.value for k in CommandKind)
            raise CommandError(f"kind={raw_kind!r} is not one of {kinds}") from None
        args = data.get("args", [])
        exec_at = data.get("exec_at")
        if not isinstance(args, list):
            raise CommandError(f"args must be a list, got {type(args).__name__}")
        if exec_at is not None and (
            isinstance(exec_at, bool) or not isinstance(exec_at, int | float)
        ):
            raise CommandError(f"exec_at must be a number or null, got {exec_at!r}")
        ident, origin = data.get("id"), data.get("origin")
        if not isinstance(ident, str) or not isinstance(origin, str):
            raise CommandError("id and origin must be strings")
        force = data.get("force", False)
        if not isinstance(force, bool):
            raise CommandError(f"force must be true or false, got {force!r}")
        return cls(
            kind=kind,
            args=tuple(args),
            id=ident,
            origin=origin,
            exec_at=None if exec_at is None else float(exec_at),
            force=force,
        )


@dataclass(frozen=True, slots=True)
class CommandResult:
    accepted: bool
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandOutcome:
    """What became of a command: applied on frame `tick` (None if refused before that)."""

    command: Command
    accepted: bool
    message: str
    tick: int | None
    position: float | None  # show seconds after it applied
