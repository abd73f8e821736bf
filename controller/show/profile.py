"""L1 fixture-profile file model (`fixtures/profiles/*.yaml`), validated by pydantic.

A profile lists modes; a mode is an ordered list of DMX channels (head channels) plus an
optional block of pixel cells repeated after them. A 16-bit channel takes two slots, coarse
then fine. Attribute names are `controller.attributes.Attribute` keys, plus `fixed` (a
constant value, e.g. a mode or control channel) and `unused` (a reserved slot).
"""

from __future__ import annotations

import enum
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from controller.attributes import Attribute

__all__ = ["CellBlock", "ChannelSpec", "Curve", "FixtureProfile", "ModeSpec", "ProfileCategory"]

ATTRIBUTE_KEYS = tuple(a.key for a in Attribute)
CELL_LETTERS = {"R": "red", "G": "green", "B": "blue", "W": "white", "A": "amber", "U": "uv"}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Curve(enum.StrEnum):
    """Response curve from the 0..1 attribute value to the channel's output range."""

    LINEAR = "linear"
    SQUARE = "square"
    INVERSE_SQUARE = "inverse-square"
    S_CURVE = "s-curve"
    GAMMA = "gamma"


class ProfileCategory(enum.StrEnum):
    FLOOD = "flood"
    PIXEL_BAR = "pixel-bar"
    PIXEL_STRIP = "pixel-strip"
    MOVING_HEAD = "moving-head"
    SEARCHLIGHT = "searchlight"
    DIMMER = "dimmer"
    PAR = "par"
    OTHER = "other"


class ChannelSpec(Strict):
    """One logical channel: an attribute at 8 or 16 bits, or a fixed value."""

    attribute: str = Field(description="attribute key, or 'fixed' / 'unused'")
    name: str | None = None
    bits: Literal[8, 16] = 8
    default: int | None = Field(None, ge=0, le=65535, description="DMX value when not driven")
    value: int | None = Field(None, ge=0, le=65535, description="constant DMX value for 'fixed'")
    range: tuple[int, int] | None = Field(
        None, description="DMX values that 0.0 and 1.0 map to (may be descending)"
    )
    curve: Curve = Curve.LINEAR
    gamma: float = Field(2.2, gt=0.1, le=5.0)
    invert: bool = False

    @field_validator("attribute")
    @classmethod
    def _known_attribute(cls, v: str) -> str:
        if v not in (*ATTRIBUTE_KEYS, "fixed", "unused"):
            allowed = ", ".join((*ATTRIBUTE_KEYS, "fixed", "unused"))
            msg = f"unknown attribute {v!r} (allowed: {allowed})"
            raise ValueError(msg)
        return v

    @model_validator(mode="after")
    def _values_fit(self) -> ChannelSpec:
        top = 255 if self.bits == 8 else 65535
        width = "an 8-bit" if self.bits == 8 else "a 16-bit"
        for label, val in (("default", self.default), ("value", self.value)):
            if val is not None and val > top:
                msg = f"{label}={val} out of range 0..{top} for {width} channel"
                raise ValueError(msg)
        if self.range is not None and any(not 0 <= r <= top for r in self.range):
            msg = f"range={list(self.range)} out of 0..{top} for {width} channel"
            raise ValueError(msg)
        if self.attribute == "fixed" and self.value is None:
            msg = "a 'fixed' channel needs 'value'"
            raise ValueError(msg)
        return self

    @property
    def slots(self) -> int:
        return 2 if self.bits == 16 else 1


def _channel_shorthand(v: object) -> object:
    return {"attribute": v} if isinstance(v, str) else v


class _ShorthandSchema:
    """JSON Schema of a channel entry: a ChannelSpec mapping, or just its attribute name."""

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        names = [*ATTRIBUTE_KEYS, "unused"]  # a "fixed" channel needs a value: no shorthand
        shorthand = {"type": "string", "enum": names, "description": "{attribute: <name>}"}
        return {"anyOf": [handler(core_schema), shorthand]}


ChannelEntry = Annotated[ChannelSpec, _ShorthandSchema()]


class CellBlock(Strict):
    """Pixel cells repeated after the head channels, e.g. 170 x RGB."""

    count: int = Field(ge=1, le=4096)
    order: str = Field("RGB", description="one letter per slot from R G B W A U, e.g. GRB")
    variable: bool = Field(False, description="rig instances may set their own pixel count")
    curve: Curve = Curve.LINEAR
    gamma: float = Field(2.2, gt=0.1, le=5.0)

    @field_validator("order")
    @classmethod
    def _order_letters(cls, v: str) -> str:
        bad = [c for c in v if c not in CELL_LETTERS]
        if not v or bad or len(set(v)) != len(v):
            msg = f"order={v!r} must use each of R G B W A U at most once"
            raise ValueError(msg)
        return v


class ModeSpec(Strict):
    name: str = Field(min_length=1)
    channels: list[ChannelEntry] = Field(default_factory=list)
    cells: CellBlock | None = None
    white_from_rgb: bool = Field(
        False, description="derive the white channel from min(R,G,B) (RGB to RGBW extraction)"
    )

    @field_validator("channels", mode="before")
    @classmethod
    def _shorthand(cls, v: object) -> object:
        return [_channel_shorthand(c) for c in v] if isinstance(v, list) else v

    @model_validator(mode="after")
    def _not_empty(self) -> ModeSpec:
        if not self.channels and self.cells is None:
            msg = "a mode needs channels or cells"
            raise ValueError(msg)
        return self

    @property
    def head_slots(self) -> int:
        return sum(c.slots for c in self.channels)

    def footprint(self, pixels: int | None = None) -> int:
        """Slots this mode occupies with `pixels` cells (default: the profile count)."""
        if self.cells is None:
            return self.head_slots
        n = pixels if pixels is not None else self.cells.count
        return self.head_slots + n * len(self.cells.order)


class Physical(Strict):
    power_w: float | None = Field(None, ge=0)
    weight_kg: float | None = Field(None, ge=0)
    beam_deg: float | None = Field(None, ge=0, le=360)
    lumens: float | None = Field(None, ge=0)
    length_m: float | None = Field(None, gt=0)


class FixtureProfile(Strict):
    """A fixture type: the top level of a profile file."""

    name: str = Field(min_length=1)
    manufacturer: str = "generic"
    category: ProfileCategory = ProfileCategory.OTHER
    pan_range_deg: float = Field(540.0, gt=0, le=720)
    tilt_range_deg: float = Field(270.0, gt=0, le=360)
    physical: Physical | None = None
    source: str | None = Field(None, description="where the profile came from (e.g. an OFL import)")
    modes: list[ModeSpec] = Field(min_length=1)

    def mode(self, name: str | None) -> ModeSpec | None:
        if name is None:
            return self.modes[0]
        return next((m for m in self.modes if m.name == name), None)
