"""Mutated shows and rigs: `load_show` returns or raises located diagnostics, nothing else.

Each example copies a sample show with its rig(s) and profiles into a fresh temporary
directory, applies a few random text-level or tree-level mutations to the show (and sometimes
to a rig or a profile), and loads it. The loader must either succeed or raise
`ShowValidationError` whose every diagnostic has a code, a message and a span inside a real
file; any other exception is a bug.
"""

from __future__ import annotations

import io
import math
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from controller.errors import ShowValidationError
from controller.render.effects import default_registry
from controller.show.load import LoadedShow, load_show

ROOT = Path(__file__).resolve().parents[2]
VENUE = ROOT / "tests" / "data" / "venue"
EFFECTS = default_registry()
CODE = re.compile(r"[ASYRP]\d{3}")


@dataclass(frozen=True)
class Sample:
    """A show and the directories (relative to `root`) that hold everything it uses."""

    root: Path
    show: str
    dirs: tuple[str, ...]
    max_examples: int


def _samples() -> list[Sample]:
    out = [Sample(VENUE, "shows/mini.yaml", ("shows", "rigs", "profiles"), 100)]
    if (ROOT / "shows" / "digital-night.yaml").is_file():  # being written: used when present
        # three city rigs through ruamel's pure-Python parser: ~0.7 s a load, so few examples
        out.append(Sample(ROOT, "shows/digital-night.yaml", ("shows", "fixtures"), 8))
    return out


SAMPLES = _samples()


def _copy_tree(sample: Sample, dest: Path) -> None:
    """Copy the sample's directories (YAML files and the media they name) under `dest`."""
    for d in sample.dirs:
        shutil.copytree(
            sample.root / d, dest / d, ignore=shutil.ignore_patterns("__pycache__", "*.py")
        )


# -- tree mutations -------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["go+5", "later-1", "ignition+x", "floods", "flood-01", "1-3", "#ff0000"])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
ODD_NUMBERS: list[object] = [-1, -1e9, 0, -0.0, 1e308, 10**30, 2**64, math.nan, math.inf]
ODD_NUMBERS += [-math.inf, "NaN", "nan", "inf", "-inf", "1e999", "12abc", ""]
odd_numbers = st.sampled_from(ODD_NUMBERS)

Node = dict[str, object] | list[object] | object


