"""L1 YAML source documents that remember where every key and value stands.

`read_yaml` parses with ruamel.yaml's round-trip loader (which records line/column for
every node), converts the tree into plain Python data, and keeps two span maps keyed by the
node's path (a tuple of keys and indexes): one for values, one for mapping keys. Later
stages (pydantic validation, reference checks) report problems by path; `SourceDoc.span`
turns a path back into `file:line:col`, falling back to the nearest located ancestor.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeAlias

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.composer import MaxDepthExceededError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError

from controller.errors import Diagnostic, ShowValidationError, SourceSpan
from controller.show import yaml_cache

__all__ = [
    "MAX_FILE_BYTES",
    "InputFileError",
    "NodePath",
    "Plain",
    "SourceDoc",
    "check_input_file",
    "display_path",
    "read_input_file",
    "read_yaml",
]

NodePath: TypeAlias = tuple[str | int, ...]
Plain: TypeAlias = "dict[str, Plain] | list[Plain] | str | int | float | bool | None"

MAX_FILE_BYTES = 32 * 1024 * 1024
# Nodes after alias expansion: a file without aliases has fewer than one per two bytes, so
# only an alias bomb reaches MAX_EXTRA_NODES + len(text) // 2 (a second of work, not hours).
MAX_EXTRA_NODES = 100_000
# Collections inside collections; a show needs about 8. The parser's composer recurses once
# per level, so a limit also keeps it far from Python's recursion limit.
MAX_DEPTH = 100
_BOM = "\ufeff"
_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class InputFileError(Exception):
    """A file that cannot be read as input; `message` says why (lowercase, no path)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _LocatedError(Exception):
    """A problem found while converting the tree, and where."""

    def __init__(self, message: str, span: SourceSpan) -> None:
        super().__init__(message)
        self.message = message
        self.span = span


def _size_text(n: int) -> str:
    return f"{n // (1024 * 1024)} MB" if n % (1024 * 1024) == 0 else f"{n:,} bytes"


def _fstat_problem(st: os.stat_result, max_bytes: int | None) -> str | None:
    if not stat.S_ISREG(st.st_mode):
        kind = next((k for test, k in _FILE_KINDS if test(st.st_mode)), "a special file")
        return f"not a regular file ({kind})"
    if max_bytes is not None and st.st_size > max_bytes:
        return f"file is larger than {_size_text(max_bytes)} ({st.st_size:,} bytes)"
    return None


