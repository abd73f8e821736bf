"""pyproject.toml uses the metadata forms current setuptools reads without deprecation."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_license_is_an_spdx_string_and_the_build_backend_reads_it() -> None:
    """PEP 639: `license` is an SPDX expression; a TOML table is deprecated (setuptools 77)."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert data["project"]["license"] == "MIT"
    assert "setuptools>=77" in data["build-system"]["requires"]  # first to accept the string
