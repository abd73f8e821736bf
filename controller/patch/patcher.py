"""L4 build a venue's patch once; apply it to each rendered frame.

Rules:
- Universes are rows of a (n_universes, 512) uint8 array in ascending universe order;
  slots no fixture uses stay 0, `fixed` channels hold their value, `unused` stay 0.
- A channel whose attribute is at its home value (nothing drove it) outputs the channel's
  `default` when the profile gives one (e.g. shutter open, pan centred).
- Colour channels of elements without their own intensity channel (pixel cells, RGB
  fixtures without a dimmer) are dimmed by the element's intensity: virtual intensity.
  A pixel mode's head intensity channel runs at full x master, so the cells carry the level.
- `white_from_rgb`: white = min(R, G, B) and that amount is taken out of R, G and B.
- Venue intensity scale and the grand master multiply every intensity-class output.
- Order per channel: value -> white extraction -> dimming -> curve -> invert -> range ->
  8-bit round, or 16-bit round and split coarse/fine.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from controller.attributes import HOME_VALUES, Attribute
from controller.compile.elements import ElementTable
from controller.patch.curves import apply_curve
from controller.show.profile import CELL_LETTERS, ChannelSpec, Curve
from controller.show.twin import UNIVERSE_SIZE, PlacedFixture, Twin

__all__ = ["Patch", "build_patch"]

F32 = NDArray[np.float32]
I64 = NDArray[np.int64]
COLOR_ROWS = {
    Attribute.RED,
    Attribute.GREEN,
    Attribute.BLUE,
    Attribute.WHITE,
    Attribute.AMBER,
    Attribute.UV,
}
FULL = -1  # "attribute" of a head intensity channel in a pixel mode: always 1.0


@dataclass(frozen=True, slots=True)
class _Group:
    """Entries that share a curve and a bit depth, gathered and written together."""

    curve: Curve
    gamma: float
    bits: int
    pos: I64  # positions into the entry arrays


class _Builder:
    def __init__(self, n_elements: int, universes: dict[int, int]) -> None:
        self.n = n_elements
        self.rows = universes
        self.cols: dict[str, list[float]] = defaultdict(list)
        self.fixed: list[tuple[int, int]] = []

    def add(self, ch: ChannelSpec, attr: int, elem: int, dst: int, vdim: bool, wx: int) -> None:
        c = self.cols
        top = 255 if ch.bits == 8 else 65535
        lo, hi = ch.range if ch.range is not None else (0, top)
        c["src"].append(attr * self.n + elem if attr >= 0 else -1)
        c["attr"].append(attr)
        c["elem"].append(elem)
        c["dst"].append(dst)
        c["bits"].append(ch.bits)
        c["curve"].append(list(Curve).index(ch.curve))
        c["gamma"].append(ch.gamma)
        c["invert"].append(int(ch.invert))
        c["lo"].append(lo)
        c["hi"].append(hi)
        c["default"].append(-1 if ch.default is None else ch.default)
        c["home"].append(HOME_VALUES[Attribute(attr)] if attr >= 0 else -1.0)
        c["vdim"].append(int(vdim))
        c["wx"].append(wx)
        c["intensity"].append(int(attr in (Attribute.INTENSITY, FULL)))


def _cell_channel(letter: str, curve: Curve, gamma: float) -> ChannelSpec:
    return ChannelSpec(attribute=CELL_LETTERS[letter], curve=curve, gamma=gamma)


def _add_fixture(b: _Builder, fx: PlacedFixture, first_elem: int) -> None:
    mode = fx.mode
    has_dimmer = any(c.attribute == "intensity" for c in mode.channels) and mode.cells is None
    wx_mode = mode.white_from_rgb
    for seg in fx.segments:
        base = b.rows[seg.universe] * UNIVERSE_SIZE + seg.address - 1
        slot = 0
        if seg.head:
            for ch in mode.channels:
                dst = base + slot
                slot += ch.slots
                if ch.attribute == "fixed":
                    value = ch.value or 0
                    if ch.bits == 16:
                        b.fixed += [(dst, value >> 8), (dst + 1, value & 0xFF)]
                    else:
                        b.fixed.append((dst, value))
                    continue
                if ch.attribute == "unused":
                    continue
                attr = int(Attribute.from_key(ch.attribute))
                if attr == Attribute.INTENSITY and mode.cells is not None:
                    attr = FULL
                b.add(ch, attr, first_elem, dst, _vdim(attr, has_dimmer), _wx(attr, wx_mode))
        if mode.cells is None or seg.cells == 0:
            continue
        order = mode.cells.order
        for k, letter in enumerate(order):
            spec = _cell_channel(letter, mode.cells.curve, mode.cells.gamma)
            attr = int(Attribute.from_key(spec.attribute))
            for cell in range(seg.cells):
                dst = base + slot + cell * len(order) + k
                b.add(spec, attr, first_elem + seg.first_cell + cell, dst, True, 0)


def _vdim(attr: int, has_dimmer: bool) -> bool:
    return attr in COLOR_ROWS and not has_dimmer


def _wx(attr: int, enabled: bool) -> int:
    if not enabled:
        return 0
    if attr == Attribute.WHITE:
        return 1
    return 2 if attr in (Attribute.RED, Attribute.GREEN, Attribute.BLUE) else 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Patch:
    """Everything `apply` needs, as flat index arrays over the frame and the universes."""

    universes: tuple[int, ...]
    base: NDArray[np.uint8]  # (n_universes, 512) fixed values, zeros elsewhere
    src: I64
    dst: I64
    lo: F32
    span: F32
    default: F32
    home: F32
    has_default: NDArray[np.bool_]
    invert: I64
    vdim: I64
    vdim_src: I64
    intensity: I64
    full: I64
    wx_white: I64
    wx_color: I64
    wx_src: I64  # (3, k) flat frame indices of R, G, B for every wx entry
    wx_all: I64
    groups: tuple[_Group, ...]

    @property
    def channels(self) -> int:
        return int((self.base.size > 0) and len(self.src))

    def new_output(self) -> NDArray[np.uint8]:
        return np.zeros((len(self.universes), UNIVERSE_SIZE), dtype=np.uint8)

    def apply(self, frame: F32, out: NDArray[np.uint8], master: float = 1.0) -> NDArray[np.uint8]:
        """Write the DMX bytes of `frame` into `out`; `master` is grand master x venue scale."""
        flat = frame.reshape(-1)
        v = np.take(flat, self.src, mode="clip")
        is_home = self.has_default & (v == self.home)
        v[self.full] = 1.0
        if len(self.wx_all):
            m = np.minimum(
                np.minimum(flat[self.wx_src[0]], flat[self.wx_src[1]]), flat[self.wx_src[2]]
            )
            v[self.wx_white] = np.maximum(v[self.wx_white], m[: len(self.wx_white)])
            v[self.wx_color] -= m[len(self.wx_white) :]
        if len(self.vdim):
            v[self.vdim] *= flat[self.vdim_src] * np.float32(master)
        if master != 1.0 and len(self.intensity):
            v[self.intensity] *= np.float32(master)
        np.clip(v, 0.0, 1.0, out=v)
        for g in self.groups:
            if g.curve is not Curve.LINEAR:
                v[g.pos] = apply_curve(g.curve, v[g.pos], g.gamma)
        if len(self.invert):
            v[self.invert] = 1.0 - v[self.invert]
        dmx = self.lo + v * self.span
        np.copyto(dmx, self.default, where=is_home)
        np.copyto(out, self.base)
        flat_out = out.reshape(-1)
        for g in self.groups:
            values = dmx[g.pos]
            dst = self.dst[g.pos]
            if g.bits == 8:
                flat_out[dst] = np.rint(values).astype(np.uint8)
            else:
                wide = np.rint(values).astype(np.uint32)
                flat_out[dst] = (wide >> 8).astype(np.uint8)
                flat_out[dst + 1] = (wide & 0xFF).astype(np.uint8)
        return out


def build_patch(twin: Twin, elements: ElementTable) -> Patch:
    """Flatten the twin's patch into index arrays (done once per venue)."""
    universes = twin.universes
    rows = {u: i for i, u in enumerate(universes)}
    b = _Builder(elements.n, rows)
    for index, fx in enumerate(twin.fixtures):
        if fx.segments:
            _add_fixture(b, fx, int(elements.first[index]))
    base = np.zeros((len(universes), UNIVERSE_SIZE), dtype=np.uint8)
    flat_base = base.reshape(-1)
    for dst, value in b.fixed:
        flat_base[dst] = value
    c = {k: np.asarray(v) for k, v in b.cols.items()}
    if not c:
        c = {
            k: np.zeros(0)
            for k in (
                "src",
                "attr",
                "elem",
                "dst",
                "bits",
                "curve",
                "gamma",
                "invert",
                "lo",
                "hi",
                "default",
                "home",
                "vdim",
                "wx",
                "intensity",
            )
        }
    attr, elem = c["attr"].astype(np.int64), c["elem"].astype(np.int64)
    n = elements.n
    src = np.where(c["src"] >= 0, c["src"], 0).astype(np.int64)
    wx = c["wx"].astype(np.int64)
    wx_white, wx_color = np.flatnonzero(wx == 1), np.flatnonzero(wx == 2)
    wx_all = np.concatenate([wx_white, wx_color])
    wx_src = np.stack(
        [int(r) * n + elem[wx_all] for r in (Attribute.RED, Attribute.GREEN, Attribute.BLUE)]
    )
    vdim = np.flatnonzero(c["vdim"] == 1)
    groups: list[_Group] = []
    curves, bits, gammas = c["curve"].astype(np.int64), c["bits"].astype(np.int64), c["gamma"]
    keys = sorted(
        {(int(cv), int(bt), float(gm)) for cv, bt, gm in zip(curves, bits, gammas, strict=True)}
    )
    for cv, bt, gm in keys:
        pos = np.flatnonzero((curves == cv) & (bits == bt) & (gammas == gm))
        groups.append(_Group(curve=list(Curve)[cv], gamma=gm, bits=bt, pos=pos.astype(np.int64)))
    default = c["default"].astype(np.float32)
    return Patch(
        universes=universes,
        base=base,
        src=src,
        dst=c["dst"].astype(np.int64),
        lo=c["lo"].astype(np.float32),
        span=(c["hi"] - c["lo"]).astype(np.float32),
        default=default,
        home=c["home"].astype(np.float32),
        has_default=default >= 0,
        invert=np.flatnonzero(c["invert"] == 1),
        vdim=vdim,
        vdim_src=(int(Attribute.INTENSITY) * n + elem[vdim]).astype(np.int64),
        intensity=np.flatnonzero(c["intensity"] == 1),
        full=np.flatnonzero(attr == FULL),
        wx_white=wx_white,
        wx_color=wx_color,
        wx_src=wx_src.astype(np.int64).reshape(3, -1),
        wx_all=wx_all,
        groups=tuple(groups),
    )
