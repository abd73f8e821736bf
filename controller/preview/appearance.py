"""L5 what each element looks like: light colour (RGB) and, for movers, beam direction.

Both the renderer's preview (from attribute frames) and the simulator (from DMX that
arrived, decoded back into attributes) describe a look with an `Appearance`, so the two
pictures are drawn by the same code and can be compared.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from controller.attributes import LIGHT_ATTRIBUTES, Attribute
from controller.compile.elements import ElementTable

__all__ = ["Appearance", "appearance_from_frame", "beam_directions", "mix_light"]

F32 = NDArray[np.float32]
_AMBER = np.array([1.0, 0.75, 0.0], np.float32)
_UV = np.array([0.35, 0.0, 1.0], np.float32)


@dataclass(frozen=True, slots=True, kw_only=True)
class Appearance:
    light: F32  # (n_elements, 3) emitted colour, 0..1
    beams: F32  # (n_elements, 3) unit beam directions in the venue frame
    has_beam: NDArray[np.bool_]  # (n_elements,) fixture can move its beam


def mix_light(rows: F32) -> F32:
    """(n, 3) emitted colour, 0..1, from the light rows in `LIGHT_ATTRIBUTES` order (red,
    green, blue, white, amber, UV), which already hold light (premultiplied by intensity;
    see controller.attributes)."""
    red, green, blue, white, amber, uv = rows
    rgb = np.stack([red, green, blue], axis=1)
    extra = white[:, None] + amber[:, None] * _AMBER + uv[:, None] * _UV * 0.5
    light: F32 = np.clip(rgb + extra, 0.0, 1.0).astype(np.float32)
    return light


def appearance_from_frame(
    frame: F32, table: ElementTable, has_beam: NDArray[np.bool_]
) -> Appearance:
    light = mix_light(frame[list(LIGHT_ATTRIBUTES)])
    beams = beam_directions(frame[Attribute.PAN], frame[Attribute.TILT], table)
    return Appearance(light=light, beams=beams, has_beam=has_beam)


def beam_directions(pan: F32, tilt: F32, table: ElementTable) -> F32:
    """Venue-frame unit vectors for pan/tilt levels (0.5 = centre, ranges per fixture)."""
    fx = table.fixture
    pan_deg = (pan - 0.5) * table.pan_range[fx]
    tilt_deg = (tilt - 0.5) * table.tilt_range[fx]
    p, t = np.radians(pan_deg), np.radians(tilt_deg)
    body = np.stack([np.sin(t) * np.sin(p), np.sin(t) * np.cos(p), np.cos(t)], axis=1)
    world = np.einsum("nij,nj->ni", table.rotations[fx], body)
    return np.asarray(world, dtype=np.float32)
