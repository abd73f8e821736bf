"""L1 rig file model (`fixtures/rigs/<venue>.yaml`): the venue's digital twin.

Coordinates are metres in a local east/north/up frame whose origin is `venue.origin`.
A fixture entry with `count > 1` is an array: ids become `<id>-01`, `<id>-02`, ...;
point fixtures spread along `line` or step from `position` by `step`; pixel fixtures lay
their cells along `line` and each array member is offset by `step`.
"""

from __future__ import annotations

import enum
import ipaddress
import re
import string
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

__all__ = [
    "Building",
    "FixtureSpec",
    "Orientation",
    "OutputSpec",
    "PatchSpec",
    "Protocol",
    "RigFile",
    "Venue",
    "directed_broadcast",
    "osc_address_problem",
    "parse_universes",
]

Vec3 = tuple[float, float, float]
Vec2 = tuple[float, float]
MAX_UNIVERSE = 63999
_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


class Strict(BaseModel):
    # allow_inf_nan=False: a NaN or infinite coordinate would poison every position downstream
    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=True, allow_inf_nan=False
    )


def parse_universes(v: object) -> tuple[int, ...]:
    """`5`, `"1-40"`, or a list of those -> sorted unique universe numbers."""
    items = v if isinstance(v, list) else [v]
    out: set[int] = set()
    for item in items:
        if isinstance(item, bool):
            msg = f"universes entry {item!r} is not a number or 'a-b' range"
            raise ValueError(msg)
        if isinstance(item, int):
            lo = hi = item
        else:
            m = _RANGE.match(str(item))
            if m is None:
                msg = f"universes entry {item!r} is not a number or 'a-b' range"
                raise ValueError(msg)
            lo = int(m.group(1))
            hi = int(m.group(2) or lo)
        if not 1 <= lo <= hi <= MAX_UNIVERSE:
            msg = f"universes {item!r} out of range 1..{MAX_UNIVERSE} (or reversed)"
            raise ValueError(msg)
        if hi - lo >= 65536:
            msg = f"universes range {item!r} too large"
            raise ValueError(msg)
        out.update(range(lo, hi + 1))
    if not out:
        msg = "universes must name at least one universe"
        raise ValueError(msg)
    return tuple(sorted(out))


def directed_broadcast(host: str) -> str:
    """Art-Net: the network an output's host is on, as the directed broadcast its ArtSync goes to.

    An IPv4 address: its /24 broadcast (Art-Net 4 forbids 255.255.255.255); a loopback
    address or a name: the host itself (loopback has no broadcast to share with others).
    """
    try:
        address = ipaddress.IPv4Address(host)
    except ValueError:
        return host
    if address.is_loopback:
        return host
    return str(ipaddress.IPv4Network(f"{host}/24", strict=False).broadcast_address)


OSC_PLACEHOLDERS = ("venue", "universe")
# OSC 1.0, OSC Message: an address pattern starts with '/'; a part may hold any printable
# ASCII character except ' ', '#', '*', ',', '/', '?', '[', ']', '{' and '}'.
_OSC_FORBIDDEN = frozenset(" #*,?[]{}")


def osc_address_problem(template: str) -> str | None:
    """Why `template` is not an OSC address with `{venue}`/`{universe}` fields, or None."""
    allowed = ", ".join(f"{{{p}}}" for p in OSC_PLACEHOLDERS)
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError:
        return f"unbalanced '{{' or '}}' (placeholders: {allowed})"
    literal = []
    for text, name, spec, conversion in fields:
        literal.append(text)
        if name is None:
            continue
        if name not in OSC_PLACEHOLDERS:
            return f"unknown placeholder {{{name}}} (allowed: {allowed})"
        if spec or conversion:
            return f"placeholder {{{name}}} takes no format spec or conversion ({allowed})"
        literal.append("x")
    address = "".join(literal)
    if not address.startswith("/"):
        return "an OSC address starts with '/'"
    bad = next((c for c in address if not "!" <= c <= "~" or c in _OSC_FORBIDDEN), None)
    if bad is not None:
        return f"character {bad!r} is not allowed in an OSC address"
    return None


_UNIVERSE_ITEM: dict[str, object] = {
    "anyOf": [
        {"type": "integer", "minimum": 1, "maximum": MAX_UNIVERSE},
        {"type": "string", "pattern": r"^\s*\d+\s*(-\s*\d+\s*)?$", "description": "'a-b'"},
    ]
}
# the JSON Schema describes what files may say (5, "1-40", [1, "3-4"]), not the parsed tuple
Universes = Annotated[
    tuple[int, ...],
    BeforeValidator(parse_universes),
    WithJsonSchema(
        {
            "anyOf": [_UNIVERSE_ITEM, {"type": "array", "items": _UNIVERSE_ITEM, "minItems": 1}],
            "description": "a universe, an 'a-b' range, or a list of those",
        },
        mode="validation",
    ),
]


class GeoOrigin(Strict):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    alt_m: float = 0.0


