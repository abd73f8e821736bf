"""The references users read are generated from, or checked against, the code."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def _effects_table_module() -> object:
    spec = importlib.util.spec_from_file_location(
        "effects_table", ROOT / "shows/tools/effects_table.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shows_readme_effect_table_is_the_registry() -> None:
    table = _effects_table_module()
    text = (ROOT / "shows/README.md").read_text(encoding="utf-8")
    begin, end = text.index(table.BEGIN), text.index(table.END)  # type: ignore[attr-defined]
    block = text[begin + len(table.BEGIN) : end].strip()  # type: ignore[attr-defined]
    assert block == table.render().strip(), "run: python shows/tools/effects_table.py --write"  # type: ignore[attr-defined]


def test_every_command_the_readme_names_exists() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "controller", "--help"], capture_output=True, text=True, check=True
    ).stdout
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    named = {
        line.split()[2]
        for line in readme.splitlines()
        if line.startswith("$ citypulse ") and len(line.split()) > 2
    }
    assert named, "the README shows no commands"
    for command in named:
        assert f"    {command} " in out or f"    {command}\n" in out, command
