"""`citypulse check`: summary text and JSON, exit codes, usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controller.cli import main
from controller.show.source import display_path

ROOT = Path(__file__).resolve().parents[2]
VENUE = ROOT / "tests" / "data" / "venue"
MINI = VENUE / "shows" / "mini.yaml"
INVALID = ROOT / "tests" / "data" / "invalid" / "shows"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_check_mini_prints_a_summary_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", str(MINI))
    assert code == 0
    assert err == ""
    lines = out.splitlines()
    assert lines[0].endswith(
        ": ok - 'Mini', 20 s at 40 fps (800 frames), 1 tracks, 2 clips, 3 cues (1 hold)"
    )
    assert lines[2].split() == ["mini", "Testville", "7", "200", "3", "637", "2"]
    assert lines[3].split() == ["total", "7", "200", "3", "637"]
    assert lines[4] == "  cues: start 0s, go 5s (hold), later 10s"


def test_check_json_has_the_right_totals(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "--json", str(MINI))
    assert code == 0
    summary = json.loads(out)
    assert summary["name"] == "Mini"
    assert (summary["fps"], summary["duration_s"], summary["frames"]) == (40, 20.0, 800)
    assert summary["totals"] == {"fixtures": 7, "pixels": 200, "universes": 3, "channels": 637}
    venue = summary["venues"]["mini"]
    assert (venue["elements"], venue["outputs"], venue["city"]) == (206, 2, "Testville")
    assert summary["cues"] == [
        {"name": "start", "at": 0.0, "hold": False},
        {"name": "go", "at": 5.0, "hold": True},
        {"name": "later", "at": 10.0, "hold": False},
    ]
    assert (summary["tracks"], summary["clips"], summary["warnings"]) == (1, 2, [])


def test_check_json_of_two_shows_is_a_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "--json", str(MINI), str(MINI))
    assert code == 0
    assert [s["name"] for s in json.loads(out)] == ["Mini", "Mini"]


def test_check_reports_every_failing_show_and_still_summarises_good_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(
        capsys,
        "check",
        str(MINI),
        str(INVALID / "duplicate-cue.yaml"),
        str(INVALID / "unknown-effect.yaml"),
    )
    assert code == 2
    assert ": ok - 'Mini'" in out
    assert "error[S107]: duplicate cue name 'go'" in err
    assert "error[S103]: unknown effect 'sparkel' (did you mean 'sparkle'?)" in err
    assert err.splitlines()[-1] == "citypulse: 2 errors"


def test_check_of_a_missing_file_is_y003(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "nope.yaml"
    code, _, err = run(capsys, "check", str(missing))
    assert code == 2
    assert f"{display_path(missing)}:1:1: error[Y003]: file not found" in err
    assert err.splitlines()[-1] == "citypulse: 1 error"


def test_warnings_print_and_strict_makes_them_fail(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rig = (VENUE / "rigs" / "mini.yaml").read_text(encoding="utf-8")
    (tmp_path / "rigs").mkdir()
    (tmp_path / "shows").mkdir()
    (tmp_path / "rigs" / "r.yaml").write_text(
        rig.replace("profiles: [../profiles]", f"profiles: [{VENUE / 'profiles'}]").replace(
            "  - {protocol: sacn, universes: 3}\n", ""
        ),
        encoding="utf-8",
    )
    show = tmp_path / "shows" / "s.yaml"
    show.write_text("name: S\nduration: 5\nvenues:\n  v: {rig: ../rigs/r.yaml}\n", encoding="utf-8")
    code, out, err = run(capsys, "check", str(show))
    assert code == 0
    assert "warning[R211]: universe(s) 3 are patched but no output sends them" in err
    assert ": ok - 'S'" in out
    code, out, err = run(capsys, "check", "--strict", str(show))
    assert code == 2
    assert out == ""
    rig_shown = display_path(tmp_path / "rigs" / "r.yaml")
    assert err.splitlines() == [
        f"{rig_shown}:40:3: error[R211]: universe(s) 3 are patched but no output sends them",
        "citypulse: 1 error",
    ]


def test_check_without_a_show_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check")
    assert code == 2
    assert out == ""
    assert "error[A001]: the following arguments are required: SHOW" in err
    assert err.startswith("usage: citypulse check")


def test_unknown_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "frobnicate")
    assert code == 2
    assert "error[A001]: argument COMMAND: invalid choice: 'frobnicate'" in err


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "check", "--jsn", str(MINI))
    assert code == 2
    assert "error[A001]: unrecognized arguments: --jsn" in err


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys)
    assert code == 2
    assert "usage: citypulse" in err
    assert out == ""


@pytest.mark.parametrize("argv", [["--help"], ["check", "--help"], ["schema", "--help"]])
def test_help_exits_0(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert out.startswith("usage: citypulse")


def test_version_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0
    assert out.startswith("citypulse ")
