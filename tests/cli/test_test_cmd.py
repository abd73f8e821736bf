"""`citypulse test --expect FILE.yaml`: passing and failing checks, invalid files, the real show."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from controller.cli import main

ROOT = Path(__file__).resolve().parents[2]
MINI = ROOT / "tests" / "data" / "venue" / "shows" / "mini.yaml"

PASSING = """\
show: {show}
venue: mini
output: {output}
hold_wait: 0.5
checks:
  - name: dark before go
    between: [0, go-0.1]
    dark: true
  - name: floods red after go
    at: go+1
    target: floods
    color: red
    min_level: 0.8
  - name: the pixel chase runs
    at: go+1
    target: pixels
    lit: 0.05
  - name: floods at full
    at: go+2
    target: floods
    level: {{min: 0.9, max: 1.0}}
  - name: floods dark after later
    between: [later+0.1, 20]
    target: floods
    dark: true
stream:
  fps: 40
  max_sequence_gaps: 0
  max_torn_frames: 0
  max_malformed: 0
"""


def write(tmp_path: Path, text: str, name: str = "mini.expect.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["test", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.mark.parametrize("output", ["rig", "artnet", "sacn", "osc"])
def test_passing_checks_exit_0(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, output: str
) -> None:
    spec = write(tmp_path, PASSING.format(show=MINI, output=output))
    code, out, err = run(capsys, "--expect", str(spec))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    # show frames 0..799 (the last depicts 19.975 s), frame 200 held 22 ticks (0.5 s and the
    # tick the auto-go executes on), and the first ended tick: 800 + 21 + 1
    assert lines[0] == f"{MINI}: venue mini, 822 frames to 19.98 s"
    assert lines[1:6] == [
        "  PASS  dark before go: 0/206 lit, brightest 0.000",
        "  PASS  floods red after go: level along colour 1.00 (want >= 0.8), colour distance 0.00",
        "  PASS  the pixel chase runs: 30% lit (want >= 5%)",
        "  PASS  floods at full: mean brightness 1.000 (want 0.9..1)",
        "  PASS  floods dark after later: 0/4 lit, brightest 0.000",
    ]
    assert "  PASS  frames at 40 fps: measured 40.000 fps" in lines
    assert lines[-1] == "9 passed, 0 failed"


def test_over_one_enttec_widget_only_the_first_universe_arrives(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    spec = write(tmp_path, PASSING.format(show=MINI, output="enttec"))
    code, out, _ = run(capsys, "--expect", str(spec))
    assert code == 1
    assert "  PASS  floods red after go: level along colour 1.00" in out  # universe 1
    assert "  FAIL  the pixel chase runs: at 6.000 s: 0% lit (want >= 5%)" in out  # 2 and 3
    assert out.endswith("8 passed, 1 failed\n")


def test_the_show_is_found_relative_to_the_expect_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    relative = os.path.relpath(MINI, tmp_path)
    spec = write(tmp_path, PASSING.format(show=relative, output="rig"))
    code, out, err = run(capsys, "--expect", str(spec))
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == "9 passed, 0 failed"


def test_a_show_on_the_command_line_wins_over_the_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    spec = write(tmp_path, PASSING.format(show="no-such-show.yaml", output="rig"))
    code, _, err = run(capsys, str(MINI), "--expect", str(spec))
    assert (code, err) == (0, "")


def test_json_report(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    spec = write(tmp_path, PASSING.format(show=MINI, output="rig"))
    code, out, _ = run(capsys, "--expect", str(spec), "--json")
    assert code == 0
    report: dict[str, Any] = json.loads(out)
    assert (report["passed"], report["venue"], report["frames"]) == (True, "mini", 822)
    assert [c["passed"] for c in report["checks"]] == [True] * 9
    assert report["simulator"]["frames_latched"] == 822
    assert report["simulator"]["malformed"] == 0


def test_a_wrong_check_fails_with_exit_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    spec = write(
        tmp_path,
        f"show: {MINI}\nchecks:\n"
        "  - name: floods dark after go (wrong)\n    at: go+1\n    target: floods\n    dark: true\n"
        "  - at: go+1\n    target: floods\n    lit: 1.0\n",
    )
    code, out, _ = run(capsys, "--expect", str(spec))
    assert code == 1
    assert "  FAIL  floods dark after go (wrong): at 6.000 s: 4/4 lit, brightest 1.000\n" in out
    assert "  PASS  check 2 (at go+1): 100% lit (want >= 100%)\n" in out
    assert out.endswith("1 passed, 1 failed\n")


def test_a_check_the_show_never_reaches_fails(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    spec = write(tmp_path, f"show: {MINI}\nuntil: go+1\nchecks:\n  - at: later+1\n    dark: true\n")
    code, out, _ = run(capsys, "--expect", str(spec))
    assert code == 1
    assert "  FAIL  check 1 (at later+1): not reached\n" in out


def test_json_of_a_failing_run(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    spec = write(
        tmp_path, f"show: {MINI}\nchecks:\n  - at: go+1\n    target: floods\n    dark: true\n"
    )
    code, out, _ = run(capsys, "--expect", str(spec), "--json")
    assert code == 1
    report = json.loads(out)
    assert report["passed"] is False
    assert report["checks"][0]["passed"] is False


DIAGNOSTIC = re.compile(
    r"^(?P<path>.+):(?P<line>\d+):(?P<col>\d+): error\[(?P<code>[A-Z]\d{3})\]: "
)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            "checks:\n  - at: go+1\n    target: floods\n    colour: red\n",
            [("6", "5", "S001", "unknown key 'colour' (did you mean 'color'?)")],
            id="unknown-key-in-a-check",
        ),
        pytest.param(
            "chekcs: []\n",
            [("3", "1", "S001", "unknown key 'chekcs'")],
            id="unknown-top-level-key",
        ),
        pytest.param(
            "hold_wait: soon\n",
            [("3", "12", "S003", "hold_wait: input should be a valid number")],
            id="bad-type",
        ),
        pytest.param(
            "hold_wait: soon\nchecks:\n  - at: 1\n    dark: true\n    nope: 1\n",
            [
                ("3", "12", "S003", "hold_wait: input should be a valid number"),
                ("7", "5", "S001", "unknown key 'nope'"),
            ],
            id="all-errors-collected-in-order",
        ),
        pytest.param(
            "checks:\n  - at: nosuch+1\n    dark: true\n",
            [("4", "9", "T301", "checks[0].at: unknown cue 'nosuch'")],
            id="unknown-cue",
        ),
    ],
)
def test_an_invalid_expect_file_is_reported_at_file_line_col_with_exit_2(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    body: str,
    expected: list[tuple[str, str, str, str]],
) -> None:
    spec = write(tmp_path, f"show: {MINI}\nvenue: mini\n{body}")
    code, out, err = run(capsys, "--expect", str(spec))
    assert (code, out) == (2, "")
    *lines, total = err.splitlines()
    assert total == f"citypulse: {len(expected)} error{'s' if len(expected) > 1 else ''}"
    assert len(lines) == len(expected)
    for line, (row, col, code_, message) in zip(lines, expected, strict=True):
        found = DIAGNOSTIC.match(line)
        assert found is not None, line
        assert Path(found["path"]).resolve() == spec.resolve()
        assert (found["line"], found["col"], found["code"]) == (row, col, code_)
        assert message in line[found.end() :]


def test_an_expect_file_without_a_show_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    spec = write(tmp_path, "checks: []\n")
    code, _, err = run(capsys, "--expect", str(spec))
    assert code == 2
    assert err == (
        "citypulse test: error[A002]: SHOW: no show: name it on the command line "
        "or as 'show:' in the file\n"
    )


@pytest.mark.parametrize(
    "expect",
    [
        "digital-night.expect.yaml",
        "digital-night.lhasa.expect.yaml",
        "digital-night.singapore.expect.yaml",
    ],
)
def test_the_digital_night_show_tests_pass(capsys: pytest.CaptureFixture[str], expect: str) -> None:
    """The show tests CI must run: the whole ceremony in each city, every protocol."""
    code, out, err = run(capsys, "--expect", str(ROOT / "shows" / expect))
    assert code == 0, out + err
    assert "FAIL" not in out
    assert out.splitlines()[-1].endswith(" passed, 0 failed")
