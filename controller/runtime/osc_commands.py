"""L7 operator commands over OSC: a pure parser, and `OscCommands` applying them to an engine.

The grammar (`parse_osc_command`), where `[/VENUE]` addresses one venue and its absence
every venue, and type tags are OSC 1.0's (`h` and `d` are its 64-bit extensions):

    /citypulse[/VENUE]/go         no arguments; from a bundle, the show starts at its timetag
    /citypulse[/VENUE]/hold       no arguments
    /citypulse[/VENUE]/resume     no arguments; only from HELD
    /citypulse[/VENUE]/blackout   no argument (on), or one 0 or 1 as i, h, f or d, or T / F
    /citypulse[/VENUE]/master     one number 0..1 as i, h, f or d
    /citypulse[/VENUE]/goto       one non-empty string s: the cue name

Anything else is refused with a reason naming what the command takes and what it got
(`,s '0'`). A string is never read as a number or a flag: `/blackout "0"` is refused.
`OscCommands` ignores (counts, no log) addresses outside the prefix and commands for another
venue, refuses (counts, logs a warning) what does not parse or what the playback refuses,
and never raises: whatever arrives, a running show keeps running.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeAlias, get_args

from controller.protocols import osc
from controller.runtime.commands import Command, CommandKind

__all__ = ["PREFIX", "OscCommands", "ParsedCommand", "Verb", "parse_osc_command", "to_command"]

_log = logging.getLogger("citypulse.osc")

PREFIX = "/citypulse"
Verb: TypeAlias = Literal["blackout", "go", "goto", "hold", "master", "resume"]
_VERBS: dict[str, Verb] = {verb: verb for verb in get_args(Verb)}
_NUMBER_TAGS = "ihfd"  # OSC 1.0: int32, int64, float32, float64
_SHOWN_ARG = 40  # characters of an argument's repr quoted back in a refusal

_TAKES: dict[Verb, str] = {
    "go": "go takes no arguments",
    "hold": "hold takes no arguments",
    "resume": "resume takes no arguments",
    "blackout": "blackout takes no argument (on) or one 0/1 as i, h, f, d, T or F",
    "master": "master takes one number 0..1 as i, h, f or d",
    "goto": "goto takes one string (the cue name)",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedCommand:
    """A well-formed operator command: plain data, no reference to a playback."""

    verb: Verb
    venue: str | None = None  # the VENUE address part; None: every venue
    value: bool | float | str | None = None  # blackout: bool, master: float, goto: str


def _got(message: osc.Message) -> str:
    if not message.args:
        return "got no arguments"
    shown = []
    for arg in message.args:
        text = f"<{len(arg)}-byte blob>" if isinstance(arg, bytes) else repr(arg)
        shown.append(text if len(text) <= _SHOWN_ARG else text[: _SHOWN_ARG - 3] + "...")
    return f"got ,{message.type_tags} " + ", ".join(shown)


def _value(verb: Verb, message: osc.Message) -> bool | float | str | None:
    """The typed argument of `verb`, or raise ValueError when the arguments do not fit."""
    tags, args = message.type_tags, message.args
    if verb in ("go", "hold", "resume"):
        if not args:
            return None
    elif verb == "blackout":
        if not args:
            return True
        if tags in ("T", "F"):
            return tags == "T"
        if len(tags) == 1 and tags in _NUMBER_TAGS and args[0] in (0, 1):
            return args[0] == 1
    elif verb == "master":
        level = args[0] if len(tags) == 1 and tags in _NUMBER_TAGS else None
        if isinstance(level, int | float) and 0.0 <= level <= 1.0:  # False for NaN
            return float(level) + 0.0  # + 0.0 turns -0.0 into 0.0
    elif tags == "s" and isinstance(args[0], str) and args[0]:  # goto
        return args[0]
    raise ValueError(_TAKES[verb])


def parse_osc_command(message: osc.Message, *, prefix: str = PREFIX) -> ParsedCommand | str:
    """The command `message` carries, or why it is not one (pure: no playback, no clock)."""
    address = message.address
    if not address.startswith(prefix + "/") and address != prefix:
        return f"{address} is not under {prefix}"
    parts = address[len(prefix) + 1 :].split("/") if address != prefix else []
    if len(parts) not in (1, 2) or "" in parts:
        return f"unknown address {address} (want {prefix}/COMMAND or {prefix}/VENUE/COMMAND)"
    verb = _VERBS.get(parts[-1])
    if verb is None:
        return f"unknown command {parts[-1]!r} ({', '.join(_VERBS)})"
    try:
        value = _value(verb, message)
    except ValueError as exc:
        return f"{exc}, {_got(message)}"
    return ParsedCommand(verb=verb, venue=parts[0] if len(parts) == 2 else None, value=value)


_KINDS: dict[Verb, CommandKind] = {
    "go": CommandKind.GO,
    "resume": CommandKind.RESUME,
    "hold": CommandKind.HOLD,
    "blackout": CommandKind.BLACKOUT,
    "master": CommandKind.MASTER,
    "goto": CommandKind.GOTO,
}


def to_command(parsed: ParsedCommand, *, exec_at: float | None, origin: str = "osc") -> Command:
    """The `Command` a parsed OSC command stands for, due at grid time `exec_at`."""
    args = () if parsed.value is None else (parsed.value,)
    return Command(kind=_KINDS[parsed.verb], args=args, origin=origin, exec_at=exec_at)


class OscCommands:
    """`OscInput` handler: parse, filter by venue, submit as a `Command`, count.

    A bundle's timetag (`due`, on the local clock) becomes the command's `exec_at` on the
    venue's frame grid (`to_grid`), so every venue that receives the bundle executes it on
    the same frame. What the playback then makes of it is in the engine's outcomes.
    """

    def __init__(
        self,
        *,
        submit: Callable[[Command], None],
        venue: str,
        to_grid: Callable[[float], float],
        prefix: str = PREFIX,
    ) -> None:
        self.submit = submit
        self.venue = venue
        self.to_grid = to_grid
        self.prefix = prefix
        self.submitted = 0
        self.refused = 0
        self.ignored = 0
        self.last: str = ""

    def __call__(self, message: osc.Message, due: float | None = None) -> None:
        address = message.address
        if not (address == self.prefix or address.startswith(self.prefix + "/")):
            self._ignore(f"{address} is not under {self.prefix}")
            return
        parsed = parse_osc_command(message, prefix=self.prefix)
        if isinstance(parsed, str):
            self._refuse(address, parsed)
            return
        if parsed.venue is not None and parsed.venue != self.venue:
            self._ignore(f"for venue {parsed.venue!r}")
            return
        command = to_command(parsed, exec_at=None if due is None else self.to_grid(due))
        self.submit(command)
        self.submitted += 1
        self.last = f"{command.describe()} submitted"
        _log.info("osc %s: %s", address, self.last)

    def _ignore(self, why: str) -> None:
        self.ignored += 1
        self.last = why

    def _refuse(self, address: str, why: str) -> None:
        self.refused += 1
        self.last = why
        _log.warning("osc %s refused: %s", address, why)
