"""L1 turn pydantic validation errors into located diagnostics, and collect diagnostics.

Codes: S001 unknown key, S002 missing key, S003 wrong type or value. Unknown keys get a
"did you mean" from difflib against the model's field names.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from controller.errors import Diagnostic, Severity, ShowValidationError, SourceSpan
from controller.show.source import NodePath, Plain, SourceDoc

__all__ = ["DiagnosticSink", "did_you_mean", "validate_model"]

M = TypeVar("M", bound=BaseModel)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """` (did you mean 'x'?)` or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def known_list(choices: Iterable[str], limit: int = 8) -> str:
    items = sorted(set(choices))
    shown = ", ".join(repr(c) for c in items[:limit])
    more = f", ... ({len(items) - limit} more)" if len(items) > limit else ""
    return shown + more if items else "none"


@dataclass(slots=True)
class DiagnosticSink:
    """Collects diagnostics from many files; raises them all at once."""

    items: list[Diagnostic] = field(default_factory=list)

    def error(self, code: str, message: str, span: SourceSpan) -> None:
        self.items.append(Diagnostic(code=code, message=message, span=span))

    def error_once(self, code: str, message: str, span: SourceSpan) -> None:
        """An error, unless the same one (code and message) was reported already."""
        if not any(d.code == code and d.message == message for d in self.items):
            self.error(code, message, span)

    def warning(self, code: str, message: str, span: SourceSpan) -> None:
        self.items.append(
            Diagnostic(code=code, message=message, span=span, severity=Severity.WARNING)
        )

    def extend(self, items: Iterable[Diagnostic]) -> None:
        self.items.extend(items)

    @property
    def has_errors(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.items)

    def raise_if_errors(self) -> None:
        if self.has_errors:
            raise ShowValidationError(self.items)

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return tuple(
            sorted(
                (d for d in self.items if d.severity is Severity.WARNING),
                key=Diagnostic.sort_key,
            )
        )


def _data_path(data: Plain, loc: Sequence[int | str], *, key_last: bool) -> NodePath:
    """Follow pydantic's `loc` through the data, dropping union/validator tags.

    A part that is not in the data is a tag (`Target`, `constrained-str`, `float`, ...) and is
    skipped, except the last part of a missing- or unknown-key error (`key_last`): that one is
    the key, kept for the message.
    """
    out: list[str | int] = []
    node: Plain = data
    for n, part in enumerate(loc):
        if isinstance(node, dict) and isinstance(part, str) and part in node:
            out.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out.append(part)
            node = node[part]
        elif key_last and n == len(loc) - 1 and isinstance(node, dict):
            out.append(part)
    return tuple(out)


def _model_fields(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """Field names of the sub-model reached by `loc`, for did-you-mean."""
    current: type[BaseModel] | None = model
    for part in loc[:-1]:
        if current is None or not isinstance(part, str):
            continue
        info = current.model_fields.get(part)
        if info is None:
            continue  # a union tag or a mapping key (`venues.<id>`): same model
        current = _first_model(info.annotation)
    return list(current.model_fields) if current is not None else []


def _first_model(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _first_model(arg)
        if found is not None:
            return found
    return None


def _message(err_type: str, msg: str, value: object) -> str:
    msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    msg = msg[:1].lower() + msg[1:]
    if err_type in {"value_error", "assertion_error"}:
        return msg
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{msg} (got {shown})"


def validate_model(model: type[M], doc: SourceDoc, sink: DiagnosticSink) -> M | None:
    """Validate `doc.data` as `model`; on failure add located diagnostics and return None.

    A value that fits no member of a union gives one error per member: type mismatches at one
    place are merged into one message ("a valid number, or a valid string"), and a member's
    type mismatch is dropped when another member got further (an error deeper inside).
    """
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        errors = []
        for err in exc.errors(include_url=False):
            loc = tuple(err["loc"])
            kind = err["type"]
            path = _data_path(doc.data, loc, key_last=kind in {"missing", "extra_forbidden"})
            errors.append((loc, kind, path, err))
        deeper = {path[:n] for _, _, path, _ in errors for n in range(len(path))}
        seen: set[tuple[NodePath, str]] = set()
        merged: dict[NodePath, int] = {}  # path -> index in `found` of its type mismatch
        found: list[tuple[str, str, SourceSpan, NodePath]] = []
        for loc, kind, path, err in errors:
            if kind == "extra_forbidden":
                key = str(path[-1]) if path else "?"
                fields = _model_fields(model, [p for p in loc if isinstance(p, str | int)])
                hint = did_you_mean(key, fields)
                allowed = f"; allowed: {', '.join(fields)}" if fields and not hint else ""
                code, text, span = (
                    "S001",
                    f"unknown key {key!r}{hint}{allowed}",
                    doc.span(path, key=True),
                )
            elif kind == "missing":
                key = str(loc[-1])
                code, text, span = "S002", f"missing required key {key!r}", doc.span(path[:-1])
            else:
                label = ".".join(str(p) for p in path) or "document"
                if kind.endswith("_type") and path in deeper:
                    continue  # another union member matched the type and failed further in
                if kind.endswith("_type") and path in merged:
                    i = merged[path]
                    alt = err["msg"].removeprefix("Input should be ")
                    head, sep, got = found[i][1].rpartition(" (got ")
                    found[i] = (found[i][0], f"{head}, or {alt}{sep}{got}", *found[i][2:])
                    continue
                text = f"{label}: {_message(kind, err['msg'], err.get('input'))}"
                code, span = "S003", doc.span(path)
                if kind.endswith("_type"):
                    merged[path] = len(found)
            if (path, text) not in seen:
                seen.add((path, text))
                found.append((code, text, span, path))
        for code, text, span, _ in found:
            sink.error(code, text, span)
        return None
