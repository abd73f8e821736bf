"""The position-keeping YAML reader: plain data, key/value spans, Y00x diagnostics."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.errors import ShowValidationError, SourceSpan
from controller.show.source import MAX_FILE_BYTES, SourceDoc, display_path, parse_yaml, read_yaml

TEXT = """\
# a comment line
name: Mini
venues:
  mini: {rig: ../rigs/mini.yaml, intensity: 0.5}
cues:
  - {name: start, at: 0}
  - name: go
    at: go+5
flags: [true, null, 1.5, 7, "x"]
"""


def doc() -> SourceDoc:
    return parse_yaml(TEXT, "show.yaml")


def span(line: int, column: int) -> SourceSpan:
    return SourceSpan(path="show.yaml", line=line, column=column)


def error_of(text: str, shown: str = "x.yaml") -> ShowValidationError:
    with pytest.raises(ShowValidationError) as info:
        parse_yaml(text, shown)
    return info.value


def test_data_is_plain_python() -> None:
    d = doc().data
    assert d == {
        "name": "Mini",
        "venues": {"mini": {"rig": "../rigs/mini.yaml", "intensity": 0.5}},
        "cues": [{"name": "start", "at": 0}, {"name": "go", "at": "go+5"}],
        "flags": [True, None, 1.5, 7, "x"],
    }
    assert isinstance(d, dict)
    assert type(d["venues"]) is dict
    assert type(d["cues"]) is list
    assert type(d["name"]) is str


def test_value_spans_are_one_based_and_point_at_the_value() -> None:
    d = doc()
    assert d.span(("name",)) == span(2, 7)
    assert d.span(("venues", "mini", "rig")) == span(4, 15)
    assert d.span(("venues", "mini", "intensity")) == span(4, 45)
    assert d.span(("cues", 1)) == span(7, 5)
    assert d.span(("cues", 1, "at")) == span(8, 9)
    assert d.span(("flags", 2)) == span(9, 21)


def test_key_spans_point_at_the_key() -> None:
    d = doc()
    assert d.span(("name",), key=True) == span(2, 1)
    assert d.span(("venues", "mini", "intensity"), key=True) == span(4, 34)
    assert d.span(("cues", 1, "at"), key=True) == span(8, 5)


def test_unknown_path_falls_back_to_nearest_located_ancestor() -> None:
    d = doc()
    assert d.span(("cues", 1, "hold")) == d.span(("cues", 1))
    assert d.span(("cues", 9, "at")) == d.span(("cues",))
    assert d.span(("nowhere", "deep")) == SourceSpan(path="show.yaml")


def test_key_span_of_an_item_falls_back_to_its_value_span() -> None:
    d = doc()
    assert d.span(("cues", 0), key=True) == d.span(("cues", 0))


def test_graft_copies_spans_under_a_new_path() -> None:
    main = doc()
    part = parse_yaml("tracks:\n  - name: shared\n    clips: []\n", "part.yaml")
    main.graft(part, ("tracks", 0), ("tracks", 3))
    assert main.span(("tracks", 3, "name")) == SourceSpan(path="part.yaml", line=2, column=11)
    assert main.span(("tracks", 3, "name"), key=True).path == "part.yaml"
    assert main.span(("tracks", 3)) == SourceSpan(path="part.yaml", line=2, column=5)
    assert ("tracks", 0) not in main.value_spans


def test_empty_document_is_none() -> None:
    d = parse_yaml("# nothing\n", "e.yaml")
    assert d.data is None
    assert d.span(()) == SourceSpan(path="e.yaml")


def test_scalars_of_other_types_become_strings() -> None:
    d = parse_yaml("when: 2001-12-14\nblob: !!binary aGk=\nn: 0x10\n", "t.yaml").data
    assert isinstance(d, dict)
    assert d["when"] == "2001-12-14"
    assert isinstance(d["blob"], str)
    assert d["n"] == 16


def test_merge_keys_resolve_with_positions() -> None:
    d = parse_yaml("base: &b {rig: r.yaml}\nv:\n  <<: *b\n  intensity: 1\n", "m.yaml")
    assert d.data == {"base": {"rig": "r.yaml"}, "v": {"rig": "r.yaml", "intensity": 1}}
    assert d.span(("v", "intensity")) == SourceSpan(path="m.yaml", line=4, column=14)
    merged = d.span(("v", "rig"))
    assert merged.line >= 1
    assert merged.column >= 1


def test_tagged_collections_do_not_break_positions() -> None:
    d = parse_yaml("a: !!omap\n  - x: 1\n  - y: 2\nb: !!set {p, q}\n", "t.yaml")
    assert isinstance(d.data, dict)
    assert d.span(("a",)).line == 1


def test_complex_keys_become_strings() -> None:
    d = parse_yaml("? [x, y]\n: 1\n", "k.yaml").data
    assert isinstance(d, dict)
    assert list(d.values()) == [1]


def test_syntax_error_is_y001_at_the_problem_with_its_context() -> None:
    exc = error_of("name: x\nvenues: {a: 1\ncues: []\n")
    (d,) = exc.diagnostics
    assert d.code == "Y001"
    assert (d.span.line, d.span.column) == (3, 5)
    assert "while parsing a flow mapping at line 2, column 9" in d.message


def test_unterminated_quote_names_where_it_started() -> None:
    (d,) = error_of('name: "open\nfps: 4\n').diagnostics
    assert d.code == "Y001"
    assert "quoted scalar at line 1, column 7" in d.message


def test_tab_indentation_is_y001() -> None:
    (d,) = error_of("venues:\n\tmini: 1\n").diagnostics
    assert d.code == "Y001"
    assert (d.span.line, d.span.column) == (2, 1)
    assert "'\\t'" in d.message


def test_duplicate_key_is_y002_at_the_second_key() -> None:
    (d,) = error_of("a: 1\nb: 2\na: 3\n").diagnostics
    assert d.code == "Y002"
    assert d.message == "duplicate key 'a'"
    assert (d.span.line, d.span.column) == (3, 1)


def test_control_character_is_y001_at_its_position() -> None:
    (d,) = error_of("name: x\nnote: a\x07b\n").diagnostics
    assert (d.code, d.span.line, d.span.column) == ("Y001", 2, 8)
    assert d.message == "unacceptable character #x0007: special characters are not allowed"


def test_unhashable_complex_key_is_y001() -> None:
    (d,) = error_of("? - {a: 1}\n: 2\n").diagnostics
    assert d.code == "Y001"
    assert d.message.startswith("invalid YAML: unsupported complex mapping key")


def test_two_documents_are_a_syntax_error() -> None:
    (d,) = error_of("a: 1\n---\nb: 2\n").diagnostics
    assert d.code == "Y001"


def test_deep_nesting_is_y001_where_it_passes_the_limit() -> None:
    text = "".join(" " * i + "a:\n" for i in range(400)) + " " * 400 + "1\n"
    (d,) = error_of(text).diagnostics
    assert (d.code, d.message) == ("Y001", "nested more than 100 levels deep")
    assert (d.span.line, d.span.column) == (101, 101)


def test_deep_flow_nesting_is_y001_where_it_passes_the_limit() -> None:
    (d,) = error_of("a: 1\nb: " + "[" * 5000 + "]" * 5000 + "\n").diagnostics
    assert (d.code, d.message) == ("Y001", "nested more than 100 levels deep")
    assert (d.span.line, d.span.column) == (2, 4 + 100)


def test_nesting_through_aliases_is_reported_at_the_alias() -> None:
    deep = "[" * 60 + "1" + "]" * 60
    (d,) = error_of(f"a: &a {deep}\nb:\n  x: [{deep[:50]}*a{deep[-50:]}]\n").diagnostics
    assert (d.code, d.message) == ("Y001", "nested more than 100 levels deep")
    assert (d.span.line, d.span.column) == (3, 56)  # the sequence holding *a


def test_a_byte_order_mark_inside_the_file_is_y001_where_it_stands() -> None:
    (d,) = error_of("name: x\nb: 1\n\ufeffc: 2\nd: [1,\n 2]\n" + "e: 1\n" * 5).diagnostics
    assert (d.code, d.span.line, d.span.column) == ("Y001", 3, 1)
    assert (
        d.message == "byte-order mark (U+FEFF) inside the file; only its first character may be one"
    )


def test_a_byte_order_mark_inside_a_string_is_y001_too() -> None:
    (d,) = error_of('name: "x\ufeffy"\n').diagnostics
    assert (d.code, d.span.line, d.span.column) == ("Y001", 1, 9)


def test_a_leading_byte_order_mark_is_fine() -> None:
    assert parse_yaml("\ufeffname: x\n", "b.yaml").data == {"name": "x"}


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for prev, name in zip("abcdefg", "bcdefgh", strict=True):
        lines.append(f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]")
    started = time.process_time()
    (d,) = error_of("\n".join(lines) + "\n").diagnostics
    assert d.code == "Y001"
    assert "through aliases" in d.message
    assert time.process_time() - started < 10
    assert (d.span.line, d.span.column) == (6, 4)  # f: &f [*e, ...] passes the budget


def test_missing_file_is_y003(tmp_path: Path) -> None:
    with pytest.raises(ShowValidationError) as info:
        read_yaml(tmp_path / "nope.yaml")
    (d,) = info.value.diagnostics
    assert (d.code, d.message) == ("Y003", "file not found")
    assert (d.span.line, d.span.column) == (1, 1)


def test_non_utf8_file_is_y003_at_the_first_bad_byte(tmp_path: Path) -> None:
    p = tmp_path / "latin1.yaml"
    p.write_bytes("# \u00fcber\nname: caf\xe9\n".encode()[:-3] + b"\xe9\n")
    with pytest.raises(ShowValidationError) as info:
        read_yaml(p)
    (d,) = info.value.diagnostics
    assert (d.code, d.span.line, d.span.column) == ("Y003", 2, 10)
    assert d.message == "file is not UTF-8 text: byte 0xe9 (invalid continuation byte)"


def test_fifo_is_y003_and_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "show.yaml"
    os.mkfifo(fifo)

    def unblock() -> None:  # before the fix the read waits for a writer: give it EOF
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    timer = threading.Timer(5.0, unblock)
    timer.start()
    try:
        with pytest.raises(ShowValidationError) as info:
            read_yaml(fifo)
    finally:
        timer.cancel()
    (d,) = info.value.diagnostics
    assert (d.code, d.message) == ("Y003", "not a regular file (a FIFO)")


_READ_DEV_ZERO_UNDER_1_GB = """
import resource
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from pathlib import Path
from controller.errors import ShowValidationError
from controller.show.source import read_yaml
try:
    read_yaml(Path("/dev/zero"))