def _paths(node: Node, where: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    out = [where]
    if isinstance(node, dict):
        for k, v in node.items():
            out.extend(_paths(v, (*where, k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.extend(_paths(v, (*where, i)))
    return out


def _get(node: Node, path: tuple[str | int, ...]) -> Node:
    for part in path:
        node = node[part]  # type: ignore[index]
    return node


def _set(root: Node, path: tuple[str | int, ...], value: object) -> Node:
    if not path:
        return value
    parent = _get(root, path[:-1])
    parent[path[-1]] = value  # type: ignore[index]
    return root


def _mutate_tree(data: st.DataObject, tree: Node) -> Node:
    paths = _paths(tree)
    op = data.draw(st.sampled_from(["replace", "delete", "unknown-key", "number"]), label="tree op")
    if op == "replace":
        return _set(tree, data.draw(st.sampled_from(paths)), data.draw(json_values))
    if op == "number":
        numeric = [p for p in paths if isinstance(_get(tree, p), int | float)]
        if not numeric:
            return tree
        return _set(tree, data.draw(st.sampled_from(numeric)), data.draw(odd_numbers))
    containers = [p for p in paths if isinstance(_get(tree, p), dict | list) and _get(tree, p)]
    if op == "delete" and containers:
        parent = _get(tree, data.draw(st.sampled_from(containers)))
        if isinstance(parent, dict):
            del parent[data.draw(st.sampled_from(sorted(parent, key=str)))]
        elif isinstance(parent, list):
            del parent[data.draw(st.integers(0, len(parent) - 1))]
        return tree
    mappings = [p for p in paths if isinstance(_get(tree, p), dict)]
    if op == "unknown-key" and mappings:
        target = _get(tree, data.draw(st.sampled_from(mappings)))
        assert isinstance(target, dict)
        near = [f"{k}x" for k in target if isinstance(k, str)] or ["bogus"]
        key = data.draw(st.sampled_from(near) | st.text(min_size=1, max_size=8))
        target[key] = data.draw(json_values)
    return tree


# -- text mutations -------------------------------------------------------------------------

odd_chars = st.sampled_from(list(":-{}[]'\"\t #&*!%@|>,?\\\n0x")) | st.characters()


def _mutate_text(data: st.DataObject, text: str) -> str:
    lines = text.splitlines(keepends=True) or ["\n"]
    op = data.draw(
        st.sampled_from(["delete", "duplicate", "swap", "char", "colon", "truncate"]),
        label="text op",
    )
    i = data.draw(st.integers(0, len(lines) - 1), label="line")
    if op == "delete":
        del lines[i]
    elif op == "duplicate":
        lines.insert(i, lines[i])
    elif op == "swap":
        j = data.draw(st.integers(0, len(lines) - 1))
        lines[i], lines[j] = lines[j], lines[i]
    else:
        flat = "".join(lines)
        pos = data.draw(st.integers(0, len(flat)), label="pos")
        if op == "char":
            return flat[:pos] + data.draw(odd_chars) + flat[pos + 1 :]
        if op == "colon":
            return flat[:pos] + ": " + flat[pos:]
        return flat[:pos]
    return "".join(lines)


def _mutate_file(data: st.DataObject, path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    if data.draw(st.booleans(), label="tree level"):
        loader = YAML(typ="safe", pure=True)
        try:
            tree = loader.load(text)
        except Exception:  # a previous text mutation broke it: mutate the text instead
            tree = None
        if isinstance(tree, dict | list):
            tree = _mutate_tree(data, tree)
            buf = io.StringIO()
            YAML(typ="safe", pure=True).dump(tree, buf)
            path.write_text(buf.getvalue(), encoding="utf-8")
            return
    path.write_text(_mutate_text(data, text), encoding="utf-8")


def _check_diagnostics(exc: ShowValidationError) -> None:
    assert exc.errors, "raised without an error diagnostic"
    for d in exc.diagnostics:
        assert CODE.fullmatch(d.code), d
        assert d.message.strip(), d
        assert "\n" not in d.message, f"message spans lines: {d.message!r}"
        assert not d.message[0].isupper(), d
        assert not d.message.endswith("."), d
        assert d.span.line >= 1, d
        assert d.span.column >= 1, d
        where = Path(d.span.path)
        where = where if where.is_absolute() else Path.cwd() / where
        assert where.is_file(), f"span points at no file: {d}"
        n_lines = len(where.read_text(encoding="utf-8", errors="replace").splitlines())
        assert d.span.line <= n_lines + 1, f"span past the end of the file: {d}"


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.show for s in SAMPLES])
def test_mutated_show_loads_or_raises_located_diagnostics(sample: Sample, tmp_path: Path) -> None:
    # a snapshot taken once, so that files others edit meanwhile cannot make the draws flaky
    pristine = tmp_path / "pristine"
    _copy_tree(sample, pristine)
    assert isinstance(load_show(pristine / sample.show, EFFECTS), LoadedShow)

    @settings(
        max_examples=min(sample.max_examples, settings().max_examples),
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        with tempfile.TemporaryDirectory(prefix="citypulse-mut-") as tmp:
            dest = Path(tmp) / "copy"
            shutil.copytree(pristine, dest)
            show = dest / sample.show
            others = sorted(p for p in dest.rglob("*.yaml") if p != show)
            for _ in range(data.draw(st.integers(1, 3), label="mutations")):
                victim = show
                if others and data.draw(st.integers(0, 3), label="victim kind") == 0:
                    victim = data.draw(st.sampled_from(others), label="other file")
                _mutate_file(data, victim)
            try:
                loaded = load_show(show, EFFECTS)
            except ShowValidationError as exc:
                _check_diagnostics(exc)
            else:
                assert isinstance(loaded, LoadedShow)

    check()
