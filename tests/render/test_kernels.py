"""The compiled kernels give the very bytes of the numpy reference (controller.render.jit)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from controller.bench.synthetic import write_city
from controller.render import jit, kernels
from controller.render.renderer import blend_rows, render
from controller.runtime.job import VenueJob, load_venue
from controller.show.timeline import Blend

ROOT = Path(__file__).resolve().parents[2]


def _frames(job: VenueJob, ticks: list[int], master: float) -> Iterator[tuple[bytes, bytes]]:
    plan, patch = job.plan, job.patch
    frame, driven, dmx = plan.new_frame(), plan.new_driven(), patch.new_output()
    for n, k in enumerate(ticks):
        render(plan, plan.render_time(k), frame, driven)
        patch.apply(frame, dmx, master, driven if n % 2 else None)  # both default rules
        yield frame.tobytes(), dmx.tobytes()


def _compare(job: VenueJob, ticks: list[int], master: float) -> None:
    with jit.reference():
        want = list(_frames(job, ticks, master))
    got = list(_frames(job, ticks, master))
    for k, (a, b) in zip(ticks, zip(want, got, strict=True), strict=True):
        assert a[0] == b[0], f"frame {k}: rendered values differ"
        assert a[1] == b[1], f"frame {k}: DMX bytes differ"


def test_numba_is_what_runs() -> None:
    assert jit.AVAILABLE, "numba is a dependency: scripts/setup installs it"
    assert jit.enabled()
    with jit.reference():
        assert not jit.enabled()
    assert jit.enabled()


@pytest.mark.parametrize("venue", ["beijing", "lhasa", "singapore"])
def test_sample_show_bytes_match(venue: str) -> None:
    job = load_venue(ROOT / "shows" / "digital-night.yaml", venue)
    ticks = list(range(0, job.plan.frame_count, 97))
    _compare(job, ticks, master=1.0)
    _compare(job, ticks[::3], master=0.73)


def test_synthetic_city_bytes_match(tmp_path: Path) -> None:
    job = load_venue(write_city(tmp_path, 24), None)
    _compare(job, list(range(0, job.plan.frame_count, 53)), master=1.0)


@pytest.mark.parametrize("blend", list(Blend))
@pytest.mark.parametrize("alpha", [1.0, 0.37, 0.0001])
def test_blend_kernels_match(blend: Blend, alpha: float) -> None:
    rng = np.random.default_rng(5)
    out = rng.random((6, 50), dtype=np.float32)
    src = rng.random((3, 20), dtype=np.float32)
    rows = np.array([1, 2, 4], np.int64)
    index = np.sort(rng.choice(50, 20, replace=False)).astype(np.int64)
    code = kernels.BLEND_CODES[blend.value]
    for sel in (slice(7, 27), index):
        want = out.copy()
        block = want[rows][:, sel]
        blend_rows(block, src, blend, alpha)
        for k, r in enumerate(rows):
            want[r, sel] = block[k]
        got = out.copy()
        if isinstance(sel, slice):
            kernels.blend_span(got, rows, sel.start, src, 0, code, alpha)
        else:
            kernels.blend_index(got, rows, sel, src, 0, code, alpha)
        assert got.tobytes() == want.tobytes(), f"{blend} alpha={alpha} {type(sel)}"


FUSED = [
    ("sparkle", {"density": 0.4, "background": 0.1, "level": 0.8}),
    ("sparkle", {"density": 0.3}),
    ("rainbow", {"level": 0.7, "saturation": 0.6, "axis": "x"}),
    ("noise", {"level": 0.9, "contrast": 2.0}),
    ("radial-gradient", {"center": [20, 10], "radius": 35, "level": 0.6}),
    ("image", {"file": "band.png", "tile": True, "scroll_u": 0.3, "scroll_v": -0.2}),
    ("image", {"file": "band.png", "plane": "xy", "min": [0, 0, 0], "max": [60, 30, 0]}),
    ("video", {"file": "clip.gif", "fps": 7, "loop": False}),
    ("city-pulse", {"origin": [10, 5], "speed": 20, "period": 1.5}),
]


@pytest.mark.parametrize(("effect", "params"), FUSED)
def test_fused_effects_match_their_numpy_code(
    effect: str, params: dict[str, object], tmp_path: Path
) -> None:
    from tests.render.plans import frame_at, make_clip, plan_of, write_gif, write_png

    write_png(tmp_path / "band.png", [(255, 0, 0), (0, 255, 60), (10, 20, 250)])
    write_gif(tmp_path / "clip.gif", [(255, 0, 0), (0, 0, 255), (9, 200, 9)])
    for blend in (Blend.REPLACE, Blend.MAX):
        base = make_clip("solid", {"color": [0.0, 0.5, 0.5], "level": 0.5})
        clip = make_clip(effect, params, blend=blend, opacity=0.7, layer=2)
        plan = plan_of([base, clip], base_dir=tmp_path)
        for t in (0.0, 0.61, 2.37, 7.9):
            with jit.reference():
                want = frame_at(plan, t).tobytes()
            assert frame_at(plan, t).tobytes() == want, f"{effect} {blend} t={t}"
