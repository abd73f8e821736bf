"""`citypulse render` to FSEQ, read back, and `citypulse fseq info/diff` on the result."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from controller.cli.app import main
from controller.cli.common import load_venue
from controller.fseq import FseqReader
from controller.render.renderer import render

VENUE_DIR = Path(__file__).resolve().parents[1] / "data" / "venue"
MINI = VENUE_DIR / "shows" / "mini.yaml"


def render_fseq(show: Path, out: Path) -> Path:
    assert main(["render", str(show), "--venue", "mini", "-o", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_fseq(MINI, tmp_path_factory.mktemp("render") / "mini.fseq")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_render_is_byte_for_byte_deterministic(rendered: Path, tmp_path: Path) -> None:
    again = render_fseq(MINI, tmp_path / "again.fseq")
    assert sha256(again) == sha256(rendered)


def test_rendered_file_has_the_show_shape(rendered: Path) -> None:
    with FseqReader.open(rendered) as reader:
        assert reader.frame_count == 20 * 40  # duration x fps
        assert reader.channel_count == 3 * 512  # universes 1, 2, 3
        assert reader.step_ms == 25  # 1000 / 40
        meta = json.loads(reader.variable_headers["cp"].rstrip(b"\0"))
    assert meta["universes"] == [1, 2, 3]
    assert meta["venue"] == "mini"
    assert meta["fps"] == 40
    assert meta["name"] == "Mini"


@pytest.mark.parametrize("t", [0.0, 5.0, 6.5, 9.975, 10.0, 19.975])
def test_frame_matches_render_and_patch_of_the_plan(rendered: Path, t: float) -> None:
    job = load_venue(MINI, "mini")
    frame = render(job.plan, t, job.plan.new_frame())
    expected = job.patch.apply(frame, job.patch.new_output(), job.plan.intensity).reshape(-1)
    with FseqReader.open(rendered) as reader:
        np.testing.assert_array_equal(reader.frame(round(t * 40)), expected)


def test_master_scales_the_rendered_intensities(tmp_path: Path) -> None:
    out = tmp_path / "half.fseq"
    argv = ["render", str(MINI), "--venue", "mini", "--master", "0.5", "-o", str(out)]
    assert main(argv) == 0
    job = load_venue(MINI, "mini")
    frame = render(job.plan, 6.0, job.plan.new_frame())
    expected = job.patch.apply(frame, job.patch.new_output(), 0.5).reshape(-1)
    with FseqReader.open(out) as reader:
        got = reader.frame(240)
        np.testing.assert_array_equal(got, expected)
    # flood-01 is red at level 1: 16-bit intensity 1 x 0.5 -> 32768 -> 128, 0
    assert list(got[0:3]) == [128, 0, 255]


def test_fseq_info_prints_the_header(rendered: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fseq", "info", str(rendered)]) == 0
    out = capsys.readouterr().out
    assert "channel_count: 1536" in out
    assert "frame_count: 800" in out
    assert "venue mini, 3 universes (1..3)" in out


def test_fseq_diff_of_identical_renders_exits_0(
    rendered: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    again = render_fseq(MINI, tmp_path / "again.fseq")
    capsys.readouterr()
    assert main(["fseq", "diff", str(rendered), str(again)]) == 0
    assert "identical: 800 frames x 1536 channels" in capsys.readouterr().out


def test_fseq_diff_names_the_first_differing_frame_and_fixture(
    rendered: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    venue = shutil.copytree(VENUE_DIR, tmp_path / "venue")
    show = venue / "shows" / "mini.yaml"
    text = show.read_text(encoding="utf-8")
    assert "color: red" in text
    show.write_text(text.replace("color: red", "color: blue"), encoding="utf-8")
    blue = render_fseq(show, tmp_path / "blue.fseq")
    capsys.readouterr()
    assert main(["fseq", "diff", str(rendered), str(blue), "--show", str(MINI)]) == 1
    out = capsys.readouterr().out
    # the floods turn on at cue 'go' (5 s = frame 200); red -> blue on flood-01 slots 3, 5
    assert "first differing frame 200 (t = 5.000 s)" in out
    assert "channel        2: 255 ->   0 (-255)  u1/3 flood-01 red" in out
    assert "channel        4:   0 -> 255 (+255)  u1/5 flood-01 blue" in out


def test_render_output_must_end_in_fseq(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mini.bin"
    assert main(["render", str(MINI), "--venue", "mini", "-o", str(out)]) == 2
    assert "error[A002]: --output:" in capsys.readouterr().err
    assert not out.exists()


def test_render_unknown_venue_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.fseq"
    assert main(["render", str(MINI), "--venue", "maxi", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "error[A002]: --venue: unknown venue 'maxi'" in err
    assert not out.exists()
