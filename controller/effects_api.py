"""L1 effect registry interface: what an effect is called, what it takes, what it drives.

The show checker validates clip parameters against `EffectSpec.params`; the renderer
(`controller.render.effects`) supplies each spec's implementation. Parameter values are
normalised here into `ParamTrack`s (a constant is a one-key track), so the renderer only
ever evaluates keyframes.
"""

from __future__ import annotations

import enum
import itertools
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from controller.attributes import Attribute

__all__ = [
    "EASINGS",
    "EffectRegistry",
    "EffectSpec",
    "Keyframe",
    "ParamError",
    "ParamKind",
    "ParamSpec",
    "ParamTrack",
    "ease",
    "ease_integral",
    "normalise_param",
]

NAMED_COLORS: dict[str, tuple[float, float, float]] = {
    "black": (0.0, 0.0, 0.0),
    "white": (1.0, 1.0, 1.0),
    "red": (1.0, 0.0, 0.0),
    "green": (0.0, 1.0, 0.0),
    "blue": (0.0, 0.0, 1.0),
    "cyan": (0.0, 1.0, 1.0),
    "magenta": (1.0, 0.0, 1.0),
    "yellow": (1.0, 1.0, 0.0),
    "orange": (1.0, 0.5, 0.0),
    "amber": (1.0, 0.75, 0.0),
    "purple": (0.5, 0.0, 1.0),
    "gold": (1.0, 0.84, 0.0),
    "warm-white": (1.0, 0.85, 0.6),
    "cool-white": (0.8, 0.9, 1.0),
}

EASINGS = (
    "step",
    "linear",
    "in-sine",
    "out-sine",
    "in-out-sine",
    "in-cubic",
    "out-cubic",
    "in-out-cubic",
)


class ParamKind(enum.StrEnum):
    NUMBER = "number"  # one float, checked against min/max
    COLOR = "color"  # "#rrggbb", a colour name, or [r, g, b] in 0..1
    POINT = "point"  # [x, y] or [x, y, z] metres in the venue frame
    CHOICE = "choice"  # one of `choices`
    BOOL = "bool"
    TEXT = "text"  # e.g. an image path


