"""L4 build a venue's patch once; apply it to each rendered frame.

Rules:
- Universes are rows of a (n_universes, 512) uint8 array in ascending universe order;
  slots no fixture uses stay 0, `fixed` channels hold their value, `unused` stay 0.
- A channel whose attribute is at its home value (nothing drove it) outputs the channel's
  `default` when the profile gives one (shutter open, pan centred).
- Frames hold light (colour x intensity). Colour channels of elements without their own
  dimmer (pixel cells, RGB fixtures without an intensity channel) output the light
  directly: virtual intensity. Fixtures with a dimmer output colour = light / intensity
  (white while dark) and the level on the dimmer. A pixel mode's head intensity channel
  runs at full x master, so the cells carry the level.
- `white_from_rgb`: white = min(R, G, B) and that amount is taken out of R, G and B.
- Venue intensity scale and grand master (`master`) scale every intensity-class output.
- Per channel: value -> white extraction -> dimming -> curve -> invert -> range ->
  8-bit round, or 16-bit round split coarse/fine (MSB first).

Strategy: entries are sorted into a FAST block (8-bit colour light with no default,
invert or range: nearly every pixel slot), processed as contiguous slices through one
lookup table per curve, and a GENERAL block that takes the full path above.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from controller.attributes import HOME_VALUES, LIGHT_ATTRIBUTES, Attribute
from controller.compile.elements import ElementTable
from controller.patch import kernels
from controller.patch.curves import apply_curve
from controller.patch.runs import SlotRuns, slot_runs
from controller.render import jit
from controller.show.profile import CELL_LETTERS, ChannelSpec, Curve
from controller.show.twin import UNIVERSE_SIZE, PlacedFixture, Twin

__all__ = [
    "FIXED_SLOT",
    "FREE_SLOT",
    "FULL",
    "LUT_SIZE",
    "Patch",
    "SlotOwner",
    "build_patch",
    "slot_owner",
]

F32 = NDArray[np.float32]
I64 = NDArray[np.int64]
U8 = NDArray[np.uint8]
FULL = -1  # attribute of a pixel mode's head intensity channel: always full x master
FIXED_SLOT = -3  # a `fixed` channel (constant value)
FREE_SLOT = -2  # no fixture uses the slot
LUT_SIZE = 4096  # levels per curve lookup table (finer than 8-bit output needs)
_LIGHT = {int(a) for a in LIGHT_ATTRIBUTES}
_CURVES = list(Curve)
_COLUMNS = (
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
    "undim",
    "wx",
)


class _Builder:
    def __init__(self, universes: dict[int, int]) -> None:
        self.rows = universes
        self.parts: dict[str, list[NDArray[np.float64]]] = {k: [] for k in _COLUMNS}
        self.fixed: list[tuple[int, int]] = []
        self.calls: list[int] = []  # entries per `add`: one channel of a run of cells

    def add(self, ch: ChannelSpec, attr: int, elem: I64, dst: I64, *, undim: bool, wx: int) -> None:
        n = len(dst)
        top = 255 if ch.bits == 8 else 65535
        lo, hi = ch.range if ch.range is not None else (0, top)
        values = {
            "attr": attr,
            "elem": elem,
            "dst": dst,
            "bits": ch.bits,
            "curve": _CURVES.index(ch.curve),
            "gamma": ch.gamma,
            "invert": int(ch.invert),
            "lo": lo,
            "hi": hi,
            "default": -1 if ch.default is None else ch.default,
            "undim": int(undim),
            "wx": wx,
        }
        for key, value in values.items():
            self.parts[key].append(np.broadcast_to(np.asarray(value, np.float64), (n,)))
        self.calls.append(n)

    def columns(self) -> dict[str, NDArray[np.float64]]:
        return {k: np.concatenate(v) if v else np.zeros(0) for k, v in self.parts.items()}


def _add_fixture(b: _Builder, fx: PlacedFixture, first_elem: int) -> None:
    mode = fx.mode
    has_dimmer = mode.cells is None and any(c.attribute == "intensity" for c in mode.channels)
    one = np.ones(1, np.int64)
    for seg in fx.segments:
        base = b.rows[seg.universe] * UNIVERSE_SIZE + seg.address - 1
        slot = 0
        if seg.head:
            for ch in mode.channels:
                dst = base + slot
                slot += ch.slots
                if ch.attribute == "fixed":
                    value = ch.value or 0
                    pairs = (
                        [(dst, value >> 8), (dst + 1, value & 0xFF)]
                        if ch.bits == 16
                        else [(dst, value)]
                    )
                    b.fixed += pairs
                    continue
                if ch.attribute == "unused":
                    continue
                attr = int(Attribute.from_key(ch.attribute))
                if attr == Attribute.INTENSITY and mode.cells is not None:
                    attr = FULL
                wx = 0
                if mode.white_from_rgb:
                    wx = 1 if attr == Attribute.WHITE else 2 if attr in (1, 2, 3) else 0
                b.add(
                    ch,
                    attr,
                    one * first_elem,
                    one * dst,
                    undim=has_dimmer and attr in _LIGHT,
                    wx=wx,
                )
        if mode.cells is None or seg.cells == 0:
            continue
        order = mode.cells.order
        cells = np.arange(seg.cells, dtype=np.int64)
        elems = first_elem + seg.first_cell + cells
        extract = mode.white_from_rgb and "W" in order
        for k, letter in enumerate(order):
            spec = ChannelSpec(
                attribute=CELL_LETTERS[letter], curve=mode.cells.curve, gamma=mode.cells.gamma
            )
            attr = int(Attribute.from_key(spec.attribute))
            wx = (1 if letter == "W" else 2 if letter in "RGB" else 0) if extract else 0
            b.add(spec, attr, elems, base + slot + cells * len(order) + k, undim=False, wx=wx)


@dataclass(frozen=True, slots=True)
class _Lut:
    start: int
    stop: int
    table: U8  # LUT_SIZE entries: level -> byte
    inverse: F32  # 256 entries: byte -> mean level that produces it


@dataclass(frozen=True, slots=True, kw_only=True)
class Patch:
    """Everything `apply` needs, as flat index arrays over the frame and the universes."""

    universes: tuple[int, ...]
    n_elements: int
    # FAST block: entries [0, n_fast), sorted by curve
    fast_src: I64
    fast_dst: I64
    luts: tuple[_Lut, ...]
    # the FAST block as dense per-output-slot arrays: one gather writes every byte in place
    dense_src: I64  # (n_slots,) flat frame index each slot reads (0 where not FAST)
    dense_offset: I64  # (n_slots,) start of its curve's table in `tables` (0: the zero table)
    tables: U8  # (1 + len(luts)) * LUT_SIZE: a zero table, then one table per curve
    # the same for the compiled kernel, laid out as the pixels are: runs of slots
    runs: SlotRuns
    table_rows: U8  # (1 + len(luts), LUT_SIZE)
    fixed_dst: I64
    fixed_value: U8
    # GENERAL block
    src: I64
    dst: I64
    bits16: NDArray[np.bool_]
    curve: tuple[tuple[Curve, float, I64], ...]
    invert: I64
    lo: F32
    span: F32
    default: F32
    home: F32
    has_default: I64
    master_scaled: I64
    full: I64
    undim: I64
    undim_src: I64
    undim_dark: F32  # colour a dimmer fixture shows while dark: 1 for R, G, B; 0 otherwise
    mono: I64  # elements with an intensity channel and no colour channel (white light)
    wx_white: I64
    wx_color: I64
    wx_src: I64  # (3, len(wx_white) + len(wx_color)) flat frame indices of R, G, B
    # reverse map for reports (fseq diff, simulator): per output slot, who drives it
    slot_attr: NDArray[np.int32]  # attribute, FULL, FIXED_SLOT or FREE_SLOT
    slot_elem: NDArray[np.int32]  # element, or -1
    slot_fine: NDArray[np.bool_]  # the low byte of a 16-bit channel

    @property
    def channels(self) -> int:
        return len(self.fast_src) + len(self.src)

    def new_output(self) -> U8:
        return np.zeros((len(self.universes), UNIVERSE_SIZE), dtype=np.uint8)

    def apply(
        self, frame: F32, out: U8, master: float = 1.0, driven: NDArray[np.bool_] | None = None
    ) -> U8:
        """Write the DMX bytes of `frame` into `out`; `master` is grand master x venue scale.

        `driven` (from `render`) says which attributes a clip wrote; channels with a
        profile default send it where nothing drove them. Without it, a value equal to the
        attribute's home value counts as undriven.
        """
        flat = frame.reshape(-1)
        flat_out = out.reshape(-1)
        if jit.enabled():
            scale = float(np.float32((LUT_SIZE - 1) * min(max(master, 0.0), 1.0)))
            r = self.runs
            kernels.fast_runs(
                flat, r.dst, r.step, r.src, r.count, r.table, r.zero, self.table_rows, scale,
                flat_out,
            )  # fmt: skip
        else:
            self._fast(flat, flat_out, master)
        flat_out[self.fixed_dst] = self.fixed_value
        if len(self.src):
            self._general(flat, flat_out, np.float32(master), driven)
        return out

    def _fast(self, flat: F32, flat_out: U8, master: float) -> None:
        """The numpy reference of `kernels.fast_slots`."""
        level = np.take(flat, self.dense_src)
        level *= np.float32((LUT_SIZE - 1) * min(max(master, 0.0), 1.0))
        np.clip(level, 0.0, LUT_SIZE - 1, out=level)
        level += np.float32(0.5)
        index = level.astype(np.intp)
        index += self.dense_offset
        np.take(self.tables, index, out=flat_out)  # every slot; non-FAST slots read zeros

    def decode(self, dmx: U8, out: F32) -> F32:
        """Inverse of `apply` (for the simulator): the attribute frame these bytes show.

        Light and intensity come back as the wire carries them (master included); white
        extracted from RGB stays on the white row; defaults read as driven values.
        """
        flat_in = dmx.reshape(-1)
        flat = out.reshape(-1)
        out[...] = 0.0
        out[Attribute.PAN] = out[Attribute.TILT] = 0.5
        for lut in self.luts:
            part = slice(lut.start, lut.stop)
            flat[self.fast_src[part]] = lut.inverse[flat_in[self.fast_dst[part]]]
        if len(self.src):
            wide = flat_in[self.dst].astype(np.float32)
            b16 = self.bits16
            wide[b16] = wide[b16] * 256.0 + flat_in[self.dst[b16] + 1]
            v = np.divide(wide - self.lo, self.span, out=np.zeros_like(wide), where=self.span != 0)
            np.clip(v, 0.0, 1.0, out=v)
            v[self.invert] = 1.0 - v[self.invert]
            for curve, gamma, pos in self.curve:
                v[pos] = _inverse_curve(curve, v[pos], gamma)
            real = np.ones(len(v), np.bool_)
            real[self.full] = False
            real[self.undim] = False
            flat[self.src[real]] = v[real]
            if len(self.undim):  # colour of a dimmer fixture -> light = colour x level
                flat[self.src[self.undim]] = v[self.undim] * flat[self.undim_src]
        if len(self.mono):  # no colour channels: the fixture emits white at its level
            level = out[Attribute.INTENSITY, self.mono]
            for row in (Attribute.RED, Attribute.GREEN, Attribute.BLUE):
                out[row, self.mono] = level
        return out

    def _general(
        self, flat: F32, flat_out: U8, master: np.float32, driven: NDArray[np.bool_] | None
    ) -> None:
        if jit.enabled():
            self._general_compiled(flat, flat_out, master, driven)
            return
        v = np.take(flat, self.src)
        is_home = np.zeros(len(v), np.bool_)
        d = self.has_default
        if driven is not None:
            is_home[d] = ~driven.reshape(-1)[self.src[d]]
        else:
            is_home[d] = v[d] == self.home[d]
        if len(self.wx_src[0]):  # in light, before undim: both sides scale alike
            m = np.minimum(
                np.minimum(flat[self.wx_src[0]], flat[self.wx_src[1]]), flat[self.wx_src[2]]
            )
            nw = len(self.wx_white)
            v[self.wx_white] = np.maximum(v[self.wx_white], m[:nw])
            v[self.wx_color] -= m[nw:]
        if len(self.undim):
            level = flat[self.undim_src]
            dark = self.undim_dark.copy()  # R, G, B white and W/A/UV off while the dimmer is at 0
            colour = np.divide(v[self.undim], level, out=dark, where=level > 1e-6)
            v[self.undim] = colour
        v[self.full] = 1.0
        v[self.master_scaled] *= master
        np.clip(v, 0.0, 1.0, out=v)
        for curve, gamma, pos in self.curve:
            v[pos] = apply_curve(curve, v[pos], gamma)
        v[self.invert] = 1.0 - v[self.invert]
        dmx = self.lo + v * self.span
        np.copyto(dmx, self.default, where=is_home)
        wide = np.rint(dmx).astype(np.uint32)
        narrow = ~self.bits16
        flat_out[self.dst[narrow]] = wide[narrow].astype(np.uint8)
        flat_out[self.dst[self.bits16]] = (wide[self.bits16] >> 8).astype(np.uint8)
        flat_out[self.dst[self.bits16] + 1] = (wide[self.bits16] & 0xFF).astype(np.uint8)

    def _general_compiled(
        self, flat: F32, flat_out: U8, master: np.float32, driven: NDArray[np.bool_] | None
    ) -> None:
        """`_general` in two compiled passes around the curves (which stay numpy: `pow`)."""
        v = np.empty(len(self.src), np.float32)
        is_home = np.empty(len(self.src), np.bool_)
        mask = driven.reshape(-1) if driven is not None else _NO_MASK
        kernels.general_levels(
            flat, self.src, self.has_default, mask, driven is not None, self.home,
            self.wx_src, self.wx_white, self.wx_color, self.undim, self.undim_src,
            self.undim_dark, self.full, self.master_scaled, float(master), v, is_home,
        )  # fmt: skip
        for curve, gamma, pos in self.curve:
            v[pos] = apply_curve(curve, v[pos], gamma)
        kernels.general_bytes(
            v, self.invert, self.lo, self.span, self.default, is_home, self.dst, self.bits16,
            flat_out,
        )  # fmt: skip


_NO_MASK = np.zeros(1, np.bool_)


def _inverse_curve(curve: Curve, v: F32, gamma: float) -> F32:
    """Level before `curve` that gives `v` (curves are monotone; s-curve by table)."""
    if curve is Curve.LINEAR:
        return v
    if curve is Curve.SQUARE:
        out = np.sqrt(v)
    elif curve is Curve.INVERSE_SQUARE:
        out = 1.0 - np.sqrt(1.0 - v)
    elif curve is Curve.GAMMA:
        out = np.power(v, np.float32(1.0 / gamma))
    else:
        grid = np.linspace(0.0, 1.0, 4097, dtype=np.float32)
        out = np.interp(v, apply_curve(curve, grid, gamma), grid)
    return np.asarray(out, dtype=np.float32)


def _mono_elements(attr: I64, elem: I64) -> I64:
    lit = set(elem[attr == Attribute.INTENSITY].tolist())
    coloured = set(elem[np.isin(attr, list(_LIGHT))].tolist())
    return np.array(sorted(lit - coloured), dtype=np.int64)


def _inverse_lut(table: U8) -> F32:
    levels = np.linspace(0.0, 1.0, LUT_SIZE, dtype=np.float64)
    sums = np.bincount(table, weights=levels, minlength=256)
    counts = np.bincount(table, minlength=256)
    inverse = np.interp(
        np.arange(256), np.flatnonzero(counts), sums[counts > 0] / counts[counts > 0]
    )
    inverse[0], inverse[255] = 0.0, 1.0  # off is off, full is full
    return inverse.astype(np.float32)


def _lut(curve: Curve, gamma: float) -> U8:
    levels = np.linspace(0.0, 1.0, LUT_SIZE, dtype=np.float32)
    table: U8 = np.rint(apply_curve(curve, levels, gamma) * 255.0).astype(np.uint8)
    return table


def build_patch(twin: Twin, elements: ElementTable) -> Patch:
    """Flatten the twin's patch into index arrays (done once per venue)."""
    universes = twin.universes
    b = _Builder({u: i for i, u in enumerate(universes)})
    for index, fx in enumerate(twin.fixtures):
        if fx.segments:
            _add_fixture(b, fx, int(elements.first[index]))
    c = b.columns()
    slots = len(universes) * UNIVERSE_SIZE
    slot_attr = np.full(slots, FREE_SLOT, np.int32)
    slot_elem = np.full(slots, -1, np.int32)
    slot_fine = np.zeros(slots, np.bool_)
    for dst, _ in b.fixed:
        slot_attr[dst] = FIXED_SLOT
    dsts = c["dst"].astype(np.int64)
    slot_attr[dsts] = c["attr"].astype(np.int32)
    slot_elem[dsts] = c["elem"].astype(np.int32)
    fine = dsts[c["bits"] == 16] + 1
    slot_attr[fine] = c["attr"][c["bits"] == 16].astype(np.int32)
    slot_elem[fine] = c["elem"][c["bits"] == 16].astype(np.int32)
    slot_fine[fine] = True
    n = elements.n
    attr = c["attr"].astype(np.int64)
    elem = c["elem"].astype(np.int64)
    src = np.where(attr >= 0, attr, 0) * n + elem
    light = np.isin(attr, list(_LIGHT))
    fast = (
        light
        & (c["bits"] == 8)
        & (c["invert"] == 0)
        & (c["lo"] == 0)
        & (c["hi"] == 255)
        & (c["default"] < 0)
        & (c["undim"] == 0)
        & (c["wx"] == 0)
    )
    # FAST block, sorted by (curve, gamma) so each lookup table covers a slice
    f_idx = np.flatnonzero(fast)
    order = np.lexsort((c["gamma"][f_idx], c["curve"][f_idx]))
    f_idx = f_idx[order]
    luts: list[_Lut] = []
    keys = (
        np.stack([c["curve"][f_idx], c["gamma"][f_idx]], axis=1) if len(f_idx) else np.zeros((0, 2))
    )
    start = 0
    while start < len(f_idx):
        stop = start + int(np.argmax(np.any(keys[start:] != keys[start], axis=1))) or len(f_idx)
        if stop <= start:
            stop = len(f_idx)
        cv, gm = _CURVES[int(keys[start, 0])], float(keys[start, 1])
        table = _lut(cv, gm)
        luts.append(_Lut(start, stop, table, _inverse_lut(table)))
        start = stop
    n_slots = len(universes) * UNIVERSE_SIZE
    dense_src = np.zeros(n_slots, np.int64)
    dense_offset = np.zeros(n_slots, np.int64)
    for k, lut in enumerate(luts, start=1):
        part = f_idx[lut.start : lut.stop]
        dense_src[c["dst"][part].astype(np.int64)] = src[part]
        dense_offset[c["dst"][part].astype(np.int64)] = k * LUT_SIZE
    tables = np.concatenate([np.zeros(LUT_SIZE, np.uint8), *(lut.table for lut in luts)])
    fixed_dst = np.array([d for d, _ in b.fixed], dtype=np.int64)
    fixed_value = np.array([v for _, v in b.fixed], dtype=np.uint8)
    # GENERAL block
    g = np.flatnonzero(~fast)
    ga, ge = attr[g], elem[g]
    curves = c["curve"][g].astype(np.int64)
    gammas = c["gamma"][g]
    curve_groups: list[tuple[Curve, float, I64]] = []
    for code, gm in sorted({(int(x), float(y)) for x, y in zip(curves, gammas, strict=True)}):
        if _CURVES[code] is not Curve.LINEAR:
            pos = np.flatnonzero((curves == code) & (gammas == gm)).astype(np.int64)
            curve_groups.append((_CURVES[code], gm, pos))
    wx = c["wx"][g]
    wx_white, wx_color = np.flatnonzero(wx == 1), np.flatnonzero(wx == 2)
    wx_all = np.concatenate([wx_white, wx_color]).astype(np.int64)
    wx_src = np.stack(
        [int(r) * n + ge[wx_all] for r in (Attribute.RED, Attribute.GREEN, Attribute.BLUE)]
    )
    undim = np.flatnonzero(c["undim"][g] == 1)
    default = c["default"][g].astype(np.float32)
    home = np.array([HOME_VALUES[Attribute(a)] if a >= 0 else -1.0 for a in ga], np.float32)
    intensity_like = (
        (ga == Attribute.INTENSITY)
        | (ga == FULL)
        | (np.isin(ga, list(_LIGHT)) & (c["undim"][g] == 0))
    )
    return Patch(
        universes=universes,
        n_elements=n,
        fast_src=src[f_idx].astype(np.int64),
        fast_dst=c["dst"][f_idx].astype(np.int64),
        luts=tuple(luts),
        dense_src=dense_src,
        dense_offset=dense_offset,
        tables=tables,
        runs=slot_runs(b.calls, fast, c["dst"].astype(np.int64), src, dense_offset // LUT_SIZE),
        table_rows=tables.reshape(-1, LUT_SIZE),
        fixed_dst=fixed_dst,
        fixed_value=fixed_value,
        src=src[g].astype(np.int64),
        dst=c["dst"][g].astype(np.int64),
        bits16=c["bits"][g] == 16,
        curve=tuple(curve_groups),
        invert=np.flatnonzero(c["invert"][g] == 1).astype(np.int64),
        lo=c["lo"][g].astype(np.float32),
        span=(c["hi"][g] - c["lo"][g]).astype(np.float32),
        default=default,
        home=home,
        has_default=np.flatnonzero(default >= 0).astype(np.int64),
        master_scaled=np.flatnonzero(intensity_like).astype(np.int64),
        full=np.flatnonzero(ga == FULL).astype(np.int64),
        undim=undim.astype(np.int64),
        undim_src=(int(Attribute.INTENSITY) * n + ge[undim]).astype(np.int64),
        mono=_mono_elements(attr, elem),
        undim_dark=np.isin(
            ga[undim], [int(Attribute.RED), int(Attribute.GREEN), int(Attribute.BLUE)]
        ).astype(np.float32),
        wx_white=wx_white.astype(np.int64),
        wx_color=wx_color.astype(np.int64),
        wx_src=wx_src.astype(np.int64).reshape(3, -1),
        slot_attr=slot_attr,
        slot_elem=slot_elem,
        slot_fine=slot_fine,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class SlotOwner:
    universe: int
    address: int  # 1-based
    fixture: str | None
    attribute: str  # attribute key, "fixed", "full" or "-"
    cell: int | None
    fine: bool

    def __str__(self) -> str:
        who = self.fixture or "(unpatched)"
        cell = f" cell {self.cell}" if self.cell is not None else ""
        fine = " fine" if self.fine else ""
        return f"u{self.universe}/{self.address} {who}{cell} {self.attribute}{fine}"


def slot_owner(patch: Patch, twin: Twin, elements: ElementTable, flat_slot: int) -> SlotOwner:
    """Who drives output slot `flat_slot` (row * 512 + slot) of this patch."""
    row, slot = divmod(flat_slot, UNIVERSE_SIZE)
    attr = int(patch.slot_attr[flat_slot])
    elem = int(patch.slot_elem[flat_slot])
    fixture: str | None = None
    cell: int | None = None
    if elem >= 0:
        fx = twin.fixtures[int(elements.fixture[elem])]
        fixture = fx.id
        cell = int(elements.cell[elem]) if fx.n_cells else None
    names = {FULL: "intensity (full)", FIXED_SLOT: "fixed", FREE_SLOT: "-"}
    name = names.get(attr) or Attribute(attr).key
    if attr == FIXED_SLOT:
        fixture = _fixed_owner(twin, patch.universes[row], slot + 1)
    return SlotOwner(
        universe=patch.universes[row],
        address=slot + 1,
        fixture=fixture,
        attribute=name,
        cell=cell,
        fine=bool(patch.slot_fine[flat_slot]),
    )


def _fixed_owner(twin: Twin, universe: int, address: int) -> str | None:
    for fx in twin.fixtures:
        for seg in fx.segments:
            if seg.universe == universe and seg.address <= address <= seg.end_address:
                return fx.id
    return None
