"""L1 the channel side of an Open Fixture Library fixture for `ofl`: what each channel is.

Strategy:
- A channel drives one attribute when the capabilities citypulse understands all name that
  attribute; their span becomes `range`, descending when OFL's start/end properties run
  down (a Focus from "far" to "near"). Other capability types on the channel are listed in
  `ignored` so the importer can warn about them.
- A shutter channel drives `strobe` only when it has a Strobe capability and nothing else on
  it maps: `value` (the default) is the shutter-open value, `range` the first proportional
  Strobe capability, slow to fast.
- Anything else is `fixed` at its `defaultValue` (or 0); a NoFunction-only channel is `unused`.
- DMX values stay at the channel's own resolution (`dmxValueResolution`, else one byte per
  coarse and fine channel) until `scale_value`/`scale_range` bring them to the mode's bits
  with OFL's rules (lib/scale-dmx-values.js): a value repeats its last byte; a range pads
  its start with 0 and its end with 255.
- `read_channels` resolves every key a mode may name: available channels, template channels
  for each pixel and pixel group, fine aliases, and switching aliases (each bound to the
  channel active at its dependency's defaultValue).

Colours: Red, Green, Blue, White, Amber and UV map directly; Warm White and Cold White map to
`white` (the importer holds a second white in the same mode fixed). Cyan, Magenta, Yellow,
Lime and Indigo are held fixed: CMY flags are subtractive, and driving a lime or indigo
emitter as green or blue would shift every mixed colour.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from controller.show.ofl_matrix import Matrix
from controller.show.source import Plain

__all__ = [
    "COLOR_ATTRIBUTES", "MAX_FINE_ALIASES", "SUPPORTED", "Capability", "ChannelMap",
    "ChannelTable", "OflChannel", "dmx_value", "entity", "map_channel", "parse_capabilities",
    "read_channels", "resolution_of", "scale_range", "scale_value",
]  # fmt: skip

Where = tuple[str | int, ...]

SUPPORTED = (
    "Intensity, ColorIntensity (RGB, White, Amber, UV), Pan, Tilt, Zoom, Focus, Iris, "
    "ColorTemperature, ShutterStrobe/StrobeSpeed"
)
COLOR_ATTRIBUTES = {
    "Red": "red", "Green": "green", "Blue": "blue", "White": "white", "Warm White": "white",
    "Cold White": "white", "Amber": "amber", "UV": "uv",
}  # fmt: skip
_TYPE_ATTRIBUTES = {
    "Intensity": "intensity", "Pan": "pan", "Tilt": "tilt", "Zoom": "zoom", "Focus": "focus",
    "Iris": "iris", "ColorTemperature": "cct",
}  # fmt: skip
_SHUTTER_TYPES = frozenset({"ShutterStrobe", "StrobeSpeed"})
# OFL property (docs/capability-types.md) whose start/end tells which way a proportional
# capability runs. citypulse's 1.0 is the larger end: brighter, wider, farther, more open,
# colder, faster.
_DIRECTION = {
    "pan": "angle", "tilt": "angle", "zoom": "angle", "focus": "distance",
    "iris": "openPercent", "cct": "colorTemperature", "strobe": "speed",
}  # fmt: skip
# capability-types.md "Possible entities and keywords": keyword -> percent
_KEYWORDS = {
    "off": 0.0, "dark": 1.0, "bright": 100.0, "stop": 0.0, "slow": 1.0, "fast": 100.0,
    "slow reverse": -1.0, "fast reverse": -100.0, "slow CW": 1.0, "fast CW": 100.0,
    "slow CCW": -1.0, "fast CCW": -100.0, "near": 1.0, "far": 100.0, "closed": 0.0,
    "narrow": 1.0, "wide": 100.0, "open": 100.0, "warm": -100.0, "CTO": -100.0,
    "default": 0.0, "cold": 100.0, "CTB": 100.0,
}  # fmt: skip
_NUMBER_UNIT = re.compile(r"(-?\d+(?:\.\d+)?)(Hz|bpm|rpm|deg|K|%|m\^3/min|ms|s|m|lm)?")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)%")
# A coarse channel and at most 3 fine ones: 32 bits. OFL's dmxValueResolution stops at
# 24bit; more aliases would make every value a huge integer for nothing citypulse drives.
MAX_FINE_ALIASES = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class Capability:
    """One OFL capability: a type over DMX values `lo..hi` at the channel's resolution."""

    type: str
    lo: int
    hi: int
    props: Mapping[str, object]

    def label(self) -> str:
        detail = self.props.get("shutterEffect") or self.props.get("color")
        random = " (random)" if self.props.get("randomTiming") else ""
        return f"{self.type} {detail}{random}" if isinstance(detail, str) else self.type


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelMap:
    """How one OFL channel becomes a citypulse channel; values at `resolution` bytes."""

    attribute: str  # attribute key, 'fixed' or 'unused'
    resolution: int
    value: int | None = None  # `default` of an attribute, `value` of a fixed channel
    range: tuple[int, int] | None = None  # None: the whole channel, ascending
    degrees: float | None = None  # pan/tilt sweep from angleStart/angleEnd
    ignored: tuple[str, ...] = ()  # capability labels citypulse does not drive
    constant: bool = False

    def spec(self, name: str, bits: int, *, hold: bool = False) -> dict[str, Plain]:
        """The profile channel at `bits` (8 or 16); `hold` makes it fixed at its value."""
        res = bits // 8
        value = None if self.value is None else scale_value(self.value, self.resolution, res)
        attribute = "fixed" if hold else self.attribute
        spec: dict[str, Plain] = {"attribute": attribute, "name": name}
        spec.update({"bits": 16} if bits == 16 else {})
        if attribute == "fixed":
            spec["value"] = value or 0
        elif attribute != "unused":
            spec.update({"default": value} if value is not None else {})
            if self.range is not None:
                lo, hi = scale_range(min(self.range), max(self.range), self.resolution, res)
                spec["range"] = [hi, lo] if self.range[0] > self.range[1] else [lo, hi]
        return spec

    def describe(self) -> str | None:
        """What the channel leaves undriven, for a warning; None when nothing is lost."""
        if self.attribute == "fixed":
            why = f"citypulse does not drive {', '.join(self.ignored)} (it drives {SUPPORTED})"
            return f"is held at {self.value}: {'it is constant' if self.constant else why}"
        if self.ignored:
            lost = ", ".join(self.ignored)
            return f"drives {self.attribute!r}; its other ranges ({lost}) are not driven"
        return None


