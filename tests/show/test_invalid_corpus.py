"""The invalid-file corpus: every file reports exactly the diagnostics its header names.

Each `tests/data/invalid/{shows,rigs,profiles}/*.yaml` starts with one line per expected
diagnostic: `# expect: LINE:COL CODE` for an error in the file itself,
`# expect: OTHER/FILE.yaml:LINE:COL CODE` for one in a file it uses (path relative to the
case), and `# warn: ...` for a warning. Fragments under `shows/parts/` (`*.part.yaml`) and
helper profiles under `rigs/profiles/` are not cases.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import pytest

from controller.cli import main
from controller.errors import Diagnostic, Severity, ShowValidationError
from controller.render.effects import default_registry
from controller.show.diagnostics import DiagnosticSink
from controller.show.load import load_profile, load_rig, load_show

CORPUS = Path(__file__).resolve().parents[1] / "data" / "invalid"
KINDS = ("shows", "rigs", "profiles")
CASES = sorted(
    p for kind in KINDS for p in (CORPUS / kind).glob("*.yaml") if not p.name.endswith(".part.yaml")
)
IDS = [f"{p.parent.name}/{p.name}" for p in CASES]
HEADER = re.compile(
    r"# (expect|warn): (?:(?P<file>\S+\.yaml):)?(?P<line>\d+):(?P<col>\d+) (?P<code>[A-Z]\d{3})"
)
CLI_LINE = re.compile(
    r"(?P<path>.+):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning)\[(?P<code>[A-Z]\d{3})\]: \S.*"
)
EFFECTS = default_registry()

Key = tuple[Path, int, int, str]

ALL_CODES = {
    "Y001", "Y002", "Y003",
    "S001", "S002", "S003",
    "S101", "S102", "S103", "S104", "S105", "S106", "S107", "S108", "S109", "S110", "S111",
    "S112", "S114",
    "R201", "R202", "R203", "R204", "R205", "R206", "R207", "R208", "R209", "R210", "R211",
    "R212",
    "P302", "P303", "P304",
}  # fmt: skip


def _expected(case: Path) -> tuple[set[Key], set[Key]]:
    errors: set[Key] = set()
    warnings: set[Key] = set()
    for line in case.read_text(encoding="utf-8").splitlines():
        m = HEADER.fullmatch(line.strip())
        if m is None:
            break
        where = (case.parent / m["file"]).resolve() if m["file"] else case.resolve()
        key = (where, int(m["line"]), int(m["col"]), m["code"])
        (errors if m[1] == "expect" else warnings).add(key)
    return errors, warnings


def _key(d: Diagnostic) -> Key:
    return (Path(d.span.path).resolve(), d.span.line, d.span.column, d.code)


@functools.cache
def _diagnostics(case: Path) -> tuple[Diagnostic, ...]:
    """What loading `case` reports (cached: diagnostics are immutable)."""
    kind = case.parent.name
    if kind == "shows":
        with pytest.raises(ShowValidationError) as info:
            load_show(case, EFFECTS)
        return info.value.diagnostics
    sink = DiagnosticSink()
    if kind == "rigs":
        load_rig(case, sink)
    else:
        load_profile(case, sink)
    return tuple(sink.items)


def _wrapper_show(case: Path, tmp: Path) -> Path:
    """A show that `citypulse check` can take, using the rig or profile under test."""
    kind = case.parent.name
    if kind == "shows":
        return case
    rig = case
    if kind == "profiles":
        rig = tmp / "rig.yaml"
        rig.write_text(
            json.dumps(
                {
                    "venue": {
                        "id": "wrap",
                        "name": "Wrapper",
                        "city": "Testville",
                        "timezone": "UTC",
                        "origin": {"lat": 0, "lon": 0},
                    },
                    "profiles": [str(case.parent)],
                    "fixtures": [{"id": "f", "profile": case.stem, "position": [0, 0, 0]}],
                }
            ),
            encoding="utf-8",
        )
    show = tmp / "show.yaml"
    show.write_text(
        json.dumps({"name": "wrapper", "duration": 10, "venues": {"v": {"rig": str(rig)}}}),
        encoding="utf-8",
    )
    return show


def test_corpus_is_big_enough_and_covers_every_code() -> None:
    assert len(CASES) >= 30
    covered = set()
    for case in CASES:
        errors, warnings = _expected(case)
        assert errors, f"{case.name}: no '# expect:' header"
        covered |= {k[3] for k in errors | warnings}
    assert covered >= ALL_CODES, f"codes without a case: {sorted(ALL_CODES - covered)}"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_invalid_file_reports_exactly_its_expected_diagnostics(case: Path) -> None:
    expected_errors, expected_warnings = _expected(case)
    found = _diagnostics(case)
    errors = {_key(d) for d in found if d.severity is Severity.ERROR}
    warnings = {_key(d) for d in found if d.severity is Severity.WARNING}
    assert errors == expected_errors, "\n".join(str(d) for d in found)
    assert warnings == expected_warnings, "\n".join(str(d) for d in found)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_invalid_file_messages_follow_the_style_guide(case: Path) -> None:
    for d in _diagnostics(case):
        assert d.message, d
        assert not d.message[0].isupper(), f"message starts uppercase: {d}"
        assert not d.message.endswith("."), f"message ends with a period: {d}"
        assert "\n" not in d.message, f"message spans lines: {d}"
        assert d.message == d.message.strip(), d


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_check_command_prints_each_diagnostic_and_exits_2(
    case: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expected_errors, _ = _expected(case)
    code = main(["check", str(_wrapper_show(case, tmp_path))])
    out, err = capsys.readouterr()
    assert code == 2
    assert "Traceback" not in out + err
    lines = err.splitlines()
    n = len(expected_errors)
    assert lines[-1] == f"citypulse: {n} error{'s' if n != 1 else ''}"
    printed: set[Key] = set()
    for line in lines[:-1]:
        m = CLI_LINE.fullmatch(line)
        assert m is not None, f"not a diagnostic line: {line!r}"
        if m["sev"] == "error":
            key = (Path(m["path"]).resolve(), int(m["line"]), int(m["col"]), m["code"])
            printed.add(key)
    assert printed == expected_errors
    for d in _diagnostics(case):
        if d.severity is Severity.ERROR:
            assert f"{d.span.path}:{d.span.line}:{d.span.column}: error[{d.code}]: " in err
