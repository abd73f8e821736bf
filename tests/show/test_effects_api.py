"""Parameter normalisation (colours, points, numbers, keyframes) and easing curves."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.effects_api import (
    EASINGS,
    EffectRegistry,
    EffectSpec,
    Keyframe,
    ParamError,
    ParamKind,
    ParamSpec,
    ParamTrack,
    normalise_param,
)
from controller.effects_api import ease as ease_fn
from controller.render.effects import default_registry

COLOR = ParamSpec(name="color", kind=ParamKind.COLOR, default="white", doc="")
POINT = ParamSpec(name="origin", kind=ParamKind.POINT, default=[0, 0], doc="")
LEVEL = ParamSpec(
    name="level", kind=ParamKind.NUMBER, default=1.0, minimum=0.0, maximum=1.0, doc=""
)
SPEED = ParamSpec(name="speed", kind=ParamKind.NUMBER, default=0.0, doc="", unit="m/s")
AXIS = ParamSpec(
    name="axis", kind=ParamKind.CHOICE, default="x", choices=("order", "x", "y"), doc=""
)
FLAG = ParamSpec(name="safe", kind=ParamKind.BOOL, default=True, doc="")
FILE = ParamSpec(name="file", kind=ParamKind.TEXT, default="", doc="")

unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
smooth_easings = [e for e in EASINGS if e != "step"]


def value(spec: ParamSpec, raw: object, length: float = 10.0) -> tuple[float, ...]:
    track = normalise_param(spec, raw, clip_length=length)
    assert track.constant
    return track.at(0.0)


def error(spec: ParamSpec, raw: object, length: float = 10.0) -> ParamError:
    with pytest.raises(ParamError) as info:
        normalise_param(spec, raw, clip_length=length)
    assert not info.value.message[0].isupper()
    assert not info.value.message.endswith(".")
    return info.value


# -- colours ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("red", (1.0, 0.0, 0.0), id="name"),
        pytest.param("  Warm-White ", (1.0, 0.85, 0.6), id="name-case-and-space"),
        pytest.param("#ff8000", (1.0, 128 / 255, 0.0), id="hex-lower"),
        pytest.param("#FF8000", (1.0, 128 / 255, 0.0), id="hex-upper"),
        pytest.param("#000000", (0.0, 0.0, 0.0), id="hex-black"),
        pytest.param([0, 0.5, 1], (0.0, 0.5, 1.0), id="list-ints-and-floats"),
    ],
)
def test_colour_forms_normalise_to_rgb_in_unit_range(
    raw: object, expected: tuple[float, ...]
) -> None:
    assert value(COLOR, raw) == pytest.approx(expected)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("#12345", id="hex-short"),
        pytest.param("#12345z", id="hex-bad-digit"),
        pytest.param("blurple", id="unknown-name"),
        pytest.param([1, 0], id="two-components"),
        pytest.param([0, 0, 2], id="component-above-1"),
        pytest.param([0, -0.1, 0], id="component-below-0"),
        pytest.param([True, 0, 0], id="bool-component"),
        pytest.param(["1", 0, 0], id="string-component"),
        pytest.param(5, id="number"),
        pytest.param(None, id="null"),
    ],
)
def test_bad_colour_is_rejected_naming_the_value_and_the_forms(raw: object) -> None:
    exc = error(COLOR, raw)
    assert exc.message.startswith(f"color={raw!r} is not a colour")
    assert "'#rrggbb'" in exc.message
    assert exc.where == ()


# -- points ----------------------------------------------------------------------------------


def test_two_component_point_gets_z_zero() -> None:
    assert value(POINT, [3, -4.5]) == (3.0, -4.5, 0.0)


def test_three_component_point_is_kept() -> None:
    assert value(POINT, [1, 2, 3]) == (1.0, 2.0, 3.0)


@pytest.mark.parametrize(
    "raw",
    [[1], [1, 2, 3, 4], [math.nan, 0], [0, math.inf], ["a", 0], [True, 0], "1,2", {"x": 1}],
    ids=["one", "four", "nan", "inf", "text", "bool", "string", "mapping"],
)
def test_bad_point_is_rejected(raw: object) -> None:
    assert "is not a point" in error(POINT, raw).message


# -- numbers, choices, bools, text -----------------------------------------------------------


def test_number_in_range_is_kept_as_float() -> None:
    assert value(LEVEL, 1) == (1.0,)
    assert value(LEVEL, 0.25) == (0.25,)


@pytest.mark.parametrize("raw", [1.5, -0.01])
def test_number_out_of_range_names_the_range(raw: float) -> None:
    assert error(LEVEL, raw).message == f"level={raw!r} out of range: expected a number 0..1"


@pytest.mark.parametrize("raw", [True, "1", math.nan, math.inf, None, [1]])
def test_non_number_is_rejected(raw: object) -> None:
    assert error(LEVEL, raw).message.startswith(f"level={raw!r} is not a number")


def test_unbounded_number_mentions_unit_and_infinite_range() -> None:
    assert error(SPEED, "fast").message == "speed='fast' is not a number -inf..inf m/s"


def test_choice_keeps_text_and_index() -> None:
    track = normalise_param(AXIS, "y", clip_length=1.0)
    assert track.text == "y"
    assert track.at(0.0) == (2.0,)
    assert "one of 'order', 'x', 'y'" in error(AXIS, "z").message


def test_bool_and_text_parameters() -> None:
    assert value(FLAG, True) == (1.0,)
    assert value(FLAG, False) == (0.0,)
    assert error(FLAG, "yes").message == "safe='yes' is not true or false"
    assert normalise_param(FILE, "a.png", clip_length=1.0).text == "a.png"
    assert error(FILE, "").message == "file='' is not text"


def test_choice_bool_and_text_cannot_be_keyframed() -> None:
    keys = [{"t": 0, "v": True}, {"t": 1, "v": False}]
    error(FLAG, keys)
    error(AXIS, keys)


# -- keyframes -------------------------------------------------------------------------------


def track(*keys: dict[str, object], spec: ParamSpec = SPEED, length: float = 10.0) -> ParamTrack:
    return normalise_param(spec, list(keys), clip_length=length)


def test_keyframes_interpolate_linearly_by_default() -> None:
    t = track({"t": 0, "v": 0}, {"t": 4, "v": 8})
    assert [k.ease for k in t.keys] == ["linear", "linear"]
    assert t.at(1.0) == pytest.approx((2.0,))
    assert t.at(2.0) == pytest.approx((4.0,))


def test_keyframed_colour_interpolates_each_component() -> None:
    t = track({"t": 0, "v": "black"}, {"t": 2, "v": [1, 0.5, 0]}, spec=COLOR)
    assert t.at(1.0) == pytest.approx((0.5, 0.25, 0.0))


def test_keyframed_point_interpolates_in_3d() -> None:
    t = track({"t": 0, "v": [0, 0]}, {"t": 1, "v": [10, 20, 30]}, spec=POINT)
    assert t.at(0.5) == pytest.approx((5.0, 10.0, 15.0))


def test_track_holds_before_the_first_and_after_the_last_key() -> None:
    t = track({"t": 2, "v": 1}, {"t": 6, "v": 3}, {"t": 8, "v": -1})
    assert t.at(0.0) == (1.0,)
    assert t.at(2.0) == (1.0,)
    assert t.at(8.0) == (-1.0,)
    assert t.at(100.0) == (-1.0,)


def test_track_passes_through_every_key() -> None:
    t = track({"t": 0, "v": 0}, {"t": 3, "v": 5, "ease": "in-cubic"}, {"t": 5, "v": 1})
    for k in t.keys:
        assert t.at(k.t) == k.value


def test_step_holds_the_previous_value_until_the_key() -> None:
    t = track({"t": 0, "v": 0}, {"t": 4, "v": 10, "ease": "step"})
    assert t.at(3.999) == (0.0,)
    assert t.at(4.0) == (10.0,)


def test_ease_names_the_segment_ending_at_its_key() -> None:
    t = track({"t": 0, "v": 0}, {"t": 1, "v": 1, "ease": "in-cubic"}, {"t": 2, "v": 2})
    assert t.at(0.5) == pytest.approx((0.125,))  # in-cubic
    assert t.at(1.5) == pytest.approx((1.5,))  # linear


@pytest.mark.parametrize(
    ("keys", "where", "fragment"),
    [
        pytest.param([{"t": 0, "v": 0}, {"t": 0, "v": 1}], (1, "t"), "not after", id="same-t"),
        pytest.param([{"t": 5, "v": 0}, {"t": 2, "v": 1}], (1, "t"), "not after", id="backward"),
        pytest.param([{"t": -1, "v": 0}], (0, "t"), "outside the clip", id="negative-t"),
        pytest.param([{"t": 11, "v": 0}], (0, "t"), "outside the clip (0..10 s)", id="late"),
        pytest.param([{"t": True, "v": 0}], (0, "t"), "outside the clip", id="bool-t"),
        pytest.param([{"t": 0, "v": 0, "ease": "bounce"}], (0, "ease"), "unknown", id="ease"),
        pytest.param([{"t": 0}], (0,), "needs 't'", id="no-v"),
        pytest.param([{"v": 0}], (0,), "needs 't'", id="no-t"),
        pytest.param([{"t": 0, "v": 0, "x": 1}], (0,), "unknown keyframe key 'x'", id="key"),
        pytest.param([{"t": 0, "v": "red"}], (0, "v"), "not a number", id="bad-v"),
    ],
)
def test_bad_keyframes_point_inside_the_value(
    keys: list[dict[str, object]], where: tuple[str | int, ...], fragment: str
) -> None:
    exc = error(SPEED, keys)
    assert exc.where == where
    assert fragment in exc.message


def test_unknown_easing_lists_every_easing() -> None:
    exc = error(SPEED, [{"t": 0, "v": 0, "ease": "bounce"}])
    assert exc.message == f"ease='bounce' unknown (allowed: {', '.join(EASINGS)})"


# -- easing curves ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", EASINGS)
def test_easing_maps_endpoints_exactly(name: str) -> None:
    assert ease_fn(name, 0.0) == 0.0
    assert ease_fn(name, 1.0) == 1.0


@pytest.mark.parametrize("name", EASINGS)
@given(a=unit, b=unit)
def test_easing_is_monotone_non_decreasing_within_unit_range(name: str, a: float, b: float) -> None:
    lo, hi = min(a, b), max(a, b)
    assert 0.0 <= ease_fn(name, lo) <= ease_fn(name, hi) <= 1.0


@given(u=st.floats(min_value=0.0, max_value=1.0, exclude_max=True))
def test_step_is_zero_until_the_end(u: float) -> None:
    assert ease_fn("step", u) == 0.0


@pytest.mark.parametrize("name", ["in-out-sine", "in-out-cubic"])
def test_symmetric_easings_pass_through_the_middle(name: str) -> None:
    assert ease_fn(name, 0.5) == pytest.approx(0.5)


keyframe_lists = st.lists(
    st.tuples(
        st.floats(min_value=0.0, max_value=100.0, allow_nan=False),
        st.floats(min_value=-1e3, max_value=1e3, allow_nan=False),
        st.sampled_from(EASINGS),
    ),
    min_size=1,
    max_size=6,
    unique_by=lambda k: k[0],
).map(sorted)


def _track(keys: list[tuple[float, float, str]]) -> ParamTrack:
    return ParamTrack(tuple(Keyframe(t, (v,), e) for t, v, e in keys))


@given(keys=keyframe_lists, t=st.floats(min_value=-50.0, max_value=150.0))
def test_track_value_stays_between_its_neighbouring_keys(
    keys: list[tuple[float, float, str]], t: float
) -> None:
    tr = _track(keys)
    (v,) = tr.at(t)
    if t <= keys[0][0]:
        assert v == keys[0][1]
    elif t >= keys[-1][0]:
        assert v == keys[-1][1]
    else:
        i = max(i for i, k in enumerate(keys) if k[0] <= t)
        lo, hi = sorted((keys[i][1], keys[i + 1][1]))
        assert lo - 1e-9 <= v <= hi + 1e-9


@given(
    keys=keyframe_lists.filter(lambda ks: len(ks) >= 2 and all(k[2] != "step" for k in ks)),
    s=unit,
)
def test_track_is_continuous_between_keys_for_smooth_easings(
    keys: list[tuple[float, float, str]], s: float
) -> None:
    tr = _track(keys)
    t0, t1 = keys[0][0], keys[-1][0]
    t = t0 + (t1 - t0) * s
    h = 1e-7 * max(1.0, t1 - t0)
    (a,) = tr.at(t - h)
    (b,) = tr.at(t + h)
    # slope of an eased segment is at most 3x the linear one (cubic ends); keys may be close
    gaps = [y[0] - x[0] for x, y in itertools.pairwise(keys)]
    bound = 3 * 2e3 * (2 * h) / min(gaps) + 1e-9
    assert abs(a - b) <= bound


@pytest.mark.parametrize("name", smooth_easings)
def test_track_is_continuous_at_an_interior_key(name: str) -> None:
    tr = _track([(0.0, 0.0, "linear"), (1.0, 1.0, name), (2.0, 5.0, name)])
    h = 1e-9
    assert tr.at(1.0 - h)[0] == pytest.approx(1.0, abs=1e-6)
    assert tr.at(1.0 + h)[0] == pytest.approx(1.0, abs=1e-6)


# -- the registry ------------------------------------------------------------------------------


def test_every_registered_default_either_normalises_or_is_required() -> None:
    for spec in default_registry().values():
        for p in spec.params:
            try:
                normalise_param(p, p.default, clip_length=10.0)
            except ParamError:
                assert p.kind is ParamKind.TEXT, f"{spec.name}.{p.name} default is invalid"


def test_registry_rejects_a_name_registered_twice() -> None:
    spec = EffectSpec(name="x", doc="", writes=(), params=())
    reg = EffectRegistry([spec])
    assert reg["x"] is spec
    assert len(reg) == 1
    with pytest.raises(ValueError, match="registered twice"):
        reg.register(spec)
