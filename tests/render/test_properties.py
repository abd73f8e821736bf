"""Properties of render, blend, patch, 16-bit splitting, keyframes and curves (hypothesis)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.typing import NDArray

from controller.attributes import LIGHT_ATTRIBUTES, N_ATTRIBUTES, Attribute
from controller.compile.plan import VenuePlan, compile_venue
from controller.effects_api import EASINGS, ParamTrack, normalise_param
from controller.patch.curves import apply_curve, merge16, split16
from controller.patch.patcher import FIXED_SLOT, FREE_SLOT, build_patch
from controller.render.effects.common import level_param
from controller.render.renderer import blend_rows, render
from controller.show.load import load_show
from controller.show.profile import Curve
from controller.show.timeline import Blend, Target
from tests.render.plans import (
    DATA,
    REGISTRY,
    fixture_elements,
    frame_at,
    make_clip,
    plan_of,
    write_gif,
)
from tests.render.strategies import clips

F32 = NDArray[np.float32]
MEDIA = {"file": "anim.gif"}
GOLDEN_EMPTY = DATA / "render" / "shows" / "empty.yaml"
SHOW_TIMES = st.floats(0.0, 20.0, allow_nan=False)
UNIT32 = st.floats(0.0, 1.0, width=32, allow_nan=False)


def heavy(n: int) -> settings:
    """At most `n` examples, fewer under the `dev` profile (FAST=1)."""
    return settings(max_examples=min(n, settings().max_examples))


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where random image/video clips find their file (module scope: hypothesis-safe)."""
    base = tmp_path_factory.mktemp("media")
    write_gif(base / MEDIA["file"], [(255, 0, 0), (0, 0, 255), (0, 255, 0)])
    return base


def unit_arrays(shape: tuple[int, ...]) -> st.SearchStrategy[F32]:
    return hnp.arrays(np.float32, shape, elements=UNIT32)


# --- render ----------------------------------------------------------------------------


@heavy(50)
@given(data=st.data(), times=st.lists(SHOW_TIMES, min_size=1, max_size=4))
def test_render_output_is_float32_finite_and_in_unit_range(
    media_dir: Path, data: st.DataObject, times: list[float]
) -> None:
    n_clips = data.draw(st.integers(1, 4), label="n_clips")
    made = [data.draw(clips(MEDIA, layer=k + 1), label=f"clip{k}") for k in range(n_clips)]
    plan = plan_of(made, base_dir=media_dir)
    out = plan.new_frame()
    for t in times:
        result = render(plan, t, out)
        assert result is out
        assert out.dtype == np.float32
        assert out.shape == (N_ATTRIBUTES, plan.elements.n)
        assert np.isfinite(out).all()
        assert out.min() >= 0.0
        assert out.max() <= 1.0


@heavy(40)
@given(data=st.data(), t=SHOW_TIMES, before=st.lists(SHOW_TIMES, max_size=3))
def test_render_is_deterministic_across_compiles_and_frame_history(
    media_dir: Path, data: st.DataObject, t: float, before: list[float]
) -> None:
    n_clips = data.draw(st.integers(1, 3), label="n_clips")
    made = [data.draw(clips(MEDIA, layer=k + 1), label=f"clip{k}") for k in range(n_clips)]
    first, second = plan_of(made, base_dir=media_dir), plan_of(made, base_dir=media_dir)
    reused = first.new_frame()
    for earlier in before:  # a reused buffer and warm caches must not leak into frame t
        render(first, earlier, reused)
    np.testing.assert_array_equal(render(first, t, reused), frame_at(second, t))
    np.testing.assert_array_equal(frame_at(first, t), frame_at(second, t))


@heavy(40)
@given(
    colour_a=st.lists(UNIT32, min_size=3, max_size=3),
    colour_b=st.lists(UNIT32, min_size=3, max_size=3),
    level_a=UNIT32,
    level_b=UNIT32,
)
def test_htp_of_two_clips_is_the_elementwise_max_of_intensity_and_light(
    colour_a: list[float], colour_b: list[float], level_a: float, level_b: float
) -> None:
    a = make_clip("solid", {"color": colour_a, "level": level_a}, layer=1)
    b = make_clip("solid", {"color": colour_b, "level": level_b}, blend=Blend.MAX, layer=2)
    both = frame_at(plan_of([a, b]), 5.0)
    only_a, only_b = frame_at(plan_of([a]), 5.0), frame_at(plan_of([b]), 5.0)
    rows = [int(Attribute.INTENSITY), *(int(r) for r in LIGHT_ATTRIBUTES)]
    np.testing.assert_array_equal(both[rows], np.maximum(only_a[rows], only_b[rows]))


# --- blend_rows ------------------------------------------------------------------------