class ParamError(Exception):
    """A parameter value that does not fit its spec; `where` is a path inside the value."""

    def __init__(self, message: str, where: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.where = where


@dataclass(frozen=True, slots=True, kw_only=True)
class ParamSpec:
    name: str
    kind: ParamKind
    default: object
    doc: str
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    rate: bool = False  # a rate (per second): effects read its integral as `<name>_phase`

    @property
    def keyframeable(self) -> bool:
        return self.kind in (ParamKind.NUMBER, ParamKind.COLOR, ParamKind.POINT)

    def allowed(self) -> str:
        if self.kind is ParamKind.NUMBER:
            lo = "-inf" if self.minimum is None else f"{self.minimum:g}"
            hi = "inf" if self.maximum is None else f"{self.maximum:g}"
            return f"a number {lo}..{hi}{(' ' + self.unit) if self.unit else ''}"
        if self.kind is ParamKind.COLOR:
            return "'#rrggbb', a colour name, or [r, g, b] with 0..1 components"
        if self.kind is ParamKind.POINT:
            return "[x, y] or [x, y, z] in metres"
        if self.kind is ParamKind.CHOICE:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind is ParamKind.BOOL:
            return "true or false"
        return "text"


@dataclass(frozen=True, slots=True)
class Keyframe:
    t: float  # seconds from clip start
    value: tuple[float, ...]
    ease: str = "linear"  # easing of the segment that ENDS at this key


@dataclass(frozen=True, slots=True)
class ParamTrack:
    """A parameter over clip time; a constant is one key. `text` holds choice/text values."""

    keys: tuple[Keyframe, ...] = ()
    text: str | None = None

    @property
    def constant(self) -> bool:
        return len(self.keys) <= 1

    def at(self, t: float) -> tuple[float, ...]:
        """Value at clip time `t` (held before the first and after the last key)."""
        keys = self.keys
        if not keys:
            return ()
        if len(keys) == 1 or t <= keys[0].t:
            return keys[0].value
        if t >= keys[-1].t:
            return keys[-1].value
        lo, hi = 0, len(keys) - 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if keys[mid].t <= t:
                lo = mid
            else:
                hi = mid
        a, b = keys[lo], keys[hi]
        u = ease(b.ease, (t - a.t) / (b.t - a.t))
        return tuple(x + (y - x) * u for x, y in zip(a.value, b.value, strict=True))

    def integral(self, t: float) -> tuple[float, ...]:
        """Integral of the value from clip time 0 to `t` (the phase of a rate parameter).

        A speed keyframed from 1 to 0 then slows a chase to a stop instead of running it
        backwards, as `t * speed(t)` would.
        """
        keys = self.keys
        if not keys:
            return ()
        first = keys[0]
        if t <= first.t or len(keys) == 1:
            return tuple(v * t for v in first.value)
        total = [v * first.t for v in first.value]
        for a, b in itertools.pairwise(keys):
            if t <= a.t:
                break
            span = b.t - a.t
            u = min(1.0, (t - a.t) / span)
            area = ease_integral(b.ease, u)  # integral of ease over [0, u]
            for i, (x, y) in enumerate(zip(a.value, b.value, strict=True)):
                total[i] += span * (x * u + (y - x) * area)
        last = keys[-1]
        if t > last.t:
            total = [acc + v * (t - last.t) for acc, v in zip(total, last.value, strict=True)]
        return tuple(total)


def ease_integral(name: str, u: float) -> float:
    """Integral of `ease(name, x)` for x from 0 to u (closed forms)."""
    half_pi = math.pi / 2
    if name == "step":
        return 0.0
    if name == "in-sine":
        return u - math.sin(u * half_pi) / half_pi
    if name == "out-sine":
        return (1.0 - math.cos(u * half_pi)) / half_pi
    if name == "in-out-sine":
        return u / 2 - math.sin(u * math.pi) / (2 * math.pi)
    if name == "in-cubic":
        return u**4 / 4
    if name == "out-cubic":
        return u + ((1.0 - u) ** 4 - 1.0) / 4
    if name == "in-out-cubic":
        if u < 0.5:
            return u**4
        return 1 / 16 + (u - 0.5) + ((2 - 2 * u) ** 4 - 1) / 16
    return u * u / 2


def ease(name: str, u: float) -> float:
    """Map linear progress u in [0, 1] through easing `name`."""
    if u <= 0.0:  # exact endpoints: 1 - cos(pi/2) is 0.9999999999999999, not 1
        return 0.0
    if u >= 1.0:
        return 1.0
    if name == "step":
        return 0.0 if u < 1.0 else 1.0
    if name == "in-sine":
        return 1.0 - math.cos(u * math.pi / 2)
    if name == "out-sine":
        return math.sin(u * math.pi / 2)
    if name == "in-out-sine":
        return 0.5 - 0.5 * math.cos(u * math.pi)
    if name == "in-cubic":
        return u * u * u
    if name == "out-cubic":
        return 1.0 - (1.0 - u) ** 3
    if name == "in-out-cubic":
        return 4 * u * u * u if u < 0.5 else 1.0 - (-2 * u + 2) ** 3 / 2
    return u


@dataclass(frozen=True, slots=True, kw_only=True)
class EffectSpec:
    """An effect's name, documentation, parameters and the attributes it drives."""

    name: str
    doc: str
    writes: tuple[Attribute, ...]
    params: tuple[ParamSpec, ...]
    impl: object = field(default=None, compare=False, repr=False)

    def param(self, name: str) -> ParamSpec | None:
        return next((p for p in self.params if p.name == name), None)


class EffectRegistry(Mapping[str, EffectSpec]):
    """Effects by name; built once and passed to the checker and compiler."""

    def __init__(self, specs: Iterable[EffectSpec] = ()) -> None:
        self._specs: dict[str, EffectSpec] = {}
        for spec in specs:
            self.register(spec)

    def register(self, spec: EffectSpec) -> None:
        if spec.name in self._specs:
            msg = f"effect {spec.name!r} registered twice"
            raise ValueError(msg)
        self._specs[spec.name] = spec

    def __getitem__(self, name: str) -> EffectSpec:
        return self._specs[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)


def _number(v: object, spec: ParamSpec, where: tuple[str | int, ...]) -> tuple[float, ...]:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ParamError(f"{spec.name}={v!r} is not {spec.allowed()}", where)
    if (spec.minimum is not None and v < spec.minimum) or (
        spec.maximum is not None and v > spec.maximum
    ):
        raise ParamError(f"{spec.name}={v!r} out of range: expected {spec.allowed()}", where)
    return (float(v),)


_HEX_COLOR = re.compile(r"#[0-9a-f]{6}", re.ASCII)


def _color(v: object, spec: ParamSpec, where: tuple[str | int, ...]) -> tuple[float, ...]:
    if isinstance(v, str):
        s = v.strip().lower()
        if s in NAMED_COLORS:
            return NAMED_COLORS[s]
        if _HEX_COLOR.fullmatch(s):  # not int(_, 16): it takes signs, "_" and non-ASCII digits
            return tuple(int(s[i : i + 2], 16) / 255.0 for i in (1, 3, 5))
    elif isinstance(v, list) and len(v) == 3:
        if all(isinstance(c, int | float) and not isinstance(c, bool) for c in v):
            comps = [float(c) for c in v]
            if all(0.0 <= c <= 1.0 for c in comps):
                return tuple(comps)
    raise ParamError(f"{spec.name}={v!r} is not a colour: expected {spec.allowed()}", where)


def _point(v: object, spec: ParamSpec, where: tuple[str | int, ...]) -> tuple[float, ...]:
    if isinstance(v, list) and len(v) in (2, 3):
        if all(isinstance(c, int | float) and not isinstance(c, bool) for c in v):
            comps = [float(c) for c in v]
            if all(math.isfinite(c) for c in comps):
                return (comps[0], comps[1], comps[2] if len(comps) == 3 else 0.0)
    raise ParamError(f"{spec.name}={v!r} is not a point: expected {spec.allowed()}", where)


_SCALAR = {ParamKind.NUMBER: _number, ParamKind.COLOR: _color, ParamKind.POINT: _point}


def _is_keyframes(v: object) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(k, dict) for k in v)


