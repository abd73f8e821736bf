"""L1 show timeline file model (`shows/<name>.yaml`), validated by pydantic.

Times are seconds (numbers) or cue references: `"ignition"`, `"ignition+2.5"`,
`"finale-4"`. Effect parameters stay raw here; they are checked against the effect registry
(`controller.effects_api`) by `controller.show.check_show`, which knows where each one
stands in the file.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Collection

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

__all__ = [
    "Blend",
    "Clip",
    "Cue",
    "ShowFile",
    "Target",
    "Track",
    "VenueEntry",
    "parse_time_ref",
]

MAX_DMX_FPS = 44
# the cue name is matched lazily so that "finale-4" is cue "finale" minus 4 s (cue names may
# contain '-', so a name that is itself a known cue is taken whole first: see `names`)
_TIME_REF = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.-]*?)\s*(?:([+-])\s*(\d+(?:\.\d+)?)\s*)?$")


def parse_time_ref(value: float | str, names: Collection[str] = ()) -> tuple[str | None, float]:
    """`12.5` -> (None, 12.5); `"ignition+2"` -> ("ignition", 2.0).

    `"finale-4"` is ("finale", -4.0); a string that is exactly one of `names` (the known cue
    names) is that cue with offset 0, so a cue named "part-2" can still be referenced.

    Raises:
        ValueError: not a finite number or `cue[+-seconds]`.
    """
    if isinstance(value, int | float):
        if not math.isfinite(value):
            msg = f"time {value!r} is not a finite number of seconds"
            raise ValueError(msg)
        return None, float(value)
    if value.strip() in names:
        return value.strip(), 0.0
    m = _TIME_REF.match(value)
    if m is None:
        msg = f"time {value!r} is not seconds or 'cue', 'cue+seconds', 'cue-seconds'"
        raise ValueError(msg)
    offset = float(m.group(3) or 0.0)
    if not math.isfinite(offset):
        msg = f"time {value!r}: offset is not a finite number of seconds"
        raise ValueError(msg)
    return m.group(1), -offset if m.group(2) == "-" else offset


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Blend(enum.StrEnum):
    """How a clip combines with the layers below it."""

    REPLACE = "replace"  # LTP: the clip's value wins, crossfaded by opacity
    MAX = "max"  # HTP: the higher value wins
    ADD = "add"
    MULTIPLY = "multiply"


class VenueEntry(Strict):
    rig: str = Field(description="rig file, relative to the show file")
    intensity: float = Field(1.0, ge=0.0, le=1.0, description="venue intensity scale")
    disable_tracks: list[str] = Field(default_factory=list)
    time_offset: float = Field(0.0, ge=-10.0, le=10.0, description="seconds, output latency trim")


class Cue(Strict):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$")
    at: float | str
    hold: bool = Field(False, description="playback waits here for the operator's GO")
    description: str | None = None


class Within(Strict):
    """A spatial selection: a circle (center + radius) or a box (min + max), metres."""

    center: tuple[float, float] | None = None
    radius: float | None = Field(None, gt=0)
    min: tuple[float, float] | None = None
    max: tuple[float, float] | None = None

    @model_validator(mode="after")
    def _shape(self) -> Within:
        circle = self.center is not None and self.radius is not None
        box = self.min is not None and self.max is not None
        if circle == box:
            msg = "give 'center' + 'radius' (circle) or 'min' + 'max' (box)"
            raise ValueError(msg)
        return self


class Target(Strict):
    """Which elements a clip drives. Keys intersect; an empty target means everything."""

    all: bool = False
    group: str | list[str] | None = None
    tag: str | list[str] | None = None
    building: str | list[str] | None = None
    fixtures: list[str] | None = None
    within: Within | None = None
    exclude: Target | None = None


class Clip(Strict):
    effect: str
    target: Target | str = Field(description="a Target mapping, or a group name")
    start: float | str
    end: float | str | None = None
    length: float | None = Field(None, gt=0)
    blend: Blend | None = None
    opacity: float = Field(1.0, ge=0.0, le=1.0)
    fade_in: float = Field(0.0, ge=0.0)
    fade_out: float = Field(0.0, ge=0.0)
    seed: int | None = Field(
        None, ge=0, le=2**32 - 1, description="random seed 0..2^32-1 (default: from clip position)"
    )
    params: dict[str, JsonValue] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_end(self) -> Clip:
        if (self.end is None) == (self.length is None):
            msg = "give exactly one of 'end' or 'length'"
            raise ValueError(msg)
        return self


class Track(Strict):
    name: str = Field(min_length=1)
    venues: list[str] | None = Field(None, description="only these venues (default: all)")
    enabled: bool = True
    blend: Blend = Blend.REPLACE
    opacity: float = Field(1.0, ge=0.0, le=1.0)
    clips: list[Clip] = Field(default_factory=list)


class ShowFile(Strict):
    """The top level of a show file (after `include:` files are merged in)."""

    name: str
    description: str | None = None
    fps: int = Field(40, ge=1, le=MAX_DMX_FPS, description="frames per second (DMX caps at 44)")
    duration: float = Field(gt=0, le=24 * 3600, description="seconds")
    include: list[str] = Field(default_factory=list)
    venues: dict[str, VenueEntry] = Field(min_length=1)
    cues: list[Cue] = Field(default_factory=list)
    tracks: list[Track] = Field(default_factory=list)


class ShowFragment(Strict):
    """An `include:`d file: shared cues and tracks."""

    include: list[str] = Field(default_factory=list)
    cues: list[Cue] = Field(default_factory=list)
    tracks: list[Track] = Field(default_factory=list)