def resolution_of(channel: Mapping[str, object]) -> int:
    """Bytes the channel's DMX values are written in (1 = 8 bit), at most 4.

    More than `MAX_FINE_ALIASES` aliases is reported by `read_channels`; the cap keeps the
    rest of the import working on small numbers.
    """
    declared = channel.get("dmxValueResolution")
    if declared in ("8bit", "16bit", "24bit"):
        return int(str(declared)[:-3]) // 8
    aliases = channel.get("fineChannelAliases")
    return 1 + min(len(aliases) if isinstance(aliases, list) else 0, MAX_FINE_ALIASES)


def dmx_value(value: object, resolution: int) -> int | None:
    """An OFL `defaultValue` (number or "50%") in DMX units, or None if it is not valid."""
    top = 256**resolution - 1
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 <= value <= top else None
    m = _PERCENT.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        return None
    pct = Fraction(m.group(1))  # exact: a float overflows past 128 bytes of resolution
    return math.floor(pct * top / 100) if pct <= 100 else None


def scale_value(value: int, src: int, dst: int) -> int:
    """`value` from `src` to `dst` bytes: repeat the last byte up, drop bytes down."""
    data = [(value >> (8 * (src - 1 - i))) & 0xFF for i in range(src)]
    while len(data) < dst:
        data.append(data[-1])
    out = 0
    for byte in data[:dst]:
        out = out * 256 + byte
    return out


def scale_range(lo: int, hi: int, src: int, dst: int) -> tuple[int, int]:
    """An ascending DMX range from `src` to `dst` bytes."""
    if dst >= src:
        pad = 8 * (dst - src)
        return lo << pad, (hi << pad) | ((1 << pad) - 1)
    cut = 8 * (src - dst)
    new_lo, new_hi = lo >> cut, hi >> cut
    # OFL rounds a cut start up when that keeps the range non-empty
    if lo & ((1 << cut) - 1) and new_lo < new_hi:
        new_lo += 1
    return new_lo, new_hi


