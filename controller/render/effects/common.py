"""L3 shared pieces of effects: parameter specs, colour rows, axes, deterministic noise."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from controller.attributes import Attribute
from controller.effects_api import ParamKind, ParamSpec
from controller.render import jit
from controller.render.context import EffectContext
from controller.render.effects import fused

__all__ = [
    "AXES",
    "RGBI",
    "axis_coordinate",
    "axis_param",
    "color_param",
    "hash01",
    "level_param",
    "number_param",
    "phase",
    "scale_light",
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
    rate: bool = False,
) -> ParamSpec:
    """A number; `rate=True` marks a per-second rate whose integral effects read as phase."""
    return ParamSpec(
        name=name,
        kind=ParamKind.NUMBER,
        default=default,
        doc=doc,
        unit=unit,
        minimum=minimum,
        maximum=maximum,
        rate=rate,
    )


def phase(p: Mapping[str, tuple[float, ...]], name: str, t: float) -> float:
    """Integral over clip time of rate parameter `name` (t * value when it is constant)."""
    integral = p.get(f"{name}_phase")
    return integral[0] if integral is not None else t * p[name][0]


def axis_param(default: str = "order") -> ParamSpec:
    return ParamSpec(
        name="axis",
        kind=ParamKind.CHOICE,
        default=default,
        choices=AXES,
        doc="order: selection order; x/y/z: east/north/up position; distance: from 'origin'",
    )


def write_rgbi(out: F32, level: F32 | float, color: tuple[float, ...]) -> None:
    """Rows I, R, G, B: intensity `level` and the light of colour `color` at that level.

    RGBI effects write light (colour x intensity), as frames hold it: see
    `controller.attributes`.
    """
    if isinstance(level, np.ndarray) and jit.enabled() and level.dtype == np.float32:
        fused.level_rgbi(level, color[0], color[1], color[2], out)
        return
    out[0] = level
    if isinstance(level, np.ndarray):
        for row in range(3):
            np.multiply(level, np.float32(color[row]), out=out[1 + row])
    else:
        for row in range(3):
            out[1 + row] = color[row] * level


def scale_light(out: F32, level: F32 | float) -> None:
    """Turn colour rows 1..3 into light at `level` and write the intensity row."""
    if isinstance(level, np.ndarray) or level != 1.0:
        out[1:4] *= level
    out[0] = level


def axis_coordinate(ctx: EffectContext, axis: str, origin: tuple[float, ...] = (0, 0, 0)) -> F32:
    """Each element's coordinate along `axis`, normalised to 0..1 over the selection."""
    if axis == "order":
        return ctx.order.copy()

    def along(positions: F32) -> F32:
        if axis == "distance":
            centre = np.asarray(origin[:2], np.float32)
            return np.asarray(np.linalg.norm(positions[:, :2] - centre, axis=1), np.float32)
        return positions[:, "xyz".index(axis)]

    raw, whole = along(ctx.positions), along(ctx.selection_positions)
    lo, hi = float(whole.min(initial=0.0)), float(whole.max(initial=0.0))
    span = hi - lo
    if span <= 1e-9:
        return np.zeros(ctx.n, np.float32)
    return np.asarray((raw - lo) / span, dtype=np.float32)


TABLE_BITS = 16  # 256 KiB of float32: stays in L2 cache while gathered at random
TABLE_MASK = (1 << TABLE_BITS) - 1
# A fixed table of uniform randoms: noise and sparkle index it with integer hashes, which is
# far cheaper than mixing 64-bit hashes per element and just as deterministic.
RANDOM_TABLE: F32 = np.random.default_rng(0x5EED_C17E).random(1 << TABLE_BITS, dtype=np.float32)
_P = (73856093, 19349663, 83492791, 2654435761)


def _seed_salt(seed: int) -> int:
    return (seed * _P[3]) & 0xFFFFFFFFFFFF


def lattice_index(
    ix: NDArray[np.int64] | int,
    iy: NDArray[np.int64] | int = 0,
    iz: NDArray[np.int64] | int = 0,
    *,
    seed: int,
) -> NDArray[np.int64]:
    """Table positions for integer lattice points (a spatial hash, Teschner et al. 2003)."""
    h = (np.asarray(ix, np.int64) * _P[0]) ^ (np.asarray(iy, np.int64) * _P[1])
    h = h ^ (np.asarray(iz, np.int64) * _P[2] + _seed_salt(seed))
    return np.asarray(h & TABLE_MASK, dtype=np.int64)


def hash01(
    ix: NDArray[np.int64] | int,
    iy: NDArray[np.int64] | int = 0,
    iz: NDArray[np.int64] | int = 0,
    *,
    seed: int,
) -> F32:
    """Deterministic uniform numbers in [0, 1) for integer keys."""
    return np.asarray(RANDOM_TABLE[lattice_index(ix, iy, iz, seed=seed)], dtype=np.float32)


class LatticeNoise:
    """Smooth 3-D value noise in [0, 1) over fixed (x, y) points; z (time) moves freely.

    The (x, y) lattice cells and smoothstep weights are computed once; each frame costs
    eight table gathers and a few blends.
    """

    def __init__(self, x: F32, y: F32, seed: int) -> None:
        xi, yi = np.floor(x), np.floor(y)
        fx, fy = x - xi, y - yi
        self.sx = (fx * fx * (3 - 2 * fx)).astype(np.float32)
        self.sy = (fy * fy * (3 - 2 * fy)).astype(np.float32)
        ix, iy = xi.astype(np.int64), yi.astype(np.int64)
        # int32 keys (wrapped products) halve the memory traffic of the per-frame hashing
        self.corners = [
            (((ix + dx) * _P[0]) ^ ((iy + dy) * _P[1])).astype(np.int32)
            for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1))
        ]
        self.seed = seed
        self.n = len(x)
        self._layers: dict[int, F32] = {}  # z moves slowly: keep the few layers in use

    def _layer(self, iz: int) -> F32:
        layer = self._layers.get(iz)
        if layer is None:
            if len(self._layers) >= 4:
                self._layers.pop(next(iter(self._layers)))
            layer = self._layers[iz] = self._compute_layer(iz)
        return layer

    def _compute_layer(self, iz: int) -> F32:
        salt = np.int32((iz * _P[2] + _seed_salt(self.seed)) & 0x7FFFFFFF)
        c00, c10, c01, c11 = (RANDOM_TABLE[(c ^ salt) & TABLE_MASK] for c in self.corners)
        top = c00 + (c10 - c00) * self.sx
        bottom = c01 + (c11 - c01) * self.sx
        return np.asarray(top + (bottom - top) * self.sy, dtype=np.float32)

    def layers(self, z: float) -> tuple[F32, F32, float]:
        """The two lattice layers around `z` and the smoothstep weight between them."""
        zi = int(np.floor(z))
        fz = z - zi
        return self._layer(zi), self._layer(zi + 1), fz * fz * (3 - 2 * fz)

    def at(self, z: float) -> F32:
        a, b, weight = self.layers(z)
        sz = np.float32(weight)
        out = b - a
        out *= sz
        out += a
        return out