def normalise_param(spec: ParamSpec, raw: object, *, clip_length: float) -> ParamTrack:
    """Check a raw parameter value against `spec` and turn it into a track.

    Raises:
        ParamError: with a message naming the value and what is allowed.
    """
    if spec.kind is ParamKind.BOOL:
        if not isinstance(raw, bool):
            raise ParamError(f"{spec.name}={raw!r} is not {spec.allowed()}")
        return ParamTrack((Keyframe(0.0, (1.0 if raw else 0.0,)),))
    if spec.kind is ParamKind.TEXT:
        if not isinstance(raw, str) or not raw:
            raise ParamError(f"{spec.name}={raw!r} is not {spec.allowed()}")
        return ParamTrack(text=raw)
    if spec.kind is ParamKind.CHOICE:
        if raw not in spec.choices:
            raise ParamError(f"{spec.name}={raw!r} is not {spec.allowed()}")
        return ParamTrack((Keyframe(0.0, (float(spec.choices.index(str(raw))),)),), text=str(raw))
    scalar = _SCALAR[spec.kind]
    if not _is_keyframes(raw):
        return ParamTrack((Keyframe(0.0, scalar(raw, spec, ())),))
    assert isinstance(raw, list)
    keys: list[Keyframe] = []
    for i, item in enumerate(raw):
        assert isinstance(item, dict)
        extra = sorted(set(item) - {"t", "v", "ease"})
        if extra:
            raise ParamError(f"unknown keyframe key {extra[0]!r} (allowed: 't', 'v', 'ease')", (i,))
        if "t" not in item or "v" not in item:
            raise ParamError("a keyframe needs 't' (seconds from clip start) and 'v'", (i,))
        t = item["t"]
        if isinstance(t, bool) or not isinstance(t, int | float) or not 0 <= t <= clip_length:
            raise ParamError(f"keyframe t={t!r} outside the clip (0..{clip_length:g} s)", (i, "t"))
        if keys and t <= keys[-1].t:
            raise ParamError(f"keyframe t={t!r} is not after the previous key", (i, "t"))
        easing = item.get("ease", "linear")
        if easing not in EASINGS:
            allowed = ", ".join(EASINGS)
            raise ParamError(f"ease={easing!r} unknown (allowed: {allowed})", (i, "ease"))
        keys.append(Keyframe(float(t), scalar(item["v"], spec, (i, "v")), str(easing)))
    return ParamTrack(tuple(keys))
