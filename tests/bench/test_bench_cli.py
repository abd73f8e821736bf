"""`citypulse bench render` and `bench generate-city` (figures are never asserted on)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controller.cli.app import main

TIMING_KEYS = {"p50_ms", "p99_ms", "max_ms", "mean_ms"}
RESULT_KEYS = {
    "case",
    "elements",
    "universes",
    "channels",
    "clips",
    "frames",
    "compile_s",
    "frames_per_s",
    "channels_per_s",
    "render",
    "patch",
    "frame",
    "meets_44fps_11ms",
    "send",
    "kernels",
    "run",
}


def test_bench_render_json_has_the_documented_keys(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["bench", "render", "--show", "", "--universes", "3", "--frames", "10", "--json"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["benchmark"] == "render"
    assert report["cpu_pinned"] is None
    [result] = report["results"]
    assert set(result) == RESULT_KEYS
    for part in ("render", "patch", "frame"):
        assert set(result[part]) == TIMING_KEYS
    assert result["case"] == "synthetic 3"
    assert result["universes"] == 3
    assert result["channels"] == 3 * 512
    assert result["elements"] == 3 * 170  # one 170-pixel strip per universe
    assert result["frames"] == 10
    assert result["clips"] == 5  # noise, rainbow, pulse, sparkle, master
    assert isinstance(result["meets_44fps_11ms"], bool)


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["--frames", "9"], "--frames"),
        (["--universes", "0"], "--universes"),
        (["--universes", "two"], "--universes"),
    ],
    ids=["too-few-frames", "zero-universes", "not-a-number"],
)
def test_bench_render_rejects_bad_arguments(
    capsys: pytest.CaptureFixture[str], argv: list[str], option: str
) -> None:
    assert main(["bench", "render", "--show", "", "--json", *argv]) == 2
    assert f"error[A002]: {option}:" in capsys.readouterr().err


@pytest.mark.parametrize("universes", [1, 20])  # 20 spans two towers of 16 strips
def test_generated_city_passes_check_with_its_universe_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], universes: int
) -> None:
    out = tmp_path / "city"
    assert main(["bench", "generate-city", "--universes", str(universes), "-o", str(out)]) == 0
    show = out / "show.yaml"
    assert show.is_file()
    capsys.readouterr()
    assert main(["check", str(show), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    [venue] = summary["venues"].values()
    assert venue["universes"] == universes
    assert venue["pixels"] == 170 * universes
    assert venue["channels"] == 510 * universes
