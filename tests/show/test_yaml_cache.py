"""Parsed YAML kept on disk by the hash of its text: the same document back, and a cache that
is corrupt, unwritable or switched off is never an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.errors import ShowValidationError
from controller.show import yaml_cache
from controller.show.source import SourceDoc, parse_yaml

TEXT = "name: Trio\nfps: 40\nvenues:\n  alpha: {rig: rigs/alpha.yaml}\ncues:\n  - {name: start, at: 0}\n"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv(yaml_cache.ENV, str(directory))
    return directory


def same(a: SourceDoc, b: SourceDoc) -> bool:
    return (a.path, a.data, a.value_spans, a.key_spans) == (
        b.path, b.data, b.value_spans, b.key_spans,
    )  # fmt: skip


def test_a_parsed_document_comes_back_whole_from_the_cache(cache: Path) -> None:
    first = parse_yaml(TEXT, "shows/trio.yaml")
    (entry,) = cache.iterdir()
    assert entry.name == yaml_cache.entry_key(TEXT, "shows/trio.yaml")
    kept = yaml_cache.load(entry.name)
    assert kept is not None
    assert (kept[0], kept[1], kept[2]) == (first.data, first.value_spans, first.key_spans)
    again = parse_yaml(TEXT, "shows/trio.yaml")
    assert same(first, again)
    assert str(again.span(("cues", 0, "at"))) == "shows/trio.yaml:6:23"


def test_the_key_changes_with_the_text_and_the_name_its_spans_carry(cache: Path) -> None:
    parse_yaml(TEXT, "a.yaml")
    parse_yaml(TEXT, "b.yaml")
    parse_yaml(TEXT.replace("40", "44"), "a.yaml")
    assert len(list(cache.iterdir())) == 3
    assert parse_yaml(TEXT, "b.yaml").value_spans[("fps",)].path == "b.yaml"


def test_an_invalid_document_is_not_kept(cache: Path) -> None:
    with pytest.raises(ShowValidationError):
        parse_yaml("a: [1, 2\n", "bad.yaml")
    assert not cache.exists() or not list(cache.iterdir())


def test_a_corrupt_entry_is_parsed_again_and_replaced(cache: Path) -> None:
    first = parse_yaml(TEXT, "t.yaml")
    entry = cache / yaml_cache.entry_key(TEXT, "t.yaml")
    for garbage in (b"", b"\x00garbage", entry.read_bytes()[:-7]):
        entry.write_bytes(garbage)
        assert same(parse_yaml(TEXT, "t.yaml"), first)
        assert yaml_cache.load(entry.name) is not None  # written anew


def test_an_entry_under_another_key_is_not_believed(cache: Path) -> None:
    parse_yaml(TEXT, "t.yaml")
    parse_yaml("x: 1\n", "t.yaml")
    right = cache / yaml_cache.entry_key(TEXT, "t.yaml")
    wrong = cache / yaml_cache.entry_key("x: 1\n", "t.yaml")
    right.write_bytes(wrong.read_bytes())  # the name says one text, the content another
    assert yaml_cache.load(right.name) is None
    assert parse_yaml(TEXT, "t.yaml").data == {
        "name": "Trio", "fps": 40, "venues": {"alpha": {"rig": "rigs/alpha.yaml"}},
        "cues": [{"name": "start", "at": 0}],
    }  # fmt: skip


def test_an_unwritable_cache_or_none_at_all_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    monkeypatch.setenv(yaml_cache.ENV, str(blocked / "cache"))
    assert parse_yaml(TEXT, "t.yaml").data["fps"] == 40
    monkeypatch.setenv(yaml_cache.ENV, "off")
    assert yaml_cache.cache_dir() is None
    assert parse_yaml(TEXT, "t.yaml").data["fps"] == 40