class Venue(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str
    city: str
    timezone: str = Field(description="IANA zone, e.g. Asia/Shanghai")
    origin: GeoOrigin


class Building(Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    name: str | None = None
    footprint: list[Vec2] = Field(min_length=3, description="polygon corners, metres east/north")
    height: float = Field(gt=0, le=1000, description="metres")


class Orientation(Strict):
    """Body rotation in degrees: yaw about up (0 = facing north, clockwise), pitch, roll.

    A fixture at rest (pan and tilt centred) points its beam along its body's +Z axis;
    with zero rotation that is straight up, as a searchlight on the ground stands.
    """

    yaw: float = Field(0.0, ge=-360, le=360)
    pitch: float = Field(0.0, ge=-180, le=180)
    roll: float = Field(0.0, ge=-180, le=180)


class PatchSpec(Strict):
    universe: int = Field(ge=1, le=MAX_UNIVERSE)
    address: int = Field(1, ge=1, le=512, description="1-based DMX start address")


class FixtureSpec(Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    profile: str
    mode: str | None = None
    count: int = Field(1, ge=1, le=10000)
    pixels: int | None = Field(None, ge=1, le=100000, description="cells, for variable pixel runs")
    position: Vec3 | None = None
    line: tuple[Vec3, Vec3] | None = None
    step: Vec3 | None = Field(None, description="offset between array members, metres")
    orientation: Orientation = Orientation()
    building: str | None = None
    groups: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    patch: PatchSpec | None = None

    @model_validator(mode="after")
    def _placement(self) -> FixtureSpec:
        if self.position is None and self.line is None:
            msg = "give 'position' (a point) or 'line' (two points)"
            raise ValueError(msg)
        if self.position is not None and self.line is not None:
            msg = "give either 'position' or 'line', not both"
            raise ValueError(msg)
        if self.count > 1 and self.position is not None and self.step is None:
            msg = "an array with 'position' needs 'step' (or use 'line')"
            raise ValueError(msg)
        return self


class Protocol(enum.StrEnum):
    ARTNET = "artnet"
    SACN = "sacn"
    ENTTEC = "enttec"
    OPENDMX = "opendmx"
    OSC = "osc"


class OutputSpec(Strict):
    """Where a set of universes goes on the wire."""

    protocol: Protocol
    universes: Universes
    host: str | None = Field(None, description="unicast destination (artnet, sacn unicast, osc)")
    port: int | None = Field(None, ge=1, le=65535)
    port_address: int | None = Field(
        None, ge=0, le=32767, description="Art-Net port-address of the first universe"
    )
    sacn_universe: int | None = Field(
        None, ge=1, le=MAX_UNIVERSE, description="sACN universe of the first universe"
    )
    multicast: bool = True
    broadcast: str | None = Field(
        None,
        description="Art-Net: directed broadcast address for ArtSync (default: the /24 of host)",
    )
    sync: bool = Field(True, description="send ArtSync / sACN sync after each frame")
    priority: int = Field(100, ge=0, le=200)
    device: str | None = Field(None, description="serial device for enttec / opendmx")
    address: str = Field("/citypulse/{venue}/{universe}", description="OSC address pattern")
    osc_mode: Literal["blob", "attributes"] = "blob"
    max_datagram: int = Field(
        1472,
        ge=576,
        le=65507,
        description="OSC: largest bundle datagram in bytes (default 1472: one Ethernet frame)",
    )

    @field_validator("address")
    @classmethod
    def _osc_address(cls, v: str) -> str:
        problem = osc_address_problem(v)
        if problem is not None:
            msg = f"{v!r}: {problem}"
            raise ValueError(msg)
        return v

    @model_validator(mode="after")
    def _protocol_fields(self) -> OutputSpec:
        need = {Protocol.ENTTEC: "device", Protocol.OPENDMX: "device", Protocol.OSC: "host"}
        field = need.get(self.protocol)
        if field is not None and getattr(self, field) is None:
            msg = f"protocol {self.protocol.value!r} needs {field!r}"
            raise ValueError(msg)
        if self.protocol is Protocol.ARTNET and self.host is None:
            msg = "protocol 'artnet' needs 'host' (Art-Net 4 mandates unicast ArtDmx)"
            raise ValueError(msg)
        if self.protocol is Protocol.SACN and not self.multicast and self.host is None:
            msg = "sACN unicast (multicast: false) needs 'host'"
            raise ValueError(msg)
        if self.protocol in (Protocol.ENTTEC, Protocol.OPENDMX) and len(self.universes) != 1:
            msg = f"a {self.protocol.value} widget carries exactly one universe"
            raise ValueError(msg)
        return self

    def wire_universe(self, universe: int) -> int:
        """The protocol's universe number for our universe `universe`.

        Numbers keep their spacing: with `universes: [1, 8]` and `sacn_universe: 101`,
        universe 8 goes out as sACN 108.
        """
        offset = universe - self.universes[0]
        if self.protocol is Protocol.ARTNET:
            base = self.port_address if self.port_address is not None else self.universes[0]
            return base + offset
        if self.protocol is Protocol.SACN:
            base = self.sacn_universe if self.sacn_universe is not None else self.universes[0]
            return base + offset
        return universe


class RigFile(Strict):
    """The top level of a rig file."""

    venue: Venue
    profiles: list[str] = Field(
        default_factory=lambda: ["../profiles"],
        description="profile directories, relative to the rig file",
    )
    buildings: list[Building] = Field(default_factory=list)
    fixtures: list[FixtureSpec] = Field(min_length=1)
    outputs: list[OutputSpec] = Field(default_factory=list)
