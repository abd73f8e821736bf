"""Every built-in effect over the mini venue, and the behaviour each one promises."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from controller.attributes import HOME_VALUES, LIGHT_ATTRIBUTES, Attribute
from controller.compile.plan import VenuePlan
from controller.render.effects.texture import SAFE_STROBE_HZ
from controller.show.timeline import Target
from tests.render.plans import (
    REGISTRY,
    fixture_elements,
    frame_at,
    make_clip,
    plan_of,
    write_gif,
    write_png,
)

F32 = NDArray[np.float32]
TIMES = (0.0, 0.37, 2.5, 9.99)
RED, BLUE = (255, 0, 0), (0, 0, 255)
INTENSITY = int(Attribute.INTENSITY)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("effects-media")
    write_png(base / "bands.png", [RED, RED, BLUE, BLUE])
    write_gif(base / "flip.gif", [RED, BLUE])
    return base


def _defaults_for(effect: str) -> dict[str, object]:
    """The only parameters without a usable default are media files."""
    files = {"image": "bands.png", "video": "flip.gif"}
    return {"file": files[effect]} if effect in files else {}


def test_the_catalogue_has_the_documented_effects() -> None:
    documented = {
        *("solid", "dimmer", "fade", "rainbow", "gradient", "radial-gradient"),
        *("chase", "wave", "city-pulse", "heartbeat"),
        *("sparkle", "strobe", "noise", "fire"),
        *("image", "video", "aim", "position"),
    }
    assert documented <= set(REGISTRY)


@pytest.mark.parametrize("effect", sorted(REGISTRY))
def test_effect_renders_every_element_with_defaults_in_range(effect: str, media: Path) -> None:
    plan = plan_of([make_clip(effect, _defaults_for(effect))], base_dir=media)
    assert plan.clips[0].n == plan.elements.n  # an empty target is every element
    written = {int(a) for a in REGISTRY[effect].writes}
    if INTENSITY in written:  # an intensity change rescales light (see renderer docstring)
        written |= {int(a) for a in LIGHT_ATTRIBUTES}
    for t in TIMES:
        frame = frame_at(plan, t)
        assert frame.dtype == np.float32
        assert np.isfinite(frame).all(), t
        assert frame.min() >= 0.0, t
        assert frame.max() <= 1.0, t
        for attr, home in HOME_VALUES.items():
            if int(attr) not in written:  # the effect leaves undeclared rows alone
                assert (frame[attr] == np.float32(home)).all(), (attr.key, t)


def test_non_contiguous_selection_writes_exactly_its_elements() -> None:
    picked = Target(fixtures=["flood-02", "flood-04", "dim"])  # an index array, not a slice
    plan = plan_of([make_clip("solid", {"color": "orange"}, target=picked)])
    everywhere = frame_at(plan_of([make_clip("solid", {"color": "orange"})]), 1.0)
    only = frame_at(plan, 1.0)
    mask = np.zeros(plan.elements.n, np.bool_)
    for fixture in ("flood-02", "flood-04", "dim"):
        mask[fixture_elements(plan, fixture)] = True
    np.testing.assert_array_equal(only[:, mask], everywhere[:, mask])
    np.testing.assert_array_equal(only[:, ~mask], plan.home[:, ~mask])


# --- textures: deterministic per seed ---------------------------------------------------


def _looks(effect: str, seed: int, times: tuple[float, ...]) -> F32:
    plan = plan_of([make_clip(effect, seed=seed)])
    return np.stack([frame_at(plan, t) for t in times])


@pytest.mark.parametrize("effect", ["sparkle", "noise", "fire"])
def test_texture_is_deterministic_for_a_seed_and_varies_with_it(effect: str) -> None:
    times = (0.1, 0.8, 1.6, 3.3, 7.0)
    a, again = _looks(effect, 7, times), _looks(effect, 7, times)
    np.testing.assert_array_equal(a, again)
    assert not np.array_equal(a, _looks(effect, 8, times))


def test_sparkle_accepts_any_seed_the_checker_accepts() -> None:
    plan = plan_of([make_clip("sparkle", seed=10**12)])
    frame = frame_at(plan, 1.0)
    assert np.isfinite(frame).all()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_city_pulse_with_a_tiny_period_stays_finite() -> None:
    plan = plan_of([make_clip("city-pulse", {"period": 1e-40})])
    assert np.isfinite(frame_at(plan, 3.0)).all()


# --- strobe -------------------------------------------------------------------------------


def _flashes(plan: VenuePlan, element: int, *, seconds: float, sample_hz: int) -> int:
    """Off -> on transitions (a flash lit at t=0 counts) sampled finely over `seconds`."""
    lit = [
        frame_at(plan, k / sample_hz)[INTENSITY, element] > 0.5
        for k in range(int(seconds * sample_hz))
    ]
    return sum(1 for k, on in enumerate(lit) if on and (k == 0 or not lit[k - 1]))


@pytest.mark.parametrize(("safe", "expected"), [(True, 6), (False, 50)])
def test_strobe_is_capped_at_three_hertz_unless_unsafe(safe: bool, expected: int) -> None:
    assert SAFE_STROBE_HZ == 3.0
    clip = make_clip(
        "strobe", {"rate": 25, "duty": 0.2, "safe": safe}, target=Target(fixtures=["dim"])
    )
    plan = plan_of([clip])
    element = int(fixture_elements(plan, "dim")[0])
    # 25 Hz asked for 2 s: 50 flashes; capped at 3 Hz: 6
    assert _flashes(plan, element, seconds=2.0, sample_hz=1000) == expected


# --- motion -------------------------------------------------------------------------------


def test_city_pulse_reaches_each_element_at_distance_over_speed() -> None:
    # floods stand at x = 0, 30, 60, 90 on y = -5: from origin (0, -5) d = 0, 30, 60, 90 m
    params = {"origin": [0, -5], "speed": 30, "width": 10, "decay": 0, "afterglow": 0}
    plan = plan_of([make_clip("city-pulse", params, target=Target(group="floods"))])
    floods = fixture_elements(plan, "flood")
    times = np.round(np.arange(0.0, 4.5, 0.01), 2)
    levels = np.stack([frame_at(plan, t)[INTENSITY, floods] for t in times])
    peaks = times[levels.argmax(axis=0)]
    np.testing.assert_allclose(peaks, [0.0, 1.0, 2.0, 3.0], atol=0.011)
    np.testing.assert_allclose(levels.max(axis=0), 1.0, atol=1e-3)


def test_chase_head_moves_along_the_selection_at_speed() -> None:
    speed = 0.25  # runs per second: the head crosses the 200 cells in 4 s
    params = {"speed": speed, "width": 0.05, "tail": 0, "background": 0}
    plan = plan_of([make_clip("chase", params, target=Target(group="pixels"))])
    cells = fixture_elements(plan, "strip")
    n = len(cells)
    heads = []
    for t in (0.4, 1.0, 1.6, 2.2, 3.0):
        lit = np.flatnonzero(frame_at(plan, t)[INTENSITY, cells] > 0.5)
        head = (t * speed) % 1.0  # order coordinate of the head: cell k sits at k / (n - 1)
        assert abs(int(lit.max()) - head * (n - 1)) <= 1.0, t
        assert lit.max() - lit.min() + 1 == pytest.approx(0.05 * (n - 1), abs=1.5)
        heads.append(int(lit.max()))
    assert heads == sorted(heads)


# --- pixel mapping ------------------------------------------------------------------------


def test_image_maps_left_half_red_and_right_half_blue_onto_the_floods(media: Path) -> None:
    # floods at x = 0, 30, 60, 90, z = 1: on a facade picture spanning x -1..91, z 0..2 they
    # fall at u = 1/92, 31/92, 61/92, 91/92 -> columns 0, 1, 2, 3 of the 4-wide picture
    params = {"file": "bands.png", "plane": "xz", "min": [-1, 0, 0], "max": [91, 0, 2]}
    plan = plan_of([make_clip("image", params, target=Target(group="floods"))], base_dir=media)
    floods = fixture_elements(plan, "flood")
    frame = frame_at(plan, 1.0)
    light = frame[[Attribute.RED, Attribute.GREEN, Attribute.BLUE]][:, floods].T
    np.testing.assert_allclose(light, [[1, 0, 0], [1, 0, 0], [0, 0, 1], [0, 0, 1]], atol=1e-6)
    np.testing.assert_allclose(frame[INTENSITY, floods], 1.0)


def test_image_is_dark_outside_its_rectangle(media: Path) -> None:
    params = {"file": "bands.png", "plane": "xz", "min": [-1, 0, 0], "max": [91, 0, 2]}
    plan = plan_of([make_clip("image", params, target=Target(group="pixels"))], base_dir=media)
    cells = fixture_elements(plan, "strip")  # x = 150: right of the picture
    assert (frame_at(plan, 1.0)[INTENSITY, cells] == 0.0).all()


@pytest.mark.parametrize(
    ("loop", "expected"),
    [(True, [RED, BLUE, RED, BLUE]), (False, [RED, BLUE, BLUE, BLUE])],
)
def test_video_steps_through_its_frames_at_fps(
    media: Path, loop: bool, expected: list[tuple[int, int, int]]
) -> None:
    params = {
        "file": "flip.gif",
        "fps": 2,
        "loop": loop,
        "plane": "xz",
        "min": [-1, 0, 0],
        "max": [91, 0, 2],
    }
    plan = plan_of([make_clip("video", params, target=Target(group="floods"))], base_dir=media)
    flood = int(fixture_elements(plan, "flood-01")[0])
    seen = []
    for t in (0.25, 0.75, 1.25, 1.75):  # 2 fps: frame int(t x 2) = 0, 1, 2, 3
        frame = frame_at(plan, t)
        rgb = frame[[Attribute.RED, Attribute.GREEN, Attribute.BLUE], flood]
        seen.append(tuple(round(float(c) * 255) for c in rgb))
    assert seen == expected
