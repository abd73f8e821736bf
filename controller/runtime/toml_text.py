"""L7 the small part of TOML 1.0 that credential files need, beyond the stdlib's reader.

`tomllib` parses but forgets positions, and the stdlib cannot write TOML. This module writes
strings and keys (TOML 1.0, "Strings": basic strings escape `"`, `\\` and control
characters) and finds where each `key = value` of a simple file stands, so a check after
parsing can still point at `file:line:col`. The locator understands `[table]` headers and
`key = value` lines (bare or quoted keys), which is all `citypulse bus init` writes; a line
it does not understand is simply not located.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass

__all__ = ["KeyPosition", "locate_keys", "syntax_position", "toml_key", "toml_string"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")  # TOML 1.0, "Keys": bare keys
_KEY = r'(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\')'
_ASSIGN = re.compile(rf"(\s*)({_KEY})\s*=\s*")
_TABLE = re.compile(rf"\s*\[\s*({_KEY})\s*\]\s*(?:#.*)?$")
_AT = re.compile(r"\(at line (\d+), column (\d+)\)$")
# TOML 1.0, "String": the short escapes; other control characters take \uXXXX
_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def toml_string(value: str) -> str:
    """`value` as a TOML basic string (non-ASCII text stays as UTF-8).

    Raises:
        ValueError: `value` holds a lone surrogate (such as an undecodable file name), which
            TOML cannot hold, escaped or not (TOML 1.0: "Unicode scalar value").
    """
    out = []
    for ch in value:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif 0xD800 <= ord(ch) <= 0xDFFF:
            raise ValueError(f"{value!r} is not Unicode text (lone surrogate)")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_key(key: str) -> str:
    """A bare key when TOML allows one, else a quoted key."""
    return key if _BARE_KEY.fullmatch(key) else toml_string(key)


@dataclass(frozen=True, slots=True)
class KeyPosition:
    """1-based line, and columns of the key and of its value."""

    line: int
    key_column: int
    value_column: int


def _lines(text: str) -> list[str]:
    """TOML 1.0, "Spec": a newline is LF or CRLF (not the other breaks `splitlines` knows)."""
    return [line.removesuffix("\r") for line in text.split("\n")]


def _unquote(key: str) -> str:
    if key[0] in "\"'":
        try:
            parsed = tomllib.loads(f"k = {key}")["k"]
        except tomllib.TOMLDecodeError:
            return key
        return str(parsed)
    return key


def locate_keys(text: str) -> dict[tuple[str, ...], KeyPosition]:
    """Where each top-level `key` and each `[table]` `key` is: {(key,) or (table, key): pos}.

    A table header is recorded as (table,) at its line.
    """
    found: dict[tuple[str, ...], KeyPosition] = {}
    table: tuple[str, ...] = ()
    for number, line in enumerate(_lines(text), start=1):
        header = _TABLE.match(line)
        if header is not None:
            table = (_unquote(header.group(1)),)
            col = line.index("[") + 1
            found.setdefault(table, KeyPosition(number, col, col))
            continue
        assign = _ASSIGN.match(line)
        if assign is not None:
            path = (*table, _unquote(assign.group(2)))
            pos = KeyPosition(number, len(assign.group(1)) + 1, assign.end() + 1)
            found.setdefault(path, pos)
    return found


def syntax_position(exc: tomllib.TOMLDecodeError, text: str) -> tuple[int, int, str]:
    """(line, column, message without the position) of a `tomllib` syntax error."""
    message = str(exc)
    at = _AT.search(message)
    if at is not None:
        return int(at.group(1)), int(at.group(2)), message[: at.start()].rstrip()
    if message.endswith("(at end of document)"):
        lines = _lines(text.removesuffix("\n"))
        return len(lines), len(lines[-1]) + 1, message.removesuffix("(at end of document)").rstrip()
    return 1, 1, message