@heavy(50)
@given(data=st.data(), shape=st.tuples(st.integers(1, 4), st.integers(1, 16)))
def test_blend_max_at_full_alpha_is_np_maximum(data: st.DataObject, shape: tuple[int, int]) -> None:
    dst = data.draw(unit_arrays(shape), label="dst")
    src = data.draw(unit_arrays(shape), label="src")
    expected = np.maximum(dst, src)
    blend_rows(dst, src, Blend.MAX, 1.0)
    np.testing.assert_array_equal(dst, expected)


@heavy(50)
@given(data=st.data(), shape=st.tuples(st.integers(1, 4), st.integers(1, 16)))
def test_blends_at_full_alpha_follow_their_rule(
    data: st.DataObject, shape: tuple[int, int]
) -> None:
    dst = data.draw(unit_arrays(shape), label="dst")
    src = data.draw(unit_arrays(shape), label="src")
    expected = {
        Blend.REPLACE: src,
        Blend.MAX: np.maximum(dst, src),
        Blend.ADD: np.minimum(dst + src, np.float32(1.0)),
        Blend.MULTIPLY: dst * src,
    }
    for blend, want in expected.items():
        out = dst.copy()
        blend_rows(out, src, blend, 1.0)
        np.testing.assert_array_equal(out, want, err_msg=blend.value)


@heavy(80)
@given(
    data=st.data(),
    shape=st.tuples(st.integers(1, 4), st.integers(1, 16)),
    blend=st.sampled_from(list(Blend)),
    alpha=st.floats(0.0, 1.0),
)
def test_blend_stays_in_unit_range_and_is_identity_at_zero_alpha(
    data: st.DataObject, shape: tuple[int, int], blend: Blend, alpha: float
) -> None:
    dst = data.draw(unit_arrays(shape), label="dst")
    src = data.draw(unit_arrays(shape), label="src")
    out = dst.copy()
    blend_rows(out, src, blend, alpha)
    assert out.dtype == np.float32
    assert out.min() >= 0.0
    assert out.max() <= 1.0
    untouched = dst.copy()
    blend_rows(untouched, src, blend, 0.0)
    np.testing.assert_array_equal(untouched, dst)


# --- patch -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mini_plan() -> VenuePlan:
    return plan_of([])


@pytest.fixture(scope="module", params=["mini", "golden"])
def any_plan(request: pytest.FixtureRequest, mini_plan: VenuePlan) -> VenuePlan:
    """The mini venue, and the golden rig (every fixture kind: white_from_rgb, gamma)."""
    if request.param == "mini":
        return mini_plan
    return compile_venue(load_show(GOLDEN_EMPTY, REGISTRY), "golden")


@heavy(40)
@given(data=st.data(), master=st.floats(0.0, 1.0))
def test_patch_output_is_uint8_with_unpatched_slots_zero_and_fixed_slots_kept(
    any_plan: VenuePlan, data: st.DataObject, master: float
) -> None:
    patch = build_patch(any_plan.twin, any_plan.elements)
    frame = data.draw(unit_arrays((N_ATTRIBUTES, any_plan.elements.n)), label="frame")
    out = patch.apply(frame, patch.new_output(), master)
    assert out.dtype == np.uint8
    assert out.shape == (len(patch.universes), 512)
    flat = out.reshape(-1)
    assert not flat[patch.slot_attr == FREE_SLOT].any()
    assert set(np.flatnonzero(patch.slot_attr == FIXED_SLOT)) == set(patch.fixed_dst.tolist())
    np.testing.assert_array_equal(flat[patch.fixed_dst], patch.fixed_value)
    # both venues' mover: `fixed` control channel at universe 1 address 106 (101 + 2 + 2 + 1)
    assert out[0, 105] == 8


@heavy(60)
@given(level=UNIT32, master=st.floats(0.0, 1.0))
def test_patch_16bit_intensity_is_rint_of_level_times_65535(
    mini_plan: VenuePlan, level: float, master: float
) -> None:
    patch = build_patch(mini_plan.twin, mini_plan.elements)
    frame = mini_plan.new_frame()
    flood = fixture_elements(mini_plan, "flood-01")[0]
    frame[Attribute.INTENSITY, flood] = level
    out = patch.apply(frame, patch.new_output(), master)
    scaled = np.clip(np.float32(level) * np.float32(master), 0.0, 1.0)
    want = int(np.rint(np.float32(scaled) * np.float32(65535)))
    assert int(merge16(out[0, 0:1], out[0, 1:2])[0]) == want  # flood-01 at address 1, 16-bit


def test_no_two_patched_fixtures_share_a_slot(any_plan: VenuePlan) -> None:
    owner: dict[tuple[int, int], str] = {}
    for fx in any_plan.twin.fixtures:
        for seg in fx.segments:
            for address in range(seg.address, seg.end_address + 1):
                assert (seg.universe, address) not in owner, (fx.id, owner)
                owner[(seg.universe, address)] = fx.id
    patch = build_patch(any_plan.twin, any_plan.elements)
    assert (patch.slot_attr != FREE_SLOT).sum() <= len(owner)


