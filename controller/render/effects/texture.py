"""L3 textured effects: sparkle, strobe, noise and fire (deterministic per seed)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from controller.effects_api import EffectSpec, ParamKind, ParamSpec, ParamTrack
from controller.render import jit
from controller.render.context import ClipRenderer, EffectContext, ParamValues
from controller.render.effects import fused
from controller.render.effects.common import (
    RANDOM_TABLE,
    RGBI,
    TABLE_MASK,
    LatticeNoise,
    color_param,
    hash01,
    level_param,
    number_param,
    phase,
    scale_light,
    write_rgbi,
)

__all__ = ["SAFE_STROBE_HZ", "SPECS"]

F32 = NDArray[np.float32]
# Photosensitive-epilepsy guidance (e.g. ITU-R BT.1702, WCAG 2.3.1): no more than three
# flashes per second. The strobe effect caps at this unless a clip says `safe: false`.
SAFE_STROBE_HZ = 3.0


class Sparkle:
    """Each element flashes at random cycles and decays; `density` is the chance per cycle.

    An element's cycle number, and so its random draw, changes only a few times a second:
    the draws are cached and refreshed only where the cycle moved on, and the flash is
    computed only for lit elements. Same values as drawing every frame, a fraction of the work.
    """

    def prepare(self, ctx: EffectContext, params: Mapping[str, ParamTrack]) -> ClipRenderer:
        ids = ctx.element_ids
        offset = hash01(ids, seed=ctx.seed)
        key = ((ids * 73856093) ^ ((ctx.seed * 19349663) & 0x7FFFFFFF)).astype(np.int32)
        x = np.empty(ctx.n, np.float32)
        cycle = np.empty(ctx.n, np.int32)
        last = np.full(ctx.n, -1, np.int32)
        lucky = np.empty(ctx.n, np.float32)
        flash = np.zeros(ctx.n, np.float32)
        lit = np.zeros(0, np.intp)

        lit_buffer = np.empty(ctx.n, np.intp)
        color = np.empty(3, np.float32)

        def render(t: float, p: ParamValues, out: F32) -> None:
            nonlocal lit
            if jit.enabled():
                compiled(t, p, out)
                return
            rate = max(p["rate"][0], 1e-3)
            np.add(offset, np.float32(phase(p, "rate", t)), out=x)
            np.copyto(cycle, x, casting="unsafe")  # x >= 0, so truncation is floor
            moved = np.flatnonzero(cycle != last)
            if len(moved):
                draw = (key[moved] ^ (cycle[moved] * np.int32(83492791))) & TABLE_MASK
                lucky[moved] = RANDOM_TABLE[draw]
                last[moved] = cycle[moved]
            flash[lit] = 0.0
            lit = np.flatnonzero(lucky < np.float32(p["density"][0]))
            tau = np.float32(max(p["decay"][0] * rate, 1e-3))
            flash[lit] = np.exp(-(x[lit] - cycle[lit]) / tau)
            bg, level = p["background"][0], p["level"][0]
            if bg == 0.0:
                write_rgbi(out, flash * np.float32(level) if level != 1.0 else flash, p["color"])
            else:
                write_rgbi(out, bg + (level - bg) * flash, p["color"])

        def compiled(t: float, p: ParamValues, out: F32) -> None:
            nonlocal lit
            rate = max(p["rate"][0], 1e-3)
            count = fused.sparkle_draw(
                offset, float(np.float32(phase(p, "rate", t))), key, RANDOM_TABLE, TABLE_MASK,
                p["density"][0], x, cycle, last, lucky, lit_buffer,
            )  # fmt: skip
            flash[lit] = 0.0
            lit = lit_buffer[:count].copy()
            tau = np.float32(max(p["decay"][0] * rate, 1e-3))
            flash[lit] = np.exp(-(x[lit] - cycle[lit]) / tau)
            color[:] = p["color"][:3]
            fused.sparkle_rgbi(flash, p["level"][0], p["background"][0], color, out)

        return render


class Strobe:
    def prepare(self, ctx: EffectContext, params: Mapping[str, ParamTrack]) -> ClipRenderer:
        safe = params["safe"].at(0.0)[0] > 0.5

        def render(t: float, p: ParamValues, out: F32) -> None:
            rate = min(p["rate"][0], SAFE_STROBE_HZ) if safe else p["rate"][0]
            on = (t * rate) % 1.0 < p["duty"][0]
            write_rgbi(out, p["level"][0] if on else 0.0, p["color"])

        return render


def _noise_field(ctx: EffectContext, scale: float) -> tuple[F32, F32]:
    s = np.float32(1.0 / max(scale, 1e-3))
    pos = ctx.positions
    u = (pos[:, 0] + pos[:, 1] * np.float32(0.618)) * s
    v = pos[:, 2] * s
    return u.astype(np.float32), v.astype(np.float32)


class Noise:
    def prepare(self, ctx: EffectContext, params: Mapping[str, ParamTrack]) -> ClipRenderer:
        u, v = _noise_field(ctx, params["scale"].at(0.0)[0])
        noise = LatticeNoise(u, v, ctx.seed)

        base = np.empty(3, np.float32)
        span = np.empty(3, np.float32)

        def render(t: float, p: ParamValues, out: F32) -> None:
            if jit.enabled():
                la, lb, weight = noise.layers(phase(p, "speed", t))
                a, b = p["from"], p["to"]
                for row in range(3):
                    base[row], span[row] = a[row], b[row] - a[row]
                c, level = p["contrast"][0], p["level"][0]
                fused.noise_rgbi(la, lb, weight, c, base, span, level, out)
                return
            n = noise.at(phase(p, "speed", t))
            c = p["contrast"][0]
            n = np.clip((n - 0.5) * np.float32(c) + 0.5, 0.0, 1.0).astype(np.float32)
            a, b = p["from"], p["to"]
            for row in range(3):
                out[1 + row] = a[row] + (b[row] - a[row]) * n
            scale_light(out, p["level"][0])

        return render


_FIRE_STOPS = np.array(
    [[0.0, 0.0, 0.0], [0.7, 0.05, 0.0], [1.0, 0.35, 0.0], [1.0, 0.75, 0.1], [1.0, 1.0, 0.6]],
    dtype=np.float32,
)


class Fire:
    """Flames: noise scrolling upwards, hotter and brighter low on each building."""

    def prepare(self, ctx: EffectContext, params: Mapping[str, ParamTrack]) -> ClipRenderer:
        u, v = _noise_field(ctx, params["scale"].at(0.0)[0])
        z = ctx.positions[:, 2]
        whole = ctx.selection_positions[:, 2]
        zmin, zmax = float(whole.min(initial=0.0)), float(whole.max(initial=0.0))
        height = ((z - zmin) / max(zmax - zmin, 1e-6)).astype(np.float32)
        stops = _FIRE_STOPS
        last = len(stops) - 1

        def render(t: float, p: ParamValues, out: F32) -> None:
            rise = v - np.float32(phase(p, "speed", t))
            n = LatticeNoise(u, rise.astype(np.float32), ctx.seed).at(t * 0.7)
            heat = np.clip(n * 1.6 - height * np.float32(p["falloff"][0]), 0.0, 1.0)
            x = heat * np.float32(last)
            i = np.minimum(x.astype(np.int32), last - 1)
            f = (x - i)[:, None]
            rgb = stops[i] * (1 - f) + stops[i + 1] * f
            out[1:4] = rgb.T
            scale_light(out, heat.astype(np.float32) * np.float32(p["level"][0]))

        return render


SPECS = (
    EffectSpec(
        name="sparkle",
        doc="Twinkle: random elements flash and decay; deterministic for a clip's seed.",
        writes=RGBI,
        params=(
            color_param("color", "white", "flash colour"),
            level_param(),
            level_param("background", 0.0, "intensity between flashes"),
            level_param("density", 0.1, "chance that an element flashes in a cycle"),
            number_param(
                "rate",
                2.0,
                "flash cycles per second",
                unit="Hz",
                minimum=0.01,
                maximum=40,
                rate=True,
            ),
            number_param("decay", 0.15, "flash decay time", unit="s", minimum=0.001, maximum=10),
        ),
        impl=Sparkle(),
    ),
    EffectSpec(
        name="strobe",
        doc=f"Intensity strobe; capped at {SAFE_STROBE_HZ:g} Hz unless `safe: false`.",
        writes=RGBI,
        params=(
            color_param("color", "white", "colour"),
            level_param(),
            number_param("rate", 2.0, "flashes per second", unit="Hz", minimum=0.1, maximum=25),
            number_param("duty", 0.2, "fraction of each cycle lit", minimum=0.01, maximum=0.99),
            ParamSpec(
                name="safe",
                kind=ParamKind.BOOL,
                default=True,
                doc=f"cap the rate at {SAFE_STROBE_HZ:g} Hz (photosensitivity guidance)",
            ),
        ),
        impl=Strobe(),
    ),
    EffectSpec(
        name="noise",
        doc="Smooth moving value noise between two colours, in city coordinates.",
        writes=RGBI,
        params=(
            color_param("from", "#001040", "colour at low noise"),
            color_param("to", "#00a0ff", "colour at high noise"),
            number_param("scale", 20.0, "feature size", unit="m", minimum=0.01, maximum=1e5),
            number_param("speed", 0.5, "change per second", minimum=0, maximum=100, rate=True),
            number_param("contrast", 1.5, "contrast around the middle", minimum=0, maximum=10),
            level_param(),
        ),
        impl=Noise(),
    ),
    EffectSpec(
        name="fire",
        doc="Flames rising up facades (heat from noise, black-red-orange-yellow palette).",
        writes=RGBI,
        params=(
            number_param("scale", 6.0, "flame size", unit="m", minimum=0.01, maximum=1e4),
            number_param(
                "speed", 1.5, "rise speed, flame sizes per second", minimum=0, maximum=50, rate=True
            ),
            number_param("falloff", 0.8, "how fast flames die with height", minimum=0, maximum=5),
            level_param(),
        ),
        impl=Fire(),
    ),
)
