"""L3 moving effects: chase, wave, the city pulse, heartbeat."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from controller.effects_api import EffectSpec, ParamKind, ParamSpec, ParamTrack
from controller.render.context import ClipRenderer, EffectContext, ParamValues
from controller.render.effects.common import (
    RGBI,
    axis_coordinate,
    axis_param,
    color_param,
    level_param,
    number_param,
    phase,
    write_rgbi,
)

__all__ = ["SPECS", "heartbeat_envelope"]

F32 = NDArray[np.float32]


class Chase:
    """A lit head running along the axis with a linear tail; wraps around."""

    def prepare(self, ctx: EffectContext, params: Mapping[str, ParamTrack]) -> ClipRenderer:
        origin = params["origin"].at(0.0)
        coord = axis_coordinate(ctx, params["axis"].text or "order", origin)
        if params["reverse"].at(0.0)[0] > 0.5:
            coord = 1.0 - coord

        def render(t: float, p: ParamValues, out: F32) -> None:
            head = phase(p, "speed", t) % 1.0
            behind = (np.float32(head) - coord) % np.float32(1.0)
            width = max(p["width"][0], 1e-4)
            tail = max(p["tail"][0], 0.0)
            lit = np.where(behind <= width, 1.0, 0.0).astype(np.float32)
            if tail > 0:
                fading = np.clip(1.0 - (behind - width) / np.float32(tail), 0.0, 1.0)
                lit = np.maximum(lit, np.where(behind > width, fading, 0.0)).astype(np.float32)
            bg = p["background"][0]
            write_rgbi(out, bg + (p["level"][0] - bg) * lit, p["color"])

        return render


class Wave:
    """A sine wave of intensity travelling along an axis."""

    def prepare(self, ctx: EffectContext, params: Mapping[str, ParamTrack]) -> ClipRenderer:
        coord = axis_coordinate(ctx, params["axis"].text or "x")

        def render(t: float, p: ParamValues, out: F32) -> None:
            arg = coord * np.float32(p["cycles"][0]) - np.float32(phase(p, "speed", t))
            s = 0.5 + 0.5 * np.sin(np.float32(2 * math.pi) * arg)
            floor = p["floor"][0]
            write_rgbi(out, (floor + (p["level"][0] - floor) * s).astype(np.float32), p["color"])

        return render


MIN_PERIOD_S = 0.05  # shorter repeat periods are treated as this (rings would merge anyway)


class CityPulse:
    """Wavefronts expanding from `origin` across the city at `speed` m/s.

    Brightness at distance d, `age` seconds after a pulse started: a Gaussian ring of
    `width` metres at radius speed*age, scaled by exp(-decay*age), plus an afterglow inside
    the ring. With `period` > 0 a new pulse starts every period seconds; each element is lit
    by the ring nearest to it and glows from the youngest ring that has passed it, so the
    cost per frame does not grow with the number of pulses in flight.
    """

    def prepare(self, ctx: EffectContext, params: Mapping[str, ParamTrack]) -> ClipRenderer:
        # The wave depends only on horizontal distance, and every cell of a vertical strip
        # shares it: evaluate on the distinct ground positions, then expand with one gather.
        ground, expand = np.unique(ctx.positions[:, :2], axis=0, return_inverse=True)
        expand = expand.reshape(-1)
        cache: dict[tuple[float, ...], F32] = {}

        def distances(origin: tuple[float, ...]) -> F32:
            if origin not in cache:
                if len(cache) > 8:
                    cache.clear()
                o = np.asarray(origin[:2], np.float32)
                cache[origin] = np.sqrt(((ground - o) ** 2).sum(axis=1)).astype(np.float32)
            return cache[origin]

        def render(t: float, p: ParamValues, out: F32) -> None:
            level = pulse_level(distances(p["origin"]), t, p)
            write_rgbi(out, level[expand] if len(ground) < ctx.n else level, p["color"])

        return render


def pulse_level(dist: F32, t: float, p: ParamValues) -> F32:
    """City-pulse brightness at ground distances `dist` at clip time `t` (see `CityPulse`)."""
    speed, width = p["speed"][0], max(p["width"][0], 0.01)
    decay, glow, period = p["decay"][0], p["afterglow"][0], p["period"][0]
    if period > 0:
        period = max(period, MIN_PERIOD_S)
    # when the front passed each element; the age of the pulse whose ring is nearest it
    reach = np.float32(t) - dist * np.float32(1.0 / speed)
    per = np.float32(period)
    if period > 0:
        cycles = reach * np.float32(1.0 / period)
        k = np.floor(cycles + np.float32(0.5))
        np.clip(k, np.float32(0.0), np.float32(math.floor(t / period)), out=k)
        age = np.float32(t) - k * per
    else:
        cycles = None
        age = np.full_like(dist, np.float32(t))
    x = (dist - age * np.float32(speed)) * np.float32(1.0 / width)
    x *= x
    x += np.float32(decay) * age
    np.negative(x, out=x)
    level = np.exp(x)
    if glow > 0:  # afterglow from the youngest ring that has passed
        young = (np.float32(t) - np.floor(cycles) * per) if cycles is not None else age
        after = np.float32(glow) * np.exp(-np.float32(decay) * young)
        after *= reach >= 0
        np.maximum(level, after, out=level)
    np.clip(level, 0.0, 1.0, out=level)
    level *= np.float32(p["level"][0])
    return np.asarray(level, dtype=np.float32)


def heartbeat_envelope(phase: F32 | float) -> F32:
    """Lub-dub: two Gaussian beats per cycle (phase 0..1), peaks 1.0 and 0.6."""
    ph = np.asarray(phase, np.float32) % 1.0
    lub = np.exp(-(((ph - 0.08) / 0.045) ** 2))
    dub = 0.6 * np.exp(-(((ph - 0.30) / 0.06) ** 2))
    return np.asarray(np.maximum(lub, dub), dtype=np.float32)


class Heartbeat:
    def prepare(self, ctx: EffectContext, params: Mapping[str, ParamTrack]) -> ClipRenderer:
        coord = axis_coordinate(ctx, params["axis"].text or "order")

        def render(t: float, p: ParamValues, out: F32) -> None:
            beats = phase(p, "bpm", t) / 60.0
            env = heartbeat_envelope(np.float32(beats) - coord * np.float32(p["lag"][0]))
            floor = p["floor"][0]
            write_rgbi(out, floor + (p["level"][0] - floor) * env, p["color"])

        return render


def _point(name: str, doc: str) -> ParamSpec:
    return ParamSpec(name=name, kind=ParamKind.POINT, default=[0, 0, 0], doc=doc)


SPECS = (
    EffectSpec(
        name="chase",
        doc="A lit segment running along the selection (order or an axis), with a fading tail.",
        writes=RGBI,
        params=(
            color_param("color", "white", "colour"),
            level_param(),
            level_param("background", 0.0, "intensity behind the chase"),
            number_param(
                "speed", 0.5, "runs per second", unit="Hz", minimum=-50, maximum=50, rate=True
            ),
            number_param("width", 0.1, "lit fraction of the run", minimum=0.0001, maximum=1),
            number_param("tail", 0.2, "fading tail, fraction of the run", minimum=0, maximum=1),
            axis_param("order"),
            _point("origin", "origin for axis 'distance'"),
            ParamSpec(name="reverse", kind=ParamKind.BOOL, default=False, doc="run backwards"),
        ),
        impl=Chase(),
    ),
    EffectSpec(
        name="wave",
        doc="A travelling sine wave of intensity along an axis.",
        writes=RGBI,
        params=(
            color_param("color", "cyan", "colour"),
            level_param(),
            level_param("floor", 0.0, "intensity at the troughs"),
            number_param("cycles", 2.0, "waves across the selection", minimum=0, maximum=1000),
            number_param(
                "speed", 0.5, "waves per second", unit="Hz", minimum=-50, maximum=50, rate=True
            ),
            axis_param("x"),
        ),
        impl=Wave(),
    ),
    EffectSpec(
        name="city-pulse",
        doc="The city pulse: a wavefront expanding from `origin` across buildings at `speed`.",
        writes=RGBI,
        params=(
            _point("origin", "where the pulse starts, metres"),
            number_param("speed", 150.0, "wavefront speed", unit="m/s", minimum=0.1, maximum=1e5),
            number_param("width", 40.0, "ring width", unit="m", minimum=0.01, maximum=1e5),
            number_param("decay", 0.3, "amplitude decay rate", unit="1/s", minimum=0, maximum=100),
            level_param("afterglow", 0.15, "glow left inside the ring"),
            number_param("period", 0.0, "seconds between pulses (0: one)", unit="s", minimum=0),
            color_param("color", "#40c0ff", "colour"),
            level_param(),
        ),
        impl=CityPulse(),
    ),
    EffectSpec(
        name="heartbeat",
        doc="A lub-dub heartbeat at `bpm`, optionally lagging along the selection.",
        writes=RGBI,
        params=(
            color_param("color", "red", "colour"),
            number_param(
                "bpm", 60.0, "beats per minute", unit="bpm", minimum=1, maximum=300, rate=True
            ),
            level_param(),
            level_param("floor", 0.05, "intensity between beats"),
            number_param("lag", 0.0, "beats of delay across the selection", minimum=0, maximum=16),
            axis_param("order"),
        ),
        impl=Heartbeat(),
    ),
)
