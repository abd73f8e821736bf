"""L3 beam position: aim moving heads and searchlights at a 3-D point, or set pan/tilt.

Geometry: a fixture at rest points its beam along its body +Z axis. Pan turns about body
+Z; tilt leans the beam from +Z towards body +Y (at pan 0). So in body coordinates the beam
is (sin tilt sin pan, sin tilt cos pan, cos tilt). Pan and tilt channels map their range
symmetrically: 0.5 is 0 degrees, 0..1 spans -range/2..+range/2.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from controller.attributes import Attribute
from controller.effects_api import EffectSpec, ParamKind, ParamSpec, ParamTrack
from controller.render.context import ClipRenderer, EffectContext, ParamValues
from controller.render.effects.common import number_param

__all__ = ["SPECS", "aim_angles"]

F32 = NDArray[np.float32]


def aim_angles(positions: F32, rotations: F32, target: F32) -> tuple[F32, F32]:
    """Pan and tilt in degrees that point each fixture's beam at `target`."""
    world = target[None, :] - positions
    norm = np.linalg.norm(world, axis=1, keepdims=True)
    world = world / np.maximum(norm, 1e-9)
    body = np.einsum("nji,nj->ni", rotations, world)  # R^T @ d, R maps body -> venue
    pan = np.degrees(np.arctan2(body[:, 0], body[:, 1]))
    tilt = np.degrees(np.arccos(np.clip(body[:, 2], -1.0, 1.0)))
    return pan.astype(np.float32), tilt.astype(np.float32)


class Aim:
    def prepare(self, ctx: EffectContext, params: Mapping[str, ParamTrack]) -> ClipRenderer:
        pan_range, tilt_range = ctx.pan_range_deg, ctx.tilt_range_deg

        def render(t: float, p: ParamValues, out: F32) -> None:
            target = np.asarray(p["target"], np.float32)
            pan, tilt = aim_angles(ctx.positions, ctx.rotations, target)
            # Prefer the smaller tilt; when the tilt is past the fixture's reach, the same
            # direction is also (pan + 180, -tilt).
            flip = tilt > tilt_range / 2
            pan = np.where(flip, ((pan + 360.0) % 360.0) - 180.0, pan)
            tilt = np.where(flip, -tilt, tilt)
            out[0] = np.clip(0.5 + pan / pan_range, 0.0, 1.0)
            out[1] = np.clip(0.5 + tilt / tilt_range, 0.0, 1.0)

        return render


class Position:
    def prepare(self, ctx: EffectContext, params: Mapping[str, ParamTrack]) -> ClipRenderer:
        def render(t: float, p: ParamValues, out: F32) -> None:
            out[0] = np.clip(0.5 + p["pan"][0] / ctx.pan_range_deg, 0.0, 1.0)
            out[1] = np.clip(0.5 + p["tilt"][0] / ctx.tilt_range_deg, 0.0, 1.0)

        return render


SPECS = (
    EffectSpec(
        name="aim",
        doc="Point moving heads and searchlights at a 3-D point (metres); keyframe it to sweep.",
        writes=(Attribute.PAN, Attribute.TILT),
        params=(ParamSpec(name="target", kind=ParamKind.POINT, default=[0, 0, 300], doc="metres"),),
        impl=Aim(),
    ),
    EffectSpec(
        name="position",
        doc="Set pan and tilt in degrees from the fixture's rest direction.",
        writes=(Attribute.PAN, Attribute.TILT),
        params=(
            number_param("pan", 0.0, "pan angle", unit="deg", minimum=-360, maximum=360),
            number_param("tilt", 0.0, "tilt angle", unit="deg", minimum=-180, maximum=180),
        ),
        impl=Position(),
    ),
)
