"""`citypulse schema show|rig|profile`: valid Draft 2020-12 schemas that accept our files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from ruamel.yaml import YAML

from controller.cli import main

ROOT = Path(__file__).resolve().parents[2]
VENUE = ROOT / "tests" / "data" / "venue"


def _files() -> list[tuple[str, Path]]:
    out = [("show", VENUE / "shows" / "mini.yaml"), ("rig", VENUE / "rigs" / "mini.yaml")]
    out += [("profile", p) for p in sorted((VENUE / "profiles").glob("*.yaml"))]
    night = ROOT / "shows" / "digital-night.yaml"
    if night.is_file():
        out.append(("show", night))
    out += [("rig", p) for p in sorted((ROOT / "fixtures" / "rigs").glob("*.yaml"))]
    out += [("profile", p) for p in sorted((ROOT / "fixtures" / "profiles").glob("*.yaml"))]
    return out


FILES = _files()


def schema(kind: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["schema", kind]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    loaded = json.loads(out)
    assert isinstance(loaded, dict)
    return loaded


@pytest.mark.parametrize("kind", ["show", "rig", "profile"])
def test_schema_is_a_valid_draft_2020_12_schema(
    kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    s = schema(kind, capsys)
    Draft202012Validator.check_schema(s)
    assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert s["$id"].endswith(f"/{kind}.json")
    assert s["type"] == "object"
    assert s["additionalProperties"] is False


@pytest.mark.parametrize(("kind", "path"), FILES, ids=[str(p.relative_to(ROOT)) for _, p in FILES])
def test_schema_accepts_every_sample_file(
    kind: str, path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    errors = sorted(
        Draft202012Validator(schema(kind, capsys)).iter_errors(data), key=lambda e: e.path
    )
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        pytest.param("show", {"name": "x", "duration": 1, "venues": {}, "bogus": 1}, id="show"),
        pytest.param(
            "profile", {"name": "x", "modes": [{"name": "m", "channels": ["rde"]}]}, id="profile"
        ),
        pytest.param(
            "rig",
            {
                "venue": {"id": "v", "name": "V", "city": "C", "timezone": "UTC",
                          "origin": {"lat": 0, "lon": 0}},
                "fixtures": [{"id": "a", "profile": "p", "position": [0, 0, 0]}],
                "outputs": [{"protocol": "sacn", "universes": "one"}],
            },
            id="rig",
        ),
    ],
)  # fmt: skip
def test_schema_rejects_an_obvious_mistake(
    kind: str, data: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert list(Draft202012Validator(schema(kind, capsys)).iter_errors(data))


def test_schema_shorthands_are_described(capsys: pytest.CaptureFixture[str]) -> None:
    v = Draft202012Validator(schema("rig", capsys))
    base = {
        "venue": {
            "id": "v",
            "name": "V",
            "city": "C",
            "timezone": "UTC",
            "origin": {"lat": 0, "lon": 0},
        },
        "fixtures": [{"id": "a", "profile": "p", "position": [0, 0, 0]}],
    }
    for universes in (5, "1-40", [1, "3-4"]):
        data = {**base, "outputs": [{"protocol": "sacn", "universes": universes}]}
        assert not list(v.iter_errors(data)), universes
    p = Draft202012Validator(schema("profile", capsys))
    assert not list(p.iter_errors({"name": "x", "modes": [{"name": "m", "channels": ["red"]}]}))


def test_unknown_schema_kind_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "venue"]) == 2
    assert "error[A001]" in capsys.readouterr().err
