"""L3 shared pieces of effects: parameter specs, colour rows, axes, deterministic noise."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from controller.attributes import Attribute
from controller.effects_api import ParamKind, ParamSpec
from controller.render.context import EffectContext

__all__ = [
    "AXES",
    "RGBI",
    "axis_coordinate",
    "axis_param",
    "color_param",
    "hash01",
    "level_param",
    "number_param",
    "value_noise",
    "write_rgbi",
]

F32 = NDArray[np.float32]
RGBI = (Attribute.INTENSITY, Attribute.RED, Attribute.GREEN, Attribute.BLUE)
AXES = ("order", "x", "y", "z", "distance")


def color_param(name: str, default: str, doc: str) -> ParamSpec:
    return ParamSpec(name=name, kind=ParamKind.COLOR, default=default, doc=doc)


def level_param(name: str = "level", default: float = 1.0, doc: str = "intensity") -> ParamSpec:
    return ParamSpec(
        name=name, kind=ParamKind.NUMBER, default=default, minimum=0.0, maximum=1.0, doc=doc
    )


def number_param(
    name: str,
    default: float,
    doc: str,
    *,
    unit: str = "",
    minimum: float | None = None,
    maximum: float | None = None,
) -> ParamSpec:
    return ParamSpec(
        name=name,
        kind=ParamKind.NUMBER,
        default=default,
        doc=doc,
        unit=unit,
        minimum=minimum,
        maximum=maximum,
    )


def axis_param(default: str = "order") -> ParamSpec:
    return ParamSpec(
        name="axis",
        kind=ParamKind.CHOICE,
        default=default,
        choices=AXES,
        doc="order: selection order; x/y/z: east/north/up position; distance: from 'origin'",
    )


def write_rgbi(out: F32, level: F32 | float, color: tuple[float, ...]) -> None:
    """Rows of RGBI: intensity `level`, colour `color` (broadcast over elements)."""
    out[0] = level
    out[1] = color[0]
    out[2] = color[1]
    out[3] = color[2]


def axis_coordinate(ctx: EffectContext, axis: str, origin: tuple[float, ...] = (0, 0, 0)) -> F32:
    """Each element's coordinate along `axis`, normalised to 0..1 over the selection."""
    if axis == "order":
        return ctx.order.copy()
    if axis == "distance":
        raw = np.linalg.norm(ctx.positions[:, :2] - np.asarray(origin[:2], np.float32), axis=1)
    else:
        raw = ctx.positions[:, "xyz".index(axis)]
    lo, hi = float(raw.min(initial=0.0)), float(raw.max(initial=0.0))
    span = hi - lo
    if span <= 1e-9:
        return np.zeros(ctx.n, np.float32)
    return np.asarray((raw - lo) / span, dtype=np.float32)


def hash01(*keys: NDArray[np.int64] | int, seed: int) -> F32:
    """Deterministic per-key uniform numbers in [0, 1) (a 64-bit integer mix, SplitMix-style)."""
    acc = np.uint64(seed & 0xFFFFFFFFFFFFFFFF) ^ np.uint64(0x9E3779B97F4A7C15)
    h: NDArray[np.uint64] = np.asarray(acc, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in keys:
            h = h ^ (np.asarray(k).astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15))
            h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            h = h ^ (h >> np.uint64(31))
    return ((h >> np.uint64(40)).astype(np.float32)) / np.float32(1 << 24)


def value_noise(x: F32, y: F32, z: float, seed: int) -> F32:
    """Smooth 3-D value noise in [0, 1): lattice hashes blended with a smoothstep."""
    z_arr = np.float32(z)
    xi, yi = np.floor(x), np.floor(y)
    zi = np.floor(z_arr)
    fx, fy, fz = x - xi, y - yi, float(z_arr - zi)
    sx, sy = fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy)
    sz = fz * fz * (3 - 2 * fz)
    ix, iy, iz = xi.astype(np.int64), yi.astype(np.int64), int(zi)
    result = np.zeros_like(x)
    for dz, wz in ((0, 1 - sz), (1, sz)):
        c00 = hash01(ix, iy, iz + dz, seed=seed)
        c10 = hash01(ix + 1, iy, iz + dz, seed=seed)
        c01 = hash01(ix, iy + 1, iz + dz, seed=seed)
        c11 = hash01(ix + 1, iy + 1, iz + dz, seed=seed)
        top = c00 + (c10 - c00) * sx
        bottom = c01 + (c11 - c01) * sx
        result += (top + (bottom - top) * sy) * np.float32(wz)
    return result