def _open_regular(path: Path, max_bytes: int | None) -> int:
    """A descriptor of `path` when it is a readable regular file within `max_bytes`.

    Opened non-blocking, so a FIFO is refused instead of waiting for a writer, and checked
    with `fstat` on the open file, so what is checked is what is read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError as exc:
        raise InputFileError("file not found") from exc
    except IsADirectoryError as exc:
        raise InputFileError("not a regular file (a directory)") from exc
    except OSError as exc:
        raise InputFileError(f"cannot read file: {exc.strerror or exc}") from exc
    except ValueError as exc:  # an embedded NUL byte in the name
        raise InputFileError(f"cannot read file: {exc}") from exc
    problem = _fstat_problem(os.fstat(fd), max_bytes)
    if problem is not None:
        os.close(fd)
        raise InputFileError(problem)
    return fd


def check_input_file(path: Path, max_bytes: int | None = MAX_FILE_BYTES) -> None:
    """Raise `InputFileError` unless `path` is a readable regular file within `max_bytes`."""
    os.close(_open_regular(path, max_bytes))


def read_input_file(path: Path, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most `max_bytes` (never a FIFO or a device).

    Raises:
        InputFileError: missing, not a regular file, too large or unreadable.
    """
    fd = _open_regular(path, max_bytes)
    try:
        with os.fdopen(fd, "rb") as fh:
            data = fh.read(max_bytes + 1)  # the file may have grown since fstat
    except OSError as exc:
        raise InputFileError(f"cannot read file: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:
        raise InputFileError(f"file is larger than {_size_text(max_bytes)}")
    return data


def display_path(path: Path) -> str:
    """Path as users typed it: relative to the working directory when possible."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError, RuntimeError):  # elsewhere, NUL in the name, symlink loop
        return str(path)


@dataclass(slots=True)
class SourceDoc:
    """Plain data from one or more YAML files plus the span of every node."""

    path: str
    data: Plain
    value_spans: dict[NodePath, SourceSpan] = field(default_factory=dict)
    key_spans: dict[NodePath, SourceSpan] = field(default_factory=dict)

    def span(self, node: NodePath, *, key: bool = False) -> SourceSpan:
        """Span of `node` (its key when `key`), else of its nearest located ancestor."""
        if key and node in self.key_spans:
            return self.key_spans[node]
        probe = node
        while True:
            if probe in self.value_spans:
                return self.value_spans[probe]
            if probe in self.key_spans:
                return self.key_spans[probe]
            if not probe:
                return SourceSpan(path=self.path)
            probe = probe[:-1]

    def graft(self, other: SourceDoc, src: NodePath, dst: NodePath) -> None:
        """Copy the spans of `other` under `src` to this document under `dst`."""
        n = len(src)
        for table_src, table_dst in (
            (other.value_spans, self.value_spans),
            (other.key_spans, self.key_spans),
        ):
            for node, span in table_src.items():
                if node[:n] == src:
                    table_dst[dst + node[n:]] = span


def _span(path: str, line0: int, col0: int) -> SourceSpan:
    return SourceSpan(path=path, line=line0 + 1, column=col0 + 1)


def _positions(node: CommentedMap | CommentedSeq, k: object) -> tuple[int, int, int, int]:
    """0-based (key line, key col, value line, value col) of entry `k` of `node`.

    ruamel records no position for keys brought in by a `<<` merge (they stand in the
    anchored mapping) nor inside some tagged collections (`!!omap`); fall back to the merged
    mapping's record, then to where `node` itself starts.
    """
    merged = getattr(node, "merge", None) or ()  # maps, or (index, map) in older ruamel
    sources = [node, *(m[-1] if isinstance(m, tuple) else m for m in merged)]
    for src in sources:
        data = getattr(getattr(src, "lc", None), "data", None)
        if isinstance(data, dict) and k in data and len(data[k]) >= 2:
            pos = data[k]
            return (pos[0], pos[1], *(pos[2:4] if len(pos) >= 4 else pos[0:2]))
    line, col = node.lc.line or 0, node.lc.col or 0
    return line, col, line, col


@dataclass(slots=True)
class _Walk:
    """Conversion state: the node budget, and the collections already converted.

    A collection met a second time is an alias. ruamel records the anchored node's
    position for it, so an alias is located by where it is used: its mapping key, or the
    sequence holding it.
    """

    budget: int
    seen: set[int] = field(default_factory=set)


def _convert(
    node: object, where: NodePath, doc: SourceDoc, walk: _Walk, alias: SourceSpan | None
) -> Plain:
    walk.budget -= 1
    if walk.budget < 0:
        raise _LocatedError("", alias or doc.span(where))
    if len(where) > MAX_DEPTH:
        raise _LocatedError(f"nested more than {MAX_DEPTH} levels deep", alias or doc.span(where))
    if isinstance(node, CommentedMap):
        walk.seen.add(id(node))
        out: dict[str, Plain] = {}
        for k, v in node.items():
            key = str(k)
            child = (*where, key)
            kl, kc, vl, vc = _positions(node, k)
            doc.key_spans[child] = _span(doc.path, kl, kc)
            doc.value_spans[child] = _span(doc.path, vl, vc)
            inner = alias or (doc.key_spans[child] if id(v) in walk.seen else None)
            out[key] = _convert(v, child, doc, walk, inner)
        return out
    if isinstance(node, CommentedSeq):
        walk.seen.add(id(node))
        items: list[Plain] = []
        for i, v in enumerate(node):
            child = (*where, i)
            il, ic, _, _ = _positions(node, i)
            doc.value_spans[child] = _span(doc.path, il, ic)
            inner = alias or (doc.span(where) if id(v) in walk.seen else None)
            items.append(_convert(v, child, doc, walk, inner))
        return items
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return str(node)


def read_yaml(path: Path) -> SourceDoc:
    """Parse one YAML file, keeping positions.

    Raises:
        ShowValidationError: unreadable file or YAML syntax error (code Y001..Y003).
    """
    shown = display_path(path)
    try:
        data = read_input_file(path)
    except InputFileError as exc:
        raise _fail(shown, "Y003", exc.message) from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line0 = data.count(b"\n", 0, exc.start)
        start = data.rfind(b"\n", 0, exc.start) + 1
        col0 = len(data[start : exc.start].decode("utf-8"))  # valid up to exc.start
        message = f"file is not UTF-8 text: byte 0x{data[exc.start]:02x} ({exc.reason})"
        raise ShowValidationError(
            [Diagnostic(code="Y003", message=message, span=_span(shown, line0, col0))]
        ) from exc
    return parse_yaml(text, shown)


def parse_yaml(text: str, shown: str) -> SourceDoc:
    """Parse YAML text that came from `shown`, keeping positions (from `yaml_cache` when
    this very text was parsed before)."""
    key = yaml_cache.entry_key(text, shown)
    cached = yaml_cache.load(key)
    if cached is not None:
        data, values, keys = cached
        return SourceDoc(path=shown, data=data, value_spans=values, key_spans=keys)
    doc = _parse(text, shown)
    yaml_cache.store(key, doc.data, doc.value_spans, doc.key_spans)
    return doc


def _parse(text: str, shown: str) -> SourceDoc:
    _refuse_inner_bom(text, shown)
    yaml = YAML(typ="rt", pure=True)
    yaml.allow_duplicate_keys = False
    yaml.max_depth = MAX_DEPTH + 1  # its depth counts the node itself
    try:
        tree = yaml.load(text)
    except MaxDepthExceededError as exc:
        mark = exc.problem_mark
        line, col = (mark.line, mark.column) if mark is not None else (0, 0)
        message = f"nested more than {MAX_DEPTH} levels deep"
        raise ShowValidationError(
            [Diagnostic(code="Y001", message=message, span=_span(shown, line, col))]
        ) from exc
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line, mark.column) if mark is not None else (0, 0)
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        ctx = exc.context_mark
        if (
            exc.problem
            and exc.context
            and ctx is not None
            and (ctx.line, ctx.column) != (line, col)
        ):
            # e.g. an unclosed quote or bracket: the problem shows at the end, the cause here
            problem += f" ({exc.context.strip()} at line {ctx.line + 1}, column {ctx.column + 1})"
        code = "Y002" if "duplicate key" in str(exc) else "Y001"
        if code == "Y002":
            problem = "duplicate key " + _duplicate_key_name(str(exc))
        raise ShowValidationError(
            [Diagnostic(code=code, message=problem, span=_span(shown, line, col))]
        ) from exc
    except ReaderError as exc:  # a control character: ruamel gives an offset, not a mark
        pos = min(max(int(exc.position), 0), len(text))
        line = text.count("\n", 0, pos)
        col = pos - (text.rfind("\n", 0, pos) + 1)
        char = exc.character
        shown_char = f"#x{char:04x}" if isinstance(char, int) else repr(char)
        message = f"unacceptable character {shown_char}: {exc.reason}"
        raise ShowValidationError(
            [Diagnostic(code="Y001", message=message, span=_span(shown, line, col))]
        ) from exc
    except TypeError as exc:  # ruamel hashing a complex key such as `? [{a: 1}]`
        raise _fail(
            shown, "Y001", f"invalid YAML: unsupported complex mapping key ({exc})"
        ) from exc
    except (YAMLError, ValueError) as exc:
        raise _fail(shown, "Y001", f"invalid YAML: {exc}") from exc
    doc = SourceDoc(path=shown, data=None)
    doc.value_spans[()] = SourceSpan(path=shown)
    limit = MAX_EXTRA_NODES + len(text) // 2
    try:
        doc.data = _convert(tree, (), doc, _Walk(budget=limit), None)
    except _LocatedError as exc:
        message = exc.message or f"document expands to more than {limit} nodes through aliases"
        raise ShowValidationError(
            [Diagnostic(code="Y001", message=message, span=exc.span)]
        ) from exc
    return doc


def _refuse_inner_bom(text: str, shown: str) -> None:
    # YAML 1.2.2, 5.2 Character Encodings: a byte order mark may start a stream, but "a BOM
    # must not appear inside a document"; ruamel would take it as content and report a
    # confusing error lines later
    pos = text.find(_BOM, 1)
    if pos < 0:
        return
    line0 = text.count("\n", 0, pos)
    col0 = pos - (text.rfind("\n", 0, pos) + 1)
    message = "byte-order mark (U+FEFF) inside the file; only its first character may be one"
    raise ShowValidationError(
        [Diagnostic(code="Y001", message=message, span=_span(shown, line0, col0))]
    )


def _duplicate_key_name(text: str) -> str:
    marker = 'found duplicate key "'
    start = text.find(marker)
    if start < 0:
        return "in mapping"
    end = text.find('"', start + len(marker))
    return repr(text[start + len(marker) : end])


def _fail(shown: str, code: str, message: str) -> ShowValidationError:
    return ShowValidationError(
        [Diagnostic(code=code, message=message, span=SourceSpan(path=shown))]
    )