except ShowValidationError as exc:
    print(exc)
"""


def test_device_is_y003_and_is_not_read() -> None:
    """Before the fix this read /dev/zero until memory ran out (here: 1 GB, in a child)."""
    done = subprocess.run(
        [sys.executable, "-c", _READ_DEV_ZERO_UNDER_1_GB],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stderr == ""
    assert done.stdout == "/dev/zero:1:1: error[Y003]: not a regular file (a character device)\n"


def test_file_over_the_size_cap_is_y003(tmp_path: Path) -> None:
    p = tmp_path / "big.yaml"
    with p.open("wb") as fh:
        fh.truncate(MAX_FILE_BYTES + 1)  # sparse: no disk used
    with pytest.raises(ShowValidationError) as info:
        read_yaml(p)
    (d,) = info.value.diagnostics
    assert (d.code, d.message) == ("Y003", "file is larger than 32 MB (33,554,433 bytes)")


def test_directory_is_y003(tmp_path: Path) -> None:
    with pytest.raises(ShowValidationError) as info:
        read_yaml(tmp_path)
    assert info.value.diagnostics[0].code == "Y003"
    assert info.value.diagnostics[0].message == "not a regular file (a directory)"


@pytest.mark.parametrize(
    "name", ["a\0b.yaml", "x" * 300 + ".yaml"], ids=["nul-byte", "name-too-long"]
)
def test_unusable_file_name_is_y003(tmp_path: Path, name: str) -> None:
    with pytest.raises(ShowValidationError) as info:
        read_yaml(tmp_path / name)
    assert info.value.diagnostics[0].code == "Y003"


def test_read_yaml_reports_the_path_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "shows").mkdir()
    p = tmp_path / "shows" / "a.yaml"
    p.write_text("name: a\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert read_yaml(p).path == os.path.join("shows", "a.yaml")
    assert display_path(Path("/") / "elsewhere" / "b.yaml") == "/elsewhere/b.yaml"


scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=8),
)
plain = st.recursive(
    scalar,
    lambda inner: (
        st.lists(inner, min_size=1, max_size=3)
        | st.dictionaries(
            st.text(st.characters(categories=["Ll"]), min_size=1, max_size=6),
            inner,
            min_size=1,
            max_size=3,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=min(50, settings().max_examples))  # ruamel's pure parser is slow
@given(data=st.dictionaries(st.text("abc", min_size=1, max_size=4), plain, min_size=1))
def test_every_node_has_a_span_inside_the_text(data: dict[str, object]) -> None:
    text = json.dumps(data, indent=1, ensure_ascii=False)  # JSON is YAML, one node a line
    d = parse_yaml(text, "g.yaml")
    n_lines = text.count("\n") + 1

    def walk(node: object, where: tuple[str | int, ...]) -> None:
        if where:
            s = d.value_spans[where]
            assert 1 <= s.line <= n_lines
            assert s.column >= 1
        if isinstance(node, dict):
            for k, v in node.items():
                assert d.key_spans[(*where, k)].line >= 1
                walk(v, (*where, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, (*where, i))

    assert d.data == data
    walk(d.data, ())
