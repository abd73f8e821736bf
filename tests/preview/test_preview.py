"""`citypulse preview`: PNG stills, GIF animations and cue sheets of the mini venue."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image, ImageSequence

from controller.cli.app import main
from controller.cli.common import load_venue
from controller.preview.render_preview import PlanPreview

MINI = Path(__file__).resolve().parents[1] / "data" / "venue" / "shows" / "mini.yaml"
WIDTH = 400  # small pictures keep the blur filters cheap


def preview(*args: str) -> int:
    return main(["preview", str(MINI), "--venue", "mini", "--width", str(WIDTH), *args])


@pytest.fixture(scope="module")
def view() -> PlanPreview:
    job = load_venue(MINI, "mini")
    return PlanPreview(job.plan, show_name=job.loaded.show.name, width=WIDTH)


def flood_pixels(view: PlanPreview) -> list[tuple[int, int]]:
    """Picture coordinates of the four floods (elements 0..3 of the mini rig)."""
    return [(int(x), int(y)) for x, y in view.view.px[:4]]


def is_reddish(pixels: NDArray[np.uint8], xy: tuple[int, int]) -> bool:
    r, g, b = (int(c) for c in pixels[xy[1], xy[0], :3])
    return r > 150 and r > 2 * g and r > 2 * b


def frame_count(img: Image.Image) -> int:
    return sum(1 for _ in ImageSequence.Iterator(img))


def test_still_at_a_cue_reference_shows_the_red_floods(view: PlanPreview, tmp_path: Path) -> None:
    out = tmp_path / "still.png"
    assert preview("-o", str(out), "--at", "go+1") == 0  # cue 'go' at 5 s: floods red
    with Image.open(out) as img:
        assert img.format == "PNG"
        assert img.size == (WIDTH, view.view.frame.height)
        pixels = np.asarray(img.convert("RGB"))
        assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 10  # not just background
        assert all(is_reddish(pixels, xy) for xy in flood_pixels(view))


def test_still_before_the_cue_has_dark_floods(view: PlanPreview, tmp_path: Path) -> None:
    out = tmp_path / "dark.png"
    assert preview("-o", str(out), "--at", "1") == 0
    with Image.open(out) as img:
        pixels = np.asarray(img.convert("RGB"))
        assert not any(is_reddish(pixels, xy) for xy in flood_pixels(view))


def test_gif_over_one_second_at_5_fps_has_5_frames(tmp_path: Path) -> None:
    out = tmp_path / "anim.gif"
    assert preview("-o", str(out), "--from", "go", "--to", "go+1", "--fps", "5") == 0
    with Image.open(out) as img:
        assert img.format == "GIF"
        assert frame_count(img) == 5
        assert img.size[0] == WIDTH


def test_gif_frame_count_survives_float_rounding(tmp_path: Path) -> None:
    out = tmp_path / "anim.gif"
    assert preview("-o", str(out), "--from", "go+0.3", "--to", "go+0.6", "--fps", "10") == 0
    with Image.open(out) as img:
        assert frame_count(img) == 3  # t = 5.3, 5.4, 5.5


def test_time_argument_can_name_a_cue_with_a_dash_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    venue = shutil.copytree(MINI.parents[1], tmp_path / "venue")
    show = venue / "shows" / "mini.yaml"
    text = show.read_text(encoding="utf-8")
    show.write_text(text.replace("cues:\n", "cues:\n  - {name: part-2, at: 7}\n"), "utf-8")
    assert main(["check", str(show)]) == 0  # the show itself may use the name
    out = tmp_path / "part.png"
    argv = ["preview", str(show), "--width", str(WIDTH), "-o", str(out), "--at", "part-2"]
    assert main(argv) == 0, capsys.readouterr().err


def test_sheet_is_one_png_with_a_thumbnail_per_cue(tmp_path: Path) -> None:
    out = tmp_path / "sheet.png"
    assert preview("-o", str(out), "--sheet") == 0
    with Image.open(out) as img:
        assert img.format == "PNG"
        # 3 cues (start, go, later) in one row of 3 columns: 3 x 520 + 4 x 8 gaps
        assert img.size[0] == 3 * 520 + 4 * 8


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--at", "nope"], "error[A002]: --at: unknown cue 'nope'"),
        (["--at", "go+100"], "error[A002]: --at: time 105 s is outside the show"),
    ],
    ids=["unknown-cue", "past-the-end"],
)
def test_invalid_time_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    out = tmp_path / "x.png"
    assert preview("-o", str(out), *args) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_output_must_be_png_or_gif(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert preview("-o", str(tmp_path / "x.jpg")) == 2
    assert "error[A002]: --output:" in capsys.readouterr().err
