"""L1 parsed YAML documents kept on disk, keyed by the hash of their text.

ruamel.yaml's round-trip parser, which gives every node its line and column, is pure
Python: nine tenths of loading a show (0.25 s for the Digital Night on an idle core, 0.6 s
beside a playing show), paid again by every command and by every venue that restarts
mid-show. A document parsed once is kept here and read back in milliseconds.

Rules:
- The key is the sha256 of everything the result depends on: the text, the name its spans
  carry, the code that parses and converts (`controller/show/source.py` and this module, as
  bytes), ruamel.yaml's and Python's versions. A changed file, or changed parsing code, is
  a new key; a stale entry can never be read for it.
- Only documents that parsed are kept (an invalid file raises before it gets here).
- Entries are `marshal` data (plain types only: it builds no objects of ours and runs no
  code), written to a temporary file and renamed into place. An entry that does not read
  back is ignored and written anew; a cache that cannot be written is skipped. Nothing a
  user wrote is ever touched.
- `CITYPULSE_CACHE` names the directory (`off`: no cache); by default
  `$XDG_CACHE_HOME/citypulse/yaml` (or `~/.cache/...`).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import marshal
import os
import sys
from pathlib import Path
from typing import Any

from ruamel.yaml import __version__ as ruamel_version

from controller.errors import SourceSpan
from controller.files import write_atomic

__all__ = ["ENV", "cache_dir", "entry_key", "load", "store"]

ENV = "CITYPULSE_CACHE"
MARSHAL_VERSION = 4

_Span = tuple[str, int, int, int | None, int | None]


def cache_dir() -> Path | None:
    """Where entries live, or None when caching is off."""
    named = os.environ.get(ENV)
    if named is not None:
        return None if named.strip().lower() in ("", "off", "0", "no") else Path(named)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "citypulse" / "yaml"


@functools.cache
def _code_digest() -> bytes:
    h = hashlib.sha256()
    for module in ("source.py", "yaml_cache.py"):
        h.update((Path(__file__).parent / module).read_bytes())
    return h.digest()


def entry_key(text: str, shown: str) -> str:
    h = hashlib.sha256(_code_digest())
    for part in (ruamel_version, sys.version, shown):
        h.update(part.encode("utf-8", "surrogatepass") + b"\0")
    h.update(text.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def _spans(table: dict[tuple[str | int, ...], SourceSpan]) -> dict[Any, _Span]:
    return {k: (s.path, s.line, s.column, s.end_line, s.end_column) for k, s in table.items()}


def _unspans(table: dict[Any, _Span]) -> dict[tuple[str | int, ...], SourceSpan]:
    return {
        k: SourceSpan(path=p, line=line, column=col, end_line=el, end_column=ec)
        for k, (p, line, col, el, ec) in table.items()
    }


def load(key: str) -> tuple[Any, dict[Any, SourceSpan], dict[Any, SourceSpan]] | None:
    """(data, value spans, key spans) kept under `key`, or None."""
    directory = cache_dir()
    if directory is None:
        return None
    try:
        raw = (directory / key).read_bytes()
        got = marshal.loads(raw)
        stored_key, data, values, keys = got
        if stored_key != key:
            return None
        return data, _unspans(values), _unspans(keys)
    except (OSError, EOFError, ValueError, TypeError):
        return None


def store(
    key: str,
    data: Any,
    values: dict[tuple[str | int, ...], SourceSpan],
    keys: dict[tuple[str | int, ...], SourceSpan],
) -> None:
    """Keep a parsed document; any failure to write just leaves it out of the cache."""
    directory = cache_dir()
    if directory is None:
        return
    with contextlib.suppress(OSError, ValueError):
        blob = marshal.dumps((key, data, _spans(values), _spans(keys)), MARSHAL_VERSION)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(directory / key, blob, durable=False)  # made again if lost
