"""L0 canonical fixture attributes: the rows of every rendered frame.

A rendered frame is a float32 array of shape (len(Attribute), n_elements) with values in
[0, 1]. It is attribute-planar (one contiguous row per attribute) rather than element-major:
effects write one or a few attributes for a selection of elements, and a contiguous row
makes those gathers and scatters cache-friendly and lets numpy vectorise each write.

An element is one addressable light: a whole fixture, or one cell of a pixel fixture.

Colour rows (red, green, blue, white, amber, uv) hold emitted LIGHT, premultiplied by the
intensity row: a red light at half level is I=0.5, R=0.5, G=B=0. Blending light is what
two overlapping layers of real light do, a pixel cell's output byte is its light row
directly, and a fixture with its own dimmer recovers its colour as light / intensity.
"""

from __future__ import annotations

import enum

__all__ = ["COLOR_ATTRIBUTES", "HOME_VALUES", "LIGHT_ATTRIBUTES", "N_ATTRIBUTES", "Attribute"]


class Attribute(enum.IntEnum):
    """Row index of each attribute in a frame; names are what show files use."""

    INTENSITY = 0
    RED = 1
    GREEN = 2
    BLUE = 3
    WHITE = 4
    AMBER = 5
    UV = 6
    PAN = 7
    TILT = 8
    ZOOM = 9
    FOCUS = 10
    IRIS = 11
    STROBE = 12
    CCT = 13

    @property
    def key(self) -> str:
        return self.name.lower()

    @classmethod
    def from_key(cls, key: str) -> Attribute:
        return cls[key.upper()]


N_ATTRIBUTES = len(Attribute)

COLOR_ATTRIBUTES = (Attribute.RED, Attribute.GREEN, Attribute.BLUE)
LIGHT_ATTRIBUTES = (
    Attribute.RED,
    Attribute.GREEN,
    Attribute.BLUE,
    Attribute.WHITE,
    Attribute.AMBER,
    Attribute.UV,
)

# Value an element holds when no clip writes it: dark (so no light), beam centred.
HOME_VALUES: dict[Attribute, float] = {
    Attribute.INTENSITY: 0.0,
    Attribute.RED: 0.0,
    Attribute.GREEN: 0.0,
    Attribute.BLUE: 0.0,
    Attribute.WHITE: 0.0,
    Attribute.AMBER: 0.0,
    Attribute.UV: 0.0,
    Attribute.PAN: 0.5,
    Attribute.TILT: 0.5,
    Attribute.ZOOM: 0.5,
    Attribute.FOCUS: 0.5,
    Attribute.IRIS: 1.0,
    Attribute.STROBE: 0.0,
    Attribute.CCT: 0.5,
}
