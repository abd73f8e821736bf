"""Comments and docs cite standards by name and section, never a file the repository lacks."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).parents[2]
SCANNED = ("controller", "simulator", "tests", "docs", "shows", "fixtures", "scripts")
OUTSIDE_NOTES = "protocols" + ".md"  # the research notes the code was written from


def test_nothing_points_at_research_notes_outside_the_repository() -> None:
    assert not (ROOT / OUTSIDE_NOTES).exists()
    files = [ROOT / "README.md"]
    for top in SCANNED:
        files += [
            p for p in (ROOT / top).rglob("*") if p.is_file() and "__pycache__" not in p.parts
        ]
    hits = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in files
        for n, line in enumerate(path.read_bytes().decode("utf-8", "replace").splitlines(), 1)
        if OUTSIDE_NOTES in line
    ]
    assert hits == [], "cite the standard and its section instead (e.g. 'ANSI E1.31-2016 §6.7.2')"
