"""L1 YAML source documents that remember where every key and value stands.

`read_yaml` parses with ruamel.yaml's round-trip loader (which records line/column for
every node), converts the tree into plain Python data, and keeps two span maps keyed by the
node's path (a tuple of keys and indexes): one for values, one for mapping keys. Later
stages (pydantic validation, reference checks) report problems by path; `SourceDoc.span`
turns a path back into `file:line:col`, falling back to the nearest located ancestor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeAlias

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError

from controller.errors import Diagnostic, ShowValidationError, SourceSpan

__all__ = ["NodePath", "Plain", "SourceDoc", "display_path", "read_yaml"]

NodePath: TypeAlias = tuple[str | int, ...]
Plain: TypeAlias = "dict[str, Plain] | list[Plain] | str | int | float | bool | None"

MAX_FILE_BYTES = 32 * 1024 * 1024
# Nodes after alias expansion: a file without aliases has fewer than one per two bytes, so
# only an alias bomb reaches MAX_EXTRA_NODES + len(text) // 2 (a second of work, not hours).
MAX_EXTRA_NODES = 100_000


class _TooManyNodesError(Exception):
    """The alias-expanded document outgrew its node budget."""


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


def _convert(node: object, where: NodePath, doc: SourceDoc, budget: list[int]) -> Plain:
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooManyNodesError
    if isinstance(node, CommentedMap):
        out: dict[str, Plain] = {}
        for k, v in node.items():
            key = str(k)
            child = (*where, key)
            kl, kc, vl, vc = _positions(node, k)
            doc.key_spans[child] = _span(doc.path, kl, kc)
            doc.value_spans[child] = _span(doc.path, vl, vc)
            out[key] = _convert(v, child, doc, budget)
        return out
    if isinstance(node, CommentedSeq):
        items: list[Plain] = []
        for i, v in enumerate(node):
            child = (*where, i)
            il, ic, _, _ = _positions(node, i)
            doc.value_spans[child] = _span(doc.path, il, ic)
            items.append(_convert(v, child, doc, budget))
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
        if path.stat().st_size > MAX_FILE_BYTES:
            raise _fail(shown, "Y003", f"file is larger than {MAX_FILE_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise _fail(shown, "Y003", "file not found") from exc
    except UnicodeDecodeError as exc:
        raise _fail(shown, "Y003", f"file is not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise _fail(shown, "Y003", f"cannot read file: {exc.strerror or exc}") from exc
    except ValueError as exc:  # e.g. an embedded NUL byte in the name
        raise _fail(shown, "Y003", f"cannot read file: {exc}") from exc
    return parse_yaml(text, shown)


def parse_yaml(text: str, shown: str) -> SourceDoc:
    """Parse YAML text that came from `shown`, keeping positions."""
    yaml = YAML(typ="rt", pure=True)
    yaml.allow_duplicate_keys = False
    try:
        tree = yaml.load(text)
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
    except RecursionError as exc:
        raise _fail(shown, "Y001", "invalid YAML: nested too deeply") from exc
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
        doc.data = _convert(tree, (), doc, [limit])
    except _TooManyNodesError as exc:
        message = f"document expands to more than {limit} nodes through aliases"
        raise _fail(shown, "Y001", message) from exc
    except RecursionError as exc:
        raise _fail(shown, "Y001", "invalid YAML: nested too deeply") from exc
    return doc


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