def entity(value: object) -> tuple[float, str] | None:
    """An OFL entity ("540deg", "30bpm", "fast", 3) as (number, unit); keywords are %."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value), ""
    if not isinstance(value, str):
        return None
    if value in _KEYWORDS:
        return _KEYWORDS[value], "%"
    m = _NUMBER_UNIT.fullmatch(value.strip())
    if m is None:
        return None
    return float(m.group(1)), m.group(2) or ""


def parse_capabilities(
    channel: Mapping[str, object], resolution: int
) -> tuple[list[Capability], list[tuple[Where, str]]]:
    """The channel's capabilities, plus problems as (path below the channel, message)."""
    top = 256**resolution - 1
    single = channel.get("capability")
    several = channel.get("capabilities")
    raw: list[tuple[Where, object, object]]
    if isinstance(single, dict):
        raw = [(("capability",), single, [0, top])]
    elif isinstance(several, list) and several:
        raw = [
            (("capabilities", k), c, c.get("dmxRange") if isinstance(c, dict) else None)
            for k, c in enumerate(several)
        ]
    else:
        return [], [((), "needs 'capability' or a 'capabilities' list (OFL schema 12.x)")]
    caps: list[Capability] = []
    problems: list[tuple[Where, str]] = []
    for where, cap, rng in raw:
        if not isinstance(cap, dict) or not isinstance(cap.get("type"), str):
            problems.append((where, "a capability needs a 'type'"))
            continue
        if not (
            isinstance(rng, list)
            and len(rng) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in rng)
            and 0 <= rng[0] <= rng[1] <= top
        ):
            problems.append(
                ((*where, "dmxRange"), f"dmxRange={rng!r} must be [start, end] in 0..{top}")
            )
            continue
        caps.append(Capability(type=cap["type"], lo=rng[0], hi=rng[1], props=cap))
    return caps, problems


def _attribute_of(cap: Capability) -> str | None:
    if cap.type == "ColorIntensity":
        return COLOR_ATTRIBUTES.get(str(cap.props.get("color")))
    return _TYPE_ATTRIBUTES.get(cap.type)


def _span(
    first: Capability, last: Capability, prop: str, top: int
) -> tuple[tuple[int, int] | None, float | None]:
    """The DMX range first..last (descending when `prop` runs down; None for the whole
    channel ascending) and the angle swept when both ends are in degrees."""
    start = entity(first.props.get(prop + "Start", first.props.get(prop)))
    end = entity(last.props.get(prop + "End", last.props.get(prop)))
    lo, hi = first.lo, last.hi
    up = None if (lo, hi) == (0, top) else (lo, hi)
    if start is None or end is None or start[1] != end[1]:
        return up, None
    degrees = abs(end[0] - start[0]) if start[1] == "deg" else None
    return ((hi, lo) if start[0] > end[0] else up), degrees or None


def _labels(caps: list[Capability]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(c.label() for c in caps))


def _open_value(caps: list[Capability], default: int | None) -> int:
    """The default if it leaves the shutter open, else the first Open or NoFunction value."""
    opens = [c for c in caps if c.props.get("shutterEffect") == "Open"]
    idle = [c for c in caps if c.type == "NoFunction"]
    if default is not None and any(c.lo <= default <= c.hi for c in opens + idle):
        return default
    for group in (opens, idle):
        if group:
            return group[0].lo
    return default if default is not None else 0


def map_channel(
    channel: Mapping[str, object], caps: list[Capability], resolution: int
) -> ChannelMap:
    """Decide the attribute, default, range and ignored capabilities of one channel."""
    top = 256**resolution - 1
    default = dmx_value(channel.get("defaultValue"), resolution)
    real = [c for c in caps if c.type != "NoFunction"]
    if not real:
        return ChannelMap(attribute="unused", resolution=resolution)
    if channel.get("constant") is True:
        value = default if default is not None else 0
        return ChannelMap(attribute="fixed", resolution=resolution, value=value, constant=True)
    driven: dict[str, list[Capability]] = {}
    for cap in real:
        attr = _attribute_of(cap)
        if attr is not None:
            driven.setdefault(attr, []).append(cap)
    shutters = [c for c in real if c.type in _SHUTTER_TYPES]
    strobes = [
        c for c in shutters if c.type == "StrobeSpeed" or c.props.get("shutterEffect") == "Strobe"
    ]
    if len(driven) == 1:
        ((attr, used),) = driven.items()
        used.sort(key=lambda c: c.lo)
        rng, degrees = _span(used[0], used[-1], _DIRECTION.get(attr, "brightness"), top)
        return ChannelMap(
            attribute=attr,
            resolution=resolution,
            value=default,
            range=rng,
            degrees=degrees if attr in ("pan", "tilt") else None,
            ignored=_labels([c for c in real if all(c is not u for u in used)]),
        )
    if not driven and strobes:
        steady = [c for c in strobes if "speedStart" in c.props and not c.props.get("randomTiming")]
        pick = (steady or strobes)[0]
        quiet = ("Open", "Closed")
        return ChannelMap(
            attribute="strobe",
            resolution=resolution,
            value=_open_value(caps, default),
            range=_span(pick, pick, "speed", top)[0],
            ignored=_labels(
                [c for c in real if c is not pick and c.props.get("shutterEffect") not in quiet]
            ),
        )
    value = _open_value(caps, default) if shutters else default if default is not None else 0
    return ChannelMap(attribute="fixed", resolution=resolution, value=value, ignored=_labels(real))