def test_split16_then_merge16_is_the_identity_on_every_16bit_value() -> None:
    values = np.arange(65536, dtype=np.uint32)
    coarse, fine = split16(values)
    assert coarse.dtype == fine.dtype == np.uint8
    np.testing.assert_array_equal(coarse, values >> 8)  # MSB first
    np.testing.assert_array_equal(merge16(coarse, fine), values.astype(np.uint16))


# --- keyframes and curves --------------------------------------------------------------


def _max_slope(easing: str) -> float:
    """Largest d(ease)/du over 0..1: 3 for the cubics, pi/2 for the sines, 1 for linear."""
    return {"linear": 1.0, "in-cubic": 3.0, "out-cubic": 3.0, "in-out-cubic": 3.0}.get(
        easing, math.pi / 2
    )


def _level_track(a: float, b: float, length: float, easing: str) -> ParamTrack:
    keys = [{"t": 0.0, "v": a}, {"t": length, "v": b, "ease": easing}]
    return normalise_param(level_param(), keys, clip_length=length)


@given(
    easing=st.sampled_from([e for e in EASINGS if e != "step"]),
    a=st.floats(0.0, 1.0),
    b=st.floats(0.0, 1.0),
    length=st.floats(0.1, 60.0),
    u=st.floats(-0.1, 1.1),
)
def test_keyframed_level_is_continuous_for_every_smooth_easing(
    easing: str, a: float, b: float, length: float, u: float
) -> None:
    track = _level_track(a, b, length, easing)
    dt = length * 1e-3
    t = u * length
    step = abs(track.at(t + dt)[0] - track.at(t)[0])
    assert step <= _max_slope(easing) * abs(b - a) * dt / length + 1e-9


@given(
    easing=st.sampled_from(EASINGS),
    a=st.floats(0.0, 1.0),
    b=st.floats(0.0, 1.0),
    length=st.floats(0.1, 60.0),
    us=st.lists(st.floats(-0.1, 1.1), min_size=2, max_size=20),
)
def test_keyframed_level_is_monotone_between_keys_for_every_easing(
    easing: str, a: float, b: float, length: float, us: list[float]
) -> None:
    track = _level_track(a, b, length, easing)
    values = np.array([track.at(u * length)[0] for u in sorted(us)])
    steps = np.diff(values) * (1.0 if b >= a else -1.0)
    assert (steps >= -1e-12).all()
    assert min(a, b) - 1e-12 <= values.min()
    assert values.max() <= max(a, b) + 1e-12


def test_step_easing_holds_then_jumps_at_its_key() -> None:
    track = _level_track(0.2, 0.9, 2.0, "step")
    assert track.at(0.0) == (0.2,)
    assert track.at(1.999) == (0.2,)
    assert track.at(2.0) == (0.9,)


@heavy(30)
@given(
    easing=st.sampled_from(EASINGS),
    a=st.floats(0.0, 1.0),
    b=st.floats(0.0, 1.0),
)
def test_rendered_keyframed_level_fades_monotonically_in_small_steps(
    easing: str, a: float, b: float
) -> None:
    keys = [{"t": 0.0, "v": a}, {"t": 4.0, "v": b, "ease": easing}]
    plan = plan_of([make_clip("solid", {"level": keys}, target=Target(group="floods"))])
    flood = fixture_elements(plan, "flood-01")[0]
    times = np.linspace(0.0, 4.5, 181)  # 40 fps, past the last key
    levels = np.array([frame_at(plan, t)[Attribute.INTENSITY, flood] for t in times])
    steps = np.diff(levels.astype(np.float64)) * (1.0 if b >= a else -1.0)
    assert (steps >= -1e-6).all()  # float32 frames: allow rounding
    if easing != "step":
        assert np.abs(np.diff(levels)).max() <= 3.0 * abs(b - a) * 0.025 / 4.0 + 1e-6
    assert levels[-1] == pytest.approx(b, abs=1e-6)


@given(
    curve=st.sampled_from(list(Curve)),
    gamma=st.floats(0.11, 5.0),
    levels=hnp.arrays(np.float32, st.integers(1, 64), elements=UNIT32),
)
def test_every_curve_is_monotone_and_fixes_zero_and_one(
    curve: Curve, gamma: float, levels: F32
) -> None:
    ends = apply_curve(curve, np.array([0.0, 1.0], np.float32), gamma)
    np.testing.assert_allclose(ends, [0.0, 1.0], atol=1e-6)
    ordered = np.sort(levels)
    mapped = apply_curve(curve, ordered.copy(), gamma)
    assert (np.diff(mapped) >= 0).all()
    assert mapped.min() >= 0.0
    assert mapped.max() <= 1.0 + 1e-6
