"""L0 error tree, source spans and diagnostics shared by every layer.

Rules:
- Input data never raises a bare builtin: loaders raise `ShowValidationError` with every
  `Diagnostic` collected and sorted; protocol decoders raise `ProtocolError` subclasses.
- Messages start lowercase, carry no trailing period, and name value and allowed range.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "ArgumentError",
    "ControllerError",
    "Diagnostic",
    "LocalProtocolError",
    "PatchError",
    "ProtocolError",
    "RemoteProtocolError",
    "Severity",
    "ShowError",
    "ShowValidationError",
    "SourceSpan",
    "TransportError",
    "Truncated",
]


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class SourceSpan:
    """A 1-based position in a source file."""

    path: str
    line: int = 1
    column: int = 1
    end_line: int | None = None
    end_column: int | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True, kw_only=True)
class Diagnostic:
    """One problem found in user input, located at `span`."""

    code: str
    message: str
    span: SourceSpan
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        return f"{self.span}: {self.severity}[{self.code}]: {self.message}"

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.span.path, self.span.line, self.span.column, self.code, self.message)


class ControllerError(Exception):
    """Base of every error citypulse raises on purpose."""


class ArgumentError(ControllerError):
    """A value given for `option` (a CLI option or a key of a file) that does not fit."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option


class ShowError(ControllerError):
    """A problem in a show, rig or profile file; carries where it is."""

    def __init__(self, message: str, *, span: SourceSpan, code: str = "E000") -> None:
        self.span = span
        self.code = code
        self.message = message
        super().__init__(f"{span}: error[{code}]: {message}")


class ShowValidationError(ShowError):
    """Every diagnostic found in one load, sorted by (path, line, column)."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        ordered = tuple(sorted(diagnostics, key=Diagnostic.sort_key))
        if not ordered:
            msg = "ShowValidationError needs at least one diagnostic"
            raise ValueError(msg)
        self.diagnostics = ordered
        first = ordered[0]
        super().__init__(first.message, span=first.span, code=first.code)
        self.args = ("\n".join(str(d) for d in ordered),)

    def __str__(self) -> str:
        return "\n".join(str(d) for d in self.diagnostics)

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.ERROR)


class PatchError(ControllerError):
    """A patch that cannot be realised (overlap, address past the universe end)."""


class ProtocolError(ControllerError):
    """Abstract: bytes that violate a wire protocol."""


class LocalProtocolError(ProtocolError):
    """We were asked to encode something the protocol forbids."""


class RemoteProtocolError(ProtocolError):
    """A peer sent bytes that are not a valid packet."""


class Truncated(RemoteProtocolError):  # noqa: N818 - mirrors mqtt5/h11 naming
    """Input ended before the packet did."""


class TransportError(ControllerError):
    """An I/O endpoint failed (open, send, receive)."""
