"""The hostile-OFL corpus: each fixture reports exactly the located errors it names.

Each `tests/data/invalid/ofl/*.json` is an Open Fixture Library fixture (schema 12.x) whose
`comment` (a key OFL allows at the top level) starts with `expect: LINE:COL CODE` (several
separated by `, `), then `; ` and what is wrong. `import_ofl` raises exactly those errors;
`citypulse fixtures import-ofl` prints each as `PATH:LINE:COL: error[CODE]: message` and
exits 2, with no traceback.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from controller.cli.app import main
from controller.errors import ShowValidationError
from controller.show.ofl import import_ofl

CORPUS = Path(__file__).resolve().parents[1] / "data" / "invalid" / "ofl"
CASES = sorted(CORPUS.glob("*.json"))
EXPECT = re.compile(r"(?P<line>\d+):(?P<col>\d+) (?P<code>O4\d\d)")
CLI_LINE = re.compile(r"(?P<path>.+):(?P<line>\d+):(?P<col>\d+): error\[(?P<code>O4\d\d)\]: \S.*")


def _expected(case: Path) -> set[tuple[int, int, str]]:
    comment = json.loads(case.read_text(encoding="utf-8"))["comment"]
    assert comment.startswith("expect: "), comment
    found = comment.removeprefix("expect: ").split("; ", 1)[0].split(", ")
    return {(int(m["line"]), int(m["col"]), m["code"]) for m in map(EXPECT.fullmatch, found) if m}


def test_corpus_has_its_cases() -> None:
    assert len(CASES) >= 5
    for case in CASES:
        assert _expected(case), case.name


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_hostile_fixture_reports_exactly_its_located_errors(case: Path) -> None:
    with pytest.raises(ShowValidationError) as caught:
        import_ofl(case)
    found = {(d.span.line, d.span.column, d.code) for d in caught.value.errors}
    assert found == _expected(case), "\n".join(str(d) for d in caught.value.errors)


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_import_command_prints_located_errors_and_exits_2(
    case: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fixtures", "import-ofl", str(case)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    *lines, total = err.splitlines()
    printed = set()
    for line in lines:
        m = CLI_LINE.fullmatch(line)
        assert m is not None, f"not a diagnostic line: {line!r}"
        assert Path(m["path"]).resolve() == case.resolve()
        printed.add((int(m["line"]), int(m["col"]), m["code"]))
    assert printed == _expected(case)
    assert total == f"citypulse: {len(printed)} error{'s' if len(printed) != 1 else ''}"
