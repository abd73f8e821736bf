"""L3 colour effects: solid, dimmer, fade, rainbow, linear and radial gradients."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from controller.attributes import Attribute
from controller.effects_api import EASINGS, EffectSpec, ParamKind, ParamSpec, ParamTrack, ease
from controller.render import jit
from controller.render.context import ClipRenderer, EffectContext, ParamValues
from controller.render.effects import fused
from controller.render.effects.common import (
    RGBI,
    axis_coordinate,
    axis_param,
    color_param,
    level_param,
    number_param,
    phase,
    scale_light,
    write_rgbi,
)

__all__ = ["SPECS", "hsv_to_rgb"]

F32 = NDArray[np.float32]


def hsv_to_rgb(h: F32, s: float, out: F32) -> None:
    """Hue 0..1 (wrapping) at saturation `s`, full value, into rows out[0:3]."""
    h6 = (h % 1.0) * 6.0
    np.clip(np.abs(h6 - 3.0) - 1.0, 0.0, 1.0, out=out[0])
    np.clip(2.0 - np.abs(h6 - 2.0), 0.0, 1.0, out=out[1])
    np.clip(2.0 - np.abs(h6 - 4.0), 0.0, 1.0, out=out[2])
    if s < 1.0:
        out[0:3] *= s
        out[0:3] += 1.0 - s


class Solid:
    def prepare(self, ctx: EffectContext, params: Mapping[str, ParamTrack]) -> ClipRenderer:
        def render(t: float, p: ParamValues, out: F32) -> None:
            write_rgbi(out, p["level"][0], p["color"])

        return render


class Dimmer:
    def prepare(self, ctx: EffectContext, params: Mapping[str, ParamTrack]) -> ClipRenderer:
        def render(t: float, p: ParamValues, out: F32) -> None:
            out[0] = p["level"][0]

        return render


class Fade:
    def prepare(self, ctx: EffectContext, params: Mapping[str, ParamTrack]) -> ClipRenderer:
        easing = params["ease"].text or "linear"

        def render(t: float, p: ParamValues, out: F32) -> None:
            u = ease(easing, min(max(t / max(p["duration"][0], 1e-6), 0.0), 1.0))
            a, b = p["from"], p["to"]
            color = tuple(x + (y - x) * u for x, y in zip(a, b, strict=True))
            level = p["from_level"][0] + (p["to_level"][0] - p["from_level"][0]) * u
            write_rgbi(out, level, color)

        return render


HUE_STEPS = 2048


class Rainbow:
    """Hue from a lookup table of HUE_STEPS colours (finer than 8-bit output resolves)."""

    def prepare(self, ctx: EffectContext, params: Mapping[str, ParamTrack]) -> ClipRenderer:
        coord = axis_coordinate(ctx, params["axis"].text or "order")
        tables: dict[float, F32] = {}
        hue_index = np.empty(ctx.n, np.int64)

        def table(saturation: float) -> F32:
            if saturation not in tables:
                tab = np.empty((3, HUE_STEPS), np.float32)
                hsv_to_rgb(
                    np.arange(HUE_STEPS, dtype=np.float32) / np.float32(HUE_STEPS), saturation, tab
                )
                tables.clear()
                tables[saturation] = tab
            return tables[saturation]

        def render(t: float, p: ParamValues, out: F32) -> None:
            if jit.enabled():
                k1 = float(np.float32(p["spread"][0] * HUE_STEPS))
                k2 = float(np.float32((phase(p, "speed", t) % 1.0) * HUE_STEPS))
                tab = table(p["saturation"][0])
                fused.rainbow_rgbi(coord, k1, k2, HUE_STEPS - 1, tab, p["level"][0], out)
                return
            hue = coord * np.float32(p["spread"][0] * HUE_STEPS)
            hue += np.float32((phase(p, "speed", t) % 1.0) * HUE_STEPS)
            np.copyto(hue_index, hue, casting="unsafe")
            np.bitwise_and(hue_index, HUE_STEPS - 1, out=hue_index)
            tab = table(p["saturation"][0])
            for row in range(3):
                np.take(tab[row], hue_index, out=out[1 + row])
            scale_light(out, p["level"][0])

        return render


class Gradient:
    def prepare(self, ctx: EffectContext, params: Mapping[str, ParamTrack]) -> ClipRenderer:
        pos = ctx.positions[:, :2]

        def render(t: float, p: ParamValues, out: F32) -> None:
            a = np.asarray(p["start"][:2], np.float32)
            d = np.asarray(p["end"][:2], np.float32) - a
            norm2 = float(d @ d)
            if norm2 <= 1e-9:
                u = np.zeros(ctx.n, np.float32)
            else:
                u = np.clip(((pos - a) @ d) / np.float32(norm2), 0.0, 1.0).astype(np.float32)
            _mix(out, u, p["from"], p["to"], p["level"][0])

        return render


class RadialGradient:
    def prepare(self, ctx: EffectContext, params: Mapping[str, ParamTrack]) -> ClipRenderer:
        pos = ctx.positions[:, :2]

        base, span = np.empty(3, np.float32), np.empty(3, np.float32)

        def render(t: float, p: ParamValues, out: F32) -> None:
            c = np.asarray(p["center"][:2], np.float32)
            if jit.enabled():
                a, b = p["inner"], p["outer"]
                for row in range(3):
                    base[row], span[row] = a[row], b[row] - a[row]
                fused.radial_rgbi(
                    ctx.positions, float(c[0]), float(c[1]), float(np.float32(p["radius"][0])),
                    base, span, p["level"][0], out,
                )  # fmt: skip
                return
            dist = np.sqrt(((pos - c) ** 2).sum(axis=1))
            u = np.clip(dist / np.float32(p["radius"][0]), 0.0, 1.0).astype(np.float32)
            _mix(out, u, p["inner"], p["outer"], p["level"][0])

        return render


def _mix(out: F32, u: F32, a: tuple[float, ...], b: tuple[float, ...], level: float) -> None:
    for row in range(3):
        out[1 + row] = a[row] + (b[row] - a[row]) * u
    scale_light(out, level)


_EASE = ParamSpec(
    name="ease",
    kind=ParamKind.CHOICE,
    default="linear",
    choices=EASINGS,
    doc="easing of the crossfade",
)

SPECS = (
    EffectSpec(
        name="solid",
        doc="Every target at one colour and level.",
        writes=RGBI,
        params=(color_param("color", "white", "colour"), level_param()),
        impl=Solid(),
    ),
    EffectSpec(
        name="dimmer",
        doc="Intensity only; colour untouched (use blend multiply for a master fade).",
        writes=(Attribute.INTENSITY,),
        params=(level_param(),),
        impl=Dimmer(),
    ),
    EffectSpec(
        name="fade",
        doc="Crossfade from one colour/level to another over `duration` seconds of the clip.",
        writes=RGBI,
        params=(
            color_param("from", "black", "start colour"),
            color_param("to", "white", "end colour"),
            level_param("from_level", 0.0, "start intensity"),
            level_param("to_level", 1.0, "end intensity"),
            number_param("duration", 1.0, "crossfade time", unit="s", minimum=0.0, maximum=3600),
            _EASE,
        ),
        impl=Fade(),
    ),
    EffectSpec(
        name="rainbow",
        doc="Hue cycle spread across the targets along an axis.",
        writes=RGBI,
        params=(
            number_param(
                "speed", 0.2, "hue cycles per second", unit="Hz", minimum=-10, maximum=10, rate=True
            ),
            number_param("spread", 1.0, "hue cycles across the selection", minimum=0, maximum=100),
            level_param("saturation", 1.0, "colour saturation"),
            axis_param("order"),
            level_param(),
        ),
        impl=Rainbow(),
    ),
    EffectSpec(
        name="gradient",
        doc="Linear colour gradient in city coordinates from `start` to `end` (metres).",
        writes=RGBI,
        params=(
            ParamSpec(name="start", kind=ParamKind.POINT, default=[0, 0], doc="where 'from' is"),
            ParamSpec(name="end", kind=ParamKind.POINT, default=[100, 0], doc="where 'to' is"),
            color_param("from", "blue", "colour at start"),
            color_param("to", "magenta", "colour at end"),
            level_param(),
        ),
        impl=Gradient(),
    ),
    EffectSpec(
        name="radial-gradient",
        doc="Colour by distance from `center` (metres): `inner` at the centre, `outer` at radius.",
        writes=RGBI,
        params=(
            ParamSpec(name="center", kind=ParamKind.POINT, default=[0, 0], doc="centre, metres"),
            number_param("radius", 100.0, "radius", unit="m", minimum=0.01, maximum=100000),
            color_param("inner", "white", "colour at the centre"),
            color_param("outer", "blue", "colour at and beyond the radius"),
            level_param(),
        ),
        impl=RadialGradient(),
    ),
)
