"""Hypothesis strategies for renderer properties: clips of any effect over the mini venue.

Every parameter is either the effect's default or a random in-range value (numbers may be
keyframed with any easing), so the strategies follow `EffectSpec.params` and need no edit
when an effect is added. Media parameters point at files made by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping

from hypothesis import strategies as st

from controller.effects_api import EASINGS, ParamKind, ParamSpec
from controller.show.check import ResolvedClip
from controller.show.timeline import Blend, Target, Within
from tests.render.plans import REGISTRY, make_clip

__all__ = ["EFFECTS", "TARGETS", "clips", "param_value"]

EFFECTS = tuple(sorted(REGISTRY))
SHOW_S = 20.0  # the mini show's duration
TARGETS = (
    Target(),
    Target(group="floods"),
    Target(group="pixels"),
    Target(group=["movers", "architecture"]),
    Target(tag="south"),
    Target(building="tower"),
    Target(fixtures=["flood-02", "flood-04", "dim"]),  # not contiguous: an index selection
    Target(within=Within(center=(150.0, 0.0), radius=30.0)),
    Target(within=Within(min=(0.0, -10.0), max=(60.0, 0.0))),
    Target(exclude=Target(group="pixels")),
)
NAMED_COLOURS = ("red", "white", "black", "orange", "#40c0ff")


def _number(spec: ParamSpec) -> st.SearchStrategy[float]:
    lo = spec.minimum if spec.minimum is not None else -100.0
    hi = spec.maximum if spec.maximum is not None else lo + 100.0
    # Six decimals, as a show file would write them: a period of 1e-40 s is a separate,
    # known problem (test_effects::test_city_pulse_with_a_tiny_period_stays_finite).
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False).map(lambda x: round(x, 6))


def _colour() -> st.SearchStrategy[object]:
    unit = st.floats(0.0, 1.0, allow_nan=False)
    return st.one_of(st.sampled_from(NAMED_COLOURS), st.lists(unit, min_size=3, max_size=3))


def _point() -> st.SearchStrategy[object]:
    metres = st.floats(-300.0, 300.0, allow_nan=False)
    return st.lists(metres, min_size=2, max_size=3)


def _keyframed(values: st.SearchStrategy[object], length: float) -> st.SearchStrategy[object]:
    """Two keys spanning the clip, the second with a random easing."""
    return st.builds(
        lambda a, b, ease: [{"t": 0.0, "v": a}, {"t": length, "v": b, "ease": ease}],
        values,
        values,
        st.sampled_from(EASINGS),
    )


def param_value(
    spec: ParamSpec, *, length: float, media: Mapping[str, str]
) -> st.SearchStrategy[object]:
    """A raw show-file value for `spec` (what `normalise_param` accepts)."""
    if spec.kind is ParamKind.TEXT:
        return st.just(media[spec.name])
    if spec.kind is ParamKind.CHOICE:
        return st.sampled_from(spec.choices)
    if spec.kind is ParamKind.BOOL:
        return st.booleans()
    scalar: st.SearchStrategy[object] = {
        ParamKind.NUMBER: lambda: _number(spec),
        ParamKind.COLOR: _colour,
        ParamKind.POINT: _point,
    }[spec.kind]()
    return st.one_of(st.just(spec.default), scalar, _keyframed(scalar, length))


@st.composite
def clips(draw: st.DrawFn, media: Mapping[str, str], layer: int = 1) -> ResolvedClip:
    """One clip of a random effect, target, blend, opacity, fades and parameters."""
    effect = draw(st.sampled_from(EFFECTS))
    start = draw(st.floats(0.0, SHOW_S - 1.0))
    end = start + draw(st.floats(0.05, SHOW_S - start))
    length = end - start  # what make_clip checks keyframe times against
    fade_in = draw(st.floats(0.0, length / 2))
    fade_out = draw(st.floats(0.0, length / 2))
    spec = REGISTRY[effect]
    params = {}
    for p in spec.params:
        if p.kind is ParamKind.TEXT or draw(st.booleans()):
            params[p.name] = draw(param_value(p, length=length, media=media))
    return make_clip(
        effect,
        params,
        target=draw(st.sampled_from(TARGETS)),
        start=start,
        end=end,
        blend=draw(st.sampled_from(list(Blend))),
        opacity=draw(st.floats(0.0, 1.0)),
        fade_in=fade_in,
        fade_out=fade_out,
        # crc32 range, as the checker derives seeds; larger seeds: see test_effects
        seed=draw(st.integers(0, 2**32 - 1)),
        layer=layer,
    )