@dataclass(frozen=True, slots=True)
class OflChannel:
    """A channel definition under the key a mode names it by."""

    key: str
    data: Mapping[str, object]
    where: Where  # its definition: ("availableChannels" | "templateChannels", key)
    pixel: str = ""  # pixel or group key of a resolved template channel

    def name(self) -> str:
        name = self.data.get("name")
        return self._resolve(name) if isinstance(name, str) else self.key

    def aliases(self) -> list[str]:
        raw = self.data.get("fineChannelAliases")
        return (
            [self._resolve(a) for a in raw if isinstance(a, str)] if isinstance(raw, list) else []
        )

    def _resolve(self, text: str) -> str:
        return text.replace("$pixelKey", self.pixel) if self.pixel else text


@dataclass(slots=True)
class ChannelTable:
    """Every key a mode can name, and the template channels an insert block repeats."""

    channels: dict[str, OflChannel] = field(default_factory=dict)
    templates: dict[str, OflChannel] = field(default_factory=dict)
    template_fine: set[str] = field(default_factory=set)
    fine: dict[str, tuple[str, int]] = field(default_factory=dict)  # alias: (coarse, byte)
    switch: dict[str, tuple[str, str]] = field(default_factory=dict)  # alias: (target, by)


def read_channels(
    data: Mapping[str, object], matrix: Matrix | None
) -> tuple[ChannelTable, list[tuple[Where, str]]]:
    """The fixture's channel table, plus problems as (path, message)."""
    table, problems = ChannelTable(), list[tuple[Where, str]]()
    for kind in ("availableChannels", "templateChannels"):
        defs = data.get(kind)
        for key, raw in defs.items() if isinstance(defs, dict) else ():
            if not isinstance(raw, dict):
                problems.append(((kind, key), f"channel {key!r} must be an object"))
                continue
            problems += [((kind, key, *at), m) for at, m in _alias_problems(key, raw)]
            chan = OflChannel(key, raw, (kind, key))
            (table.channels if kind == "availableChannels" else table.templates)[key] = chan
    table.template_fine = {a for t in table.templates.values() for a in t.aliases()}
    for pixel in matrix.keys() if matrix is not None else []:
        for tkey, t in table.templates.items():
            key = tkey.replace("$pixelKey", pixel)
            table.channels.setdefault(key, OflChannel(key, t.data, t.where, pixel))
    for key, chan in table.channels.items():
        table.fine.update({a: (key, n) for n, a in enumerate(chan.aliases(), start=1)})
        caps = chan.data.get("capabilities")
        default = dmx_value(chan.data.get("defaultValue"), resolution_of(chan.data)) or 0
        for cap in caps if isinstance(caps, list) else []:
            rng = cap.get("dmxRange") if isinstance(cap, dict) else None
            switches = cap.get("switchChannels") if isinstance(cap, dict) else None
            if not isinstance(switches, dict) or not isinstance(rng, list) or len(rng) != 2:
                continue
            lo, hi = (v if isinstance(v, int) else -1 for v in rng)
            for alias, target in switches.items():
                if isinstance(target, str) and lo <= default <= hi:
                    table.switch[alias] = (target, key)
    return table, problems


def _alias_problems(key: str, channel: Mapping[str, object]) -> list[tuple[Where, str]]:
    """`fineChannelAliases` must be a list of at most `MAX_FINE_ALIASES` names."""
    aliases = channel.get("fineChannelAliases")
    if aliases is None:
        return []
    where: Where = ("fineChannelAliases",)
    if not isinstance(aliases, list):
        return [(where, f"channel {key!r}: fineChannelAliases must be a list of channel names")]
    for n, alias in enumerate(aliases):
        if not isinstance(alias, str):
            msg = f"channel {key!r}: fine channel alias {alias!r:.40} is not a channel name"
            return [((*where, n), msg)]
    if len(aliases) > MAX_FINE_ALIASES:
        bits = 8 * (1 + len(aliases))
        msg = (
            f"channel {key!r} has {len(aliases)} fine channel aliases (a {bits}-bit channel);"
            f" citypulse reads channels of up to 32 bits ({MAX_FINE_ALIASES} fine aliases)"
        )
        return [(where, msg)]
    return []
