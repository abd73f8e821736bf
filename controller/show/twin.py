"""L1 the resolved digital twin of one venue: placed fixtures, cell positions, patch layout.

Patch rules:
- A fixture's footprint starts at its `patch` address. An array member without room left in
  its universe moves to address 1 of the next universe (a fixture is never split), except
  pixel fixtures, whose cells continue in the next universe at address 1: a long pixel run
  is auto-patched across as many universes as it needs, never splitting a cell.
- Array members follow each other: member n+1 starts right after member n.
- No two fixtures may share a slot (R204); a non-pixel fixture may not cross slot 512 (R205).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from controller.show.diagnostics import DiagnosticSink, did_you_mean, known_list
from controller.show.profile import FixtureProfile, ModeSpec
from controller.show.rig import (
    MAX_UNIVERSE,
    Building,
    FixtureSpec,
    Orientation,
    OutputSpec,
    Protocol,
    RigFile,
    Venue,
    directed_broadcast,
)
from controller.show.source import NodePath, SourceDoc

__all__ = [
    "MAX_RIG_ELEMENTS",
    "MAX_RIG_FIXTURES",
    "UNIVERSE_SIZE",
    "PatchSegment",
    "PlacedFixture",
    "Twin",
]

UNIVERSE_SIZE = 512
# Limits that keep a rig within memory: a compiled venue costs about 1.2 KB per element
# (positions, render buffers, patch tables), so 4 million elements need about 5 GB to play
# and 0.4 GB to check. They are counted from the entries before anything is placed (R212).
MAX_RIG_ELEMENTS = 4_000_000  # pixel cells; a fixture without cells is one element
MAX_RIG_FIXTURES = 100_000  # fixtures after array expansion


@dataclass(frozen=True, slots=True, kw_only=True)
class PatchSegment:
    """A run of consecutive slots of one fixture in one universe."""

    universe: int
    address: int  # 1-based first slot
    slots: int
    head: bool  # carries the head channels (only the first segment does)
    first_cell: int  # index of the first pixel cell in this segment
    cells: int

    @property
    def end_address(self) -> int:
        return self.address + self.slots - 1


@dataclass(frozen=True, slots=True, kw_only=True)
class PlacedFixture:
    id: str
    profile_name: str
    profile: FixtureProfile
    mode: ModeSpec
    n_cells: int  # pixel cells; 0 for a fixture without cells
    positions: NDArray[np.float64]  # (n_elements, 3) metres east/north/up
    orientation: Orientation
    building: str | None
    groups: tuple[str, ...]
    tags: tuple[str, ...]
    segments: tuple[PatchSegment, ...]
    source: NodePath  # where its entry stands in the rig file

    @property
    def n_elements(self) -> int:
        return max(self.n_cells, 1)

    @property
    def channels(self) -> int:
        return sum(s.slots for s in self.segments)


@dataclass(frozen=True, slots=True, kw_only=True)
class Twin:
    path: str
    doc: SourceDoc
    venue: Venue
    buildings: tuple[Building, ...]
    fixtures: tuple[PlacedFixture, ...]
    outputs: tuple[OutputSpec, ...]
    # False when some fixture entries could not be placed (unknown profile or mode, a limit):
    # names the show targets may then stand in the missing part, so they are not checked
    complete: bool = True

    @property
    def universes(self) -> tuple[int, ...]:
        return tuple(sorted({s.universe for f in self.fixtures for s in f.segments}))

    @property
    def n_elements(self) -> int:
        return sum(f.n_elements for f in self.fixtures)

    @property
    def n_pixels(self) -> int:
        return sum(f.n_cells for f in self.fixtures)

    @property
    def n_channels(self) -> int:
        return sum(f.channels for f in self.fixtures)

    def groups(self) -> set[str]:
        return {g for f in self.fixtures for g in f.groups}

    def tags(self) -> set[str]:
        return {t for f in self.fixtures for t in f.tags}


def member_positions(spec: FixtureSpec, index: int, n_cells: int) -> NDArray[np.float64]:
    """Element positions of array member `index` (0-based)."""
    step = np.asarray(spec.step if spec.step is not None else (0.0, 0.0, 0.0), dtype=np.float64)
    out: NDArray[np.float64]
    if spec.line is not None:
        a = np.asarray(spec.line[0], dtype=np.float64)
        b = np.asarray(spec.line[1], dtype=np.float64)
        if n_cells > 0:
            u = (np.arange(n_cells, dtype=np.float64) + 0.5) / n_cells
            out = a + (b - a) * u[:, None] + step * index
        elif spec.count > 1 and spec.step is None:
            out = (a + (b - a) * (index / (spec.count - 1)))[None, :]
        else:
            out = ((a + b) / 2 + step * index)[None, :]
        return out
    assert spec.position is not None
    base = np.asarray(spec.position, dtype=np.float64) + step * index
    out = np.repeat(base[None, :], n_cells, axis=0) if n_cells > 0 else base[None, :]
    return out


class _Patcher:
    """Lays fixtures into universes and finds overlaps."""

    def __init__(self, doc: SourceDoc, sink: DiagnosticSink) -> None:
        self.doc = doc
        self.sink = sink
        self.owner: dict[int, list[str | None]] = {}

    def layout(
        self, fid: str, mode: ModeSpec, n_cells: int, universe: int, address: int, where: NodePath
    ) -> tuple[tuple[PatchSegment, ...], int, int]:
        """Segments for one fixture starting at (universe, address); returns the next free slot."""
        head = mode.head_slots
        cell_slots = len(mode.cells.order) if mode.cells is not None else 0
        footprint = head + n_cells * cell_slots
        room = UNIVERSE_SIZE - address + 1
        if cell_slots == 0 or footprint <= room:
            if footprint > room:
                self.sink.error(
                    "R205",
                    f"fixture {fid!r} needs {footprint} slots from address {address}: it ends at "
                    f"{address + footprint - 1}, past slot {UNIVERSE_SIZE} of universe {universe}",
                    self.doc.span((*where, "patch")),
                )
            seg = PatchSegment(
                universe=universe,
                address=address,
                slots=footprint,
                head=True,
                first_cell=0,
                cells=n_cells,
            )
            self._claim(seg, fid, where)
            return (seg,), universe, address + footprint
        if head + cell_slots > room:
            universe, address, room = universe + 1, 1, UNIVERSE_SIZE
        segments: list[PatchSegment] = []
        cell, first = 0, True
        while cell < n_cells or first:
            fit = (room - (head if first else 0)) // cell_slots
            take = min(fit, n_cells - cell)
            slots = (head if first else 0) + take * cell_slots
            seg = PatchSegment(
                universe=universe,
                address=address,
                slots=slots,
                head=first,
                first_cell=cell,
                cells=take,
            )
            self._claim(seg, fid, where)
            segments.append(seg)
            cell += take
            first = False
            if cell < n_cells:
                universe, address, room = universe + 1, 1, UNIVERSE_SIZE
            else:
                address += slots
        return tuple(segments), universe, address

    def _claim(self, seg: PatchSegment, fid: str, where: NodePath) -> None:
        slots = self.owner.setdefault(seg.universe, [None] * UNIVERSE_SIZE)
        lo, hi = seg.address - 1, min(seg.address - 1 + seg.slots, UNIVERSE_SIZE)
        clash = next((slots[i] for i in range(lo, hi) if slots[i] not in (None, fid)), None)
        if clash is not None:
            self.sink.error(
                "R204",
                f"fixture {fid!r} at universe {seg.universe} address {seg.address}.."
                f"{seg.end_address} overlaps fixture {clash!r}",
                self.doc.span((*where, "patch")),
            )
        for i in range(lo, hi):
            slots[i] = fid


def resolve_twin(
    rig: RigFile, doc: SourceDoc, profiles: dict[str, FixtureProfile], sink: DiagnosticSink
) -> Twin:
    """Expand arrays, place elements and lay out the patch; report problems to `sink`."""
    if not _within_limits(rig, profiles, doc, sink):
        return Twin(
            path=doc.path,
            doc=doc,
            venue=rig.venue,
            buildings=tuple(rig.buildings),
            fixtures=(),
            outputs=tuple(rig.outputs),
            complete=False,
        )
    buildings = {b.id: b for b in rig.buildings}
    placed: list[PlacedFixture] = []
    complete = True
    seen_ids: dict[str, NodePath] = {}
    patcher = _Patcher(doc, sink)
    for b_index, b in enumerate(rig.buildings):
        if b.id in {x.id for x in rig.buildings[:b_index]}:
            sink.error("R203", f"duplicate building id {b.id!r}", doc.span(("buildings", b_index)))
    for index, spec in enumerate(rig.fixtures):
        where: NodePath = ("fixtures", index)
        profile = profiles.get(spec.profile)
        if profile is None:
            complete = False
            continue  # reported (R201) by the loader
        mode = profile.mode(spec.mode)
        if mode is None:
            names = [m.name for m in profile.modes]
            sink.error(
                "R202",
                f"profile {spec.profile!r} has no mode {spec.mode!r}"
                f"{did_you_mean(spec.mode or '', names)} (modes: {known_list(names)})",
                doc.span((*where, "mode")),
            )
            complete = False
            continue
        n_cells = _cell_count(spec, mode, doc, sink, where)
        if spec.building is not None and spec.building not in buildings:
            sink.error(
                "R206",
                f"unknown building {spec.building!r}{did_you_mean(spec.building, buildings)} "
                f"(known: {known_list(buildings)})",
                doc.span((*where, "building")),
            )
        cursor = (spec.patch.universe, spec.patch.address) if spec.patch is not None else None
        for member in range(spec.count):
            fid = spec.id if spec.count == 1 else f"{spec.id}-{member + 1:02d}"
            if fid in seen_ids:
                sink.error("R203", f"duplicate fixture id {fid!r}", doc.span((*where, "id")))
            seen_ids[fid] = where
            segments: tuple[PatchSegment, ...] = ()
            if cursor is not None:
                universe, address = cursor
                if mode.cells is None and member > 0:  # the first member stays where it was put
                    if address + mode.head_slots - 1 > UNIVERSE_SIZE:
                        universe, address = universe + 1, 1
                segments, universe, address = patcher.layout(
                    fid, mode, n_cells, universe, address, where
                )
                cursor = (universe, address)
                if segments[-1].universe > MAX_UNIVERSE:
                    sink.error(
                        "R205",
                        f"fixture {fid!r} is auto-patched into universe "
                        f"{segments[-1].universe}, past the last universe {MAX_UNIVERSE}",
                        doc.span((*where, "patch")),
                    )
                    cursor = None  # one report per entry; later members stay unpatched
            groups = tuple(dict.fromkeys([*spec.groups, *([spec.id] if spec.count > 1 else [])]))
            placed.append(
                PlacedFixture(
                    id=fid,
                    profile_name=spec.profile,
                    profile=profile,
                    mode=mode,
                    n_cells=n_cells,
                    positions=member_positions(spec, member, n_cells),
                    orientation=spec.orientation,
                    building=spec.building,
                    groups=groups,
                    tags=tuple(spec.tags),
                    segments=segments,
                    source=where,
                )
            )
    return Twin(
        path=doc.path,
        doc=doc,
        venue=rig.venue,
        buildings=tuple(rig.buildings),
        fixtures=tuple(placed),
        outputs=tuple(rig.outputs),
        complete=complete,
    )


def _within_limits(
    rig: RigFile, profiles: dict[str, FixtureProfile], doc: SourceDoc, sink: DiagnosticSink
) -> bool:
    """Count elements and fixtures from the entries alone; report the entry crossing a limit."""
    totals = {"elements": 0, "fixtures": 0}
    limits = {"elements": MAX_RIG_ELEMENTS, "fixtures": MAX_RIG_FIXTURES}
    for index, spec in enumerate(rig.fixtures):
        profile = profiles.get(spec.profile)
        mode = profile.mode(spec.mode) if profile is not None else None
        cells = 0
        if mode is not None and mode.cells is not None:
            variable = mode.cells.variable and spec.pixels is not None
            cells = spec.pixels if variable and spec.pixels is not None else mode.cells.count
        adds = {"elements": spec.count * max(cells, 1), "fixtures": spec.count}
        for kind, limit in limits.items():
            before = totals[kind]
            totals[kind] += adds[kind]
            if before <= limit < totals[kind]:
                sink.error(
                    "R212",
                    f"fixture {spec.id!r} brings the rig to {totals[kind]:,} {kind}, more than "
                    f"the limit of {limit:,} (see fixtures/README.md, Limits)",
                    doc.span(("fixtures", index)),
                )
    return all(totals[k] <= limits[k] for k in limits)


def _cell_count(
    spec: FixtureSpec, mode: ModeSpec, doc: SourceDoc, sink: DiagnosticSink, where: NodePath
) -> int:
    if mode.cells is None:
        if spec.pixels is not None:
            sink.error(
                "R210",
                f"'pixels' given but mode {mode.name!r} of profile {spec.profile!r} has no cells",
                doc.span((*where, "pixels")),
            )
        return 0
    if spec.pixels is None:
        return mode.cells.count
    if not mode.cells.variable:
        sink.error(
            "R210",
            f"profile {spec.profile!r} has a fixed {mode.cells.count} cells; 'pixels' needs a "
            "profile whose cells are 'variable: true'",
            doc.span((*where, "pixels")),
        )
        return mode.cells.count
    return spec.pixels


def check_outputs(twin: Twin, sink: DiagnosticSink) -> None:
    """Outputs must name patched universes; patched universes should have an output."""
    patched = set(twin.universes)
    covered: set[int] = set()
    claimed: dict[tuple[str, int], int] = {}
    for index, out in enumerate(twin.outputs):
        where: NodePath = ("outputs", index, "universes")
        unknown = [u for u in out.universes if u not in patched]
        if unknown:
            sink.error(
                "R207",
                f"output {index + 1} ({out.protocol.value}) names universe(s) "
                f"{_ranges(unknown)} that no fixture is patched to "
                f"(patched: {_ranges(sorted(patched))})",
                twin.doc.span(where),
            )
        for u in out.universes:
            wire = out.wire_universe(u)
            limit = 32767 if out.protocol.value == "artnet" else 63999
            if wire > limit:
                sink.error(
                    "R209",
                    f"universe {u} maps to {out.protocol.value} universe {wire}, out of range "
                    f"{'0' if limit == 32767 else '1'}..{limit}",
                    twin.doc.span(where),
                )
                break
            domain, there = _wire_domain(out)
            key = (domain, wire)
            if key in claimed:
                sink.error(
                    "R208",
                    f"universe {u} goes out as {out.protocol.value} universe {wire}, which "
                    f"output {claimed[key] + 1} already sends {there}",
                    twin.doc.span(where),
                )
                break
            claimed[key] = index
        _check_osc_paths(twin, index, out, sink)
        covered.update(out.universes)
    missing = sorted(patched - covered)
    if missing and twin.outputs:
        sink.warning(
            "R211",
            f"universe(s) {_ranges(missing)} are patched but no output sends them",
            twin.doc.span(("outputs",)),
        )


def _wire_domain(out: OutputSpec) -> tuple[str, str]:
    """Where one wire universe may be sent once, and how to say so.

    Art-Net: per network (the ArtSync broadcast domain), since every node there reads the
    same Port-Addresses. sACN: one source per controller, each universe once. Others: per
    destination.
    """
    if out.protocol is Protocol.ARTNET:
        network = out.broadcast or directed_broadcast(out.host or "")
        return f"artnet:{network}", f"on the same Art-Net network (broadcast {network})"
    if out.protocol is Protocol.SACN:
        return "sacn", "from the same sACN source (this controller)"
    return f"{out.protocol.value}:{out.host}:{out.device}", "to the same destination"


def _check_osc_paths(twin: Twin, index: int, out: OutputSpec, sink: DiagnosticSink) -> None:
    """In blob mode a universe is known by its OSC address only: no two may share one."""
    if out.protocol is not Protocol.OSC or out.osc_mode != "blob":
        return
    seen: dict[str, int] = {}
    for u in out.universes:
        path = out.address.format(venue=twin.venue.id, universe=out.wire_universe(u))
        if path in seen:
            sink.error(
                "R208",
                f"universes {seen[path]} and {u} both go out on OSC address {path!r}: "
                "put {universe} in the address",
                twin.doc.span(("outputs", index, "address")),
            )
            return
        seen[path] = u


def _ranges(values: list[int]) -> str:
    parts: list[str] = []
    start = prev = None
    for v in values:
        if start is None:
            start = prev = v
        elif prev is not None and v == prev + 1:
            prev = v
        else:
            parts.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = prev = v
    if start is not None:
        parts.append(f"{start}" if start == prev else f"{start}-{prev}")
    return ", ".join(parts)


def profile_dirs(rig: RigFile, rig_path: Path) -> list[Path]:
    out: list[Path] = []
    for d in rig.profiles:
        try:
            out.append((rig_path.parent / d).resolve())
        except (OSError, ValueError, RuntimeError):  # NUL in the name, symlink loop: no dir
            continue
    return out
