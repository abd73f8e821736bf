"""L1 import an Open Fixture Library fixture (JSON, schema 12.x) as a citypulse profile.

`import_ofl` reads the JSON with positions (`source.read_yaml`: JSON is YAML 1.2), converts
every mode and returns the profile, its YAML text and the warnings; all problems are raised
together as one `ShowValidationError`, each located at its JSON node.

Rules:
- A coarse channel followed by its first fine alias is one 16-bit channel. Any other fine
  alias (not right after its coarse channel, or the third byte of a 24-bit channel) holds
  its byte of the default fixed. `null` is an `unused` slot.
- A matrix insert block becomes the mode's `cells`. citypulse lays cells after every head
  channel, so a channel after the block, a second block or `perChannel` order is O405.
- A switching channel is imported as the channel active at its dependency's defaultValue.
- Which attribute, default and range a channel gets is decided in `ofl_capabilities`.

Codes: O401 not an OFL fixture, or a malformed key; O402 schema major version is not 12;
O403 a channel that cannot be laid out; O404 unknown channel; O405 matrix problem;
O406 (warning) channel or capability range not driven; O407 (warning) approximation;
O408 the converted profile failed its own check (a bug in this importer).

Size: ~550 lines, over STYLE.md B2's 400; `ofl_capabilities` (channels) and `ofl_matrix`
(pixel keys) hold the rest. The next split is the cells code of the mode conversion.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from controller.errors import Diagnostic, ShowValidationError
from controller.show.diagnostics import DiagnosticSink, did_you_mean, known_list
from controller.show.ofl_capabilities import (
    ChannelMap,
    ChannelTable,
    OflChannel,
    dmx_value,
    map_channel,
    parse_capabilities,
    read_channels,
    resolution_of,
    scale_value,
)
from controller.show.ofl_matrix import Matrix, read_matrix
from controller.show.profile import CELL_LETTERS, FixtureProfile
from controller.show.source import NodePath, Plain, SourceDoc, parse_yaml, read_yaml

__all__ = ["SCHEMA_MAJOR", "OflImport", "import_ofl"]

SCHEMA_MAJOR = 12
_SCHEMA = re.compile(
    r"open-fixture-library/(?:schema-(?P<version>(?P<major>\d+)\.\d+\.\d+)|[^/]+)"
    r"/schemas/(?P<kind>fixture|fixture-redirect)\.json$"
)
_KEBAB = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_LETTERS = {attr: letter for letter, attr in CELL_LETTERS.items()}
# OFL lists the most important category first; the first one known here wins
_CATEGORIES = {
    "Moving Head": "moving-head", "Scanner": "moving-head", "Barrel Scanner": "moving-head",
    "Pixel Bar": "pixel-bar", "Dimmer": "dimmer", "Color Changer": "par", "Blinder": "flood",
}  # fmt: skip
_PAN_TILT = {"pan": ("pan_range_deg", 720.0), "tilt": ("tilt_range_deg", 360.0)}


@dataclass(frozen=True, slots=True, kw_only=True)
class OflImport:
    """A converted fixture: the profile, its YAML text and what could not be mapped."""

    profile: FixtureProfile
    yaml_text: str
    warnings: tuple[Diagnostic, ...]
    suggested_name: str


class _Importer:
    """One import: converts the modes and reports every problem to the sink."""

    def __init__(self, doc: SourceDoc, sink: DiagnosticSink) -> None:
        self.doc, self.sink = doc, sink
        self.table = ChannelTable()
        self.maps: dict[NodePath, ChannelMap | None] = {}
        self.told: set[object] = set()
        self.degrees: dict[str, float] = {}
        self.matrix: Matrix | None = None
        self.matrix_broken = False

    def error(self, code: str, message: str, where: NodePath) -> None:
        self.sink.error(code, message, self.doc.span(where))

    def warn_once(self, tag: object, code: str, message: str, where: NodePath) -> None:
        if tag not in self.told:
            self.told.add(tag)
            self.sink.warning(code, message, self.doc.span(where, key=True))

    def convert(self, data: dict[str, Plain], version: str) -> dict[str, Plain]:
        """The profile as plain data; problems go to the sink."""
        self.matrix, problem, where = read_matrix(data.get("matrix"))
        self.matrix_broken = bool(problem)  # reported once here, not again per insert block
        if problem:
            self.error("O405", problem, ("matrix", *where))
        self.table, problems = read_channels(data, self.matrix)
        for where, message in problems:
            self.error("O401", message, where)
        modes: list[Plain] = []
        for i, mode in enumerate(data["modes"] if isinstance(data["modes"], list) else []):
            converted = self._mode(i, mode)
            if converted is not None:
                modes.append(converted)
        categories = data["categories"] if isinstance(data["categories"], list) else []
        known = [_CATEGORIES[c] for c in categories if isinstance(c, str) and c in _CATEGORIES]
        category = known[0] if known else "other"
        profile: dict[str, Plain] = {"name": str(data["name"]).strip(), "category": category}
        for attr, (field, _) in _PAN_TILT.items():
            if attr in self.degrees:
                profile[field] = self.degrees[attr]
        physical = _physical(data.get("physical"), category)
        if physical:
            profile["physical"] = physical
        profile["source"] = f"Open Fixture Library (schema {version})"
        profile["modes"] = modes
        return profile

    def check_top(self, data: Plain) -> str | None:
        """The schema version, or None after an O401/O402 that stops the import."""
        if not isinstance(data, dict):
            self.error("O401", "not an Open Fixture Library fixture: expected a JSON object", ())
            return None
        schema = data.get("$schema")
        m = _SCHEMA.search(schema) if isinstance(schema, str) else None
        if m is None or m["kind"] == "fixture-redirect":
            got = "no '$schema'" if schema is None else f"$schema={schema!r}"
            if m is not None:
                got = f"a redirect to {data.get('redirectTo')!r}; import that fixture instead"
            self.error(
                "O401",
                f"not an Open Fixture Library fixture: {got} (expected '.../open-fixture-"
                "library/<version>/schemas/fixture.json')",
                () if schema is None else ("$schema",),
            )
            return None
        if m["major"] is not None and int(m["major"]) != SCHEMA_MAJOR:
            self.error(
                "O402",
                f"OFL schema {m['version']} is not supported: citypulse reads schema "
                f"{SCHEMA_MAJOR}.x; download the fixture again from open-fixture-library.org",
                ("$schema",),
            )
            return None
        before = len(self.sink.items)
        for key, kind in (("name", str), ("categories", list), ("modes", list)):
            if key not in data:
                self.error("O401", f"missing required key {key!r}", ())
            elif not isinstance(data[key], kind) or not data[key]:
                what = "string" if kind is str else "list"
                self.error("O401", f"{key!r} must be a non-empty {what}", (key,))
        tables = [k for k in ("availableChannels", "templateChannels") if k in data]
        for key in tables:
            if not isinstance(data[key], dict):
                self.error("O401", f"{key!r} must be an object of channels", (key,))
        if not tables:
            self.error("O401", "missing required key 'availableChannels'", ())
        return (m["version"] or "master") if len(self.sink.items) == before else None

    def _map(self, chan: OflChannel) -> ChannelMap | None:
        if chan.where not in self.maps:
            res = resolution_of(chan.data)
            caps, problems = parse_capabilities(chan.data, res)
            raw = chan.data.get("defaultValue")
            if raw is not None and dmx_value(raw, res) is None:
                msg = f"defaultValue={raw!r} must be 0..{256**res - 1} or a percentage like '50%'"
                problems.append((("defaultValue",), msg))
            for rel, message in problems:
                self.error("O401", f"channel {chan.key!r}: {message}", (*chan.where, *rel))
            self.maps[chan.where] = None if problems else map_channel(chan.data, caps, res)
        return self.maps[chan.where]

    def _mode(self, i: int, mode: Plain) -> dict[str, Plain] | None:
        where: NodePath = ("modes", i)
        name = mode.get("name") if isinstance(mode, dict) else None
        entries = mode.get("channels") if isinstance(mode, dict) else None
        if not isinstance(name, str) or not isinstance(entries, list) or not entries:
            self.error("O401", "a mode needs a 'name' and a non-empty 'channels' list", where)
            return None
        out: list[Plain] = []
        used: dict[str, str] = {}
        result: dict[str, Plain] = {"name": name.strip(), "channels": out}
        block: int | None = None
        for j, entry in enumerate(entries):
            at = (*where, "channels", j)
            if isinstance(entry, dict):
                if block is None:
                    block, cells = j, self._cells(entry, at)
                    result.update({"cells": cells} if cells else {})
                else:
                    msg = f"a second matrix insert block (the first is channels[{block}])"
                    self.error("O405", f"mode {name!r} has {msg}; citypulse has one per mode", at)
            elif block is not None:
                self.error(
                    "O405",
                    f"mode {name!r}: channel {entry!r} comes after the matrix insert block "
                    f"(channels[{block}]); citypulse lays pixel cells after all head channels",
                    at,
                )
                break
            elif entry is None:
                out.append("unused")
            elif not isinstance(entry, str):
                self.error("O401", "a mode channel is a key, null or a matrix insert block", at)
            elif self.table.fine.get(entry) != (entries[j - 1] if j else None, 1):
                self._head(name, entries, j, at, out, used)  # else: fine half of a 16-bit pair
        if not out and "cells" in result:
            del result["channels"]  # a pixel-only mode
        return result

    def _head(
        self,
        mode: str,
        entries: list[Plain],
        j: int,
        at: NodePath,
        out: list[Plain],
        used: dict[str, str],
    ) -> None:
        """Convert the head channel `entries[j]` (with its fine channel when it follows)."""
        key = str(entries[j])
        chan = self.table.channels.get(key)
        if chan is None and key in self.table.switch:
            target, dependency = self.table.switch[key]
            chan = self.table.channels.get(target)
            why = (
                f"the channel active while {dependency!r} is at its defaultValue, where it is held"
            )
            self.warn_once(
                key, "O407", f"switching channel {key!r} is imported as {target!r}, {why}", at
            )
        if chan is None and key in self.table.fine:
            self._stray_fine(mode, key, entries, at, out)
        elif chan is None:
            known = [*self.table.channels, *self.table.switch]
            hint = f"{did_you_mean(key, known)} (known: {known_list(known)})"
            self.error("O404", f"mode {mode!r}: unknown channel {key!r}{hint}", at)
        elif (cmap := self._map(chan)) is not None:
            aliases = chan.aliases()
            wide = bool(aliases) and j + 1 < len(entries) and entries[j + 1] == aliases[0]
            out.append(self._spec(chan, cmap, 16 if wide else 8, at, used, key))

    def _stray_fine(
        self, mode: str, key: str, entries: list[Plain], at: NodePath, out: list[Plain]
    ) -> None:
        coarse, n = self.table.fine[key]
        if coarse not in entries:
            msg = f"fine channel {key!r} without its coarse channel {coarse!r}"
            self.error("O403", f"mode {mode!r}: {msg}; citypulse needs coarse then fine", at)
            return
        cmap = self._map(self.table.channels[coarse])
        low = 0
        if cmap is not None and cmap.value is not None:
            low = scale_value(cmap.value, cmap.resolution, n + 1) & 0xFF
        out.append({"attribute": "fixed", "name": key, "value": low})
        self.warn_once(
            (mode, key),
            "O407",
            f"mode {mode!r}: fine channel {key!r} is held at {low}: citypulse drives "
            f"{coarse!r} at 16 bits at most, and only with its fine channel right after it",
            at,
        )

    def _spec(
        self,
        chan: OflChannel,
        cmap: ChannelMap,
        bits: int,
        at: NodePath,
        used: dict[str, str],
        shown: str,
    ) -> Plain:
        """One profile channel; warns once per definition about what is not driven."""
        hold = cmap.attribute in used
        name = chan.name() if shown == chan.key else shown  # a switching slot: its alias
        spec = cmap.spec(name, bits, hold=hold)
        if hold:
            self.sink.warning(
                "O406",
                f"channel {chan.key!r} also drives {cmap.attribute!r}, already driven by "
                f"{used[cmap.attribute]!r} in this mode; it is held at {spec['value']}",
                self.doc.span(at),
            )
        elif cmap.attribute not in ("fixed", "unused"):
            used[cmap.attribute] = chan.key
        self._explain(chan, cmap)
        return spec

    def _explain(self, chan: OflChannel, cmap: ChannelMap) -> None:
        label, where, lost = str(chan.where[-1]), chan.where, cmap.describe()
        if lost is not None:
            self.warn_once(where, "O406", f"channel {label!r} {lost}", where)
        if cmap.attribute in _PAN_TILT:
            field, top = _PAN_TILT[cmap.attribute]
            if cmap.degrees is not None and cmap.degrees <= top:
                self.degrees.setdefault(cmap.attribute, cmap.degrees)
            else:
                self.warn_once(
                    (field, where),
                    "O407",
                    f"channel {label!r} gives no {cmap.attribute} angle within 0..{top:g} deg "
                    f"(angleStart/angleEnd like '0deg'/'540deg'); {field} keeps its default",
                    where,
                )

    def _cells(self, block: dict[str, Plain], at: NodePath) -> dict[str, Plain] | None:
        """The `cells` of a matrix insert block."""
        if self.matrix is None:
            if not self.matrix_broken:
                self.error("O405", "a matrix insert block needs the fixture's 'matrix'", at)
            return None
        order = block.get("channelOrder")
        if order != "perPixel":
            self.error(
                "O405",
                f"channelOrder={order!r} is not supported: citypulse cells are 'perPixel' "
                "(R G B, R G B, ...), not every pixel's red, then every pixel's green",
                (*at, "channelOrder"),
            )
        spec = block.get("repeatFor")
        keys, problem = self.matrix.repeat(spec)
        if isinstance(problem, int) and isinstance(spec, list):
            item = spec[problem]
            hint = did_you_mean(str(item), self.matrix.keys())
            self.error(
                "O405", f"{item!r} is not a pixel or pixel group{hint}", (*at, "repeatFor", problem)
            )
        elif isinstance(problem, str):
            self.error("O405", problem, (*at, "repeatFor"))
        letters = self._cell_order(block.get("templateChannels"), (*at, "templateChannels"))
        if order != "perPixel" or not keys or letters is None:
            return None
        if self.matrix.axes > 1:
            msg = f"a {self.matrix.axes}-D pixel matrix is imported as a line of cells"
            self.warn_once("axes", "O407", f"{msg} in repeatFor order", at)
        return {"count": len(keys), "order": letters}

    def _cell_order(self, items: Plain, at: NodePath) -> str | None:
        """The cell `order` letters, one per template channel of the block."""
        letters = ""
        for k, item in enumerate(items if isinstance(items, list) and items else [None]):
            chan = self.table.templates.get(item) if isinstance(item, str) else None
            cmap = self._map(chan) if chan is not None else None
            letter = _LETTERS.get(cmap.attribute, "") if cmap is not None else ""
            if chan is None and isinstance(item, str) and item not in self.table.template_fine:
                hint = did_you_mean(item, self.table.templates)
                self.error("O404", f"unknown template channel {item!r}{hint}", (*at, k))
            elif chan is None:
                what = "an unused (null) slot" if item is None else f"fine channel {item!r}"
                self.error("O405", f"{what} in a pixel cell: cells are 8-bit R G B W A U", (*at, k))
            elif cmap is not None and (not letter or letter in letters):
                why = f"repeats colour {letter}" if letter else f"drives {cmap.attribute!r}"
                self.error(
                    "O405",
                    f"template channel {item!r} {why}: a cell holds R G B W A U once each",
                    (*at, k),
                )
            elif cmap is not None:
                letters += letter
                self._explain(chan, cmap)
                continue
            return None
        return letters


def import_ofl(path: Path) -> OflImport:
    """Convert the Open Fixture Library fixture at `path` into a citypulse profile.

    Args:
        path: an OFL fixture JSON file, schema 12.x. Kept at `<manufacturer>/<key>.json` as in
            the OFL repository and its downloads, it also names the manufacturer.

    Returns:
        The profile, its YAML text (with a header naming the source file and OFL's MIT
        licence), the warnings, and a kebab-case name to save the profile under.

    Raises:
        ShowValidationError: an unreadable file or malformed JSON (Y001..Y003), or every
            O401..O408 problem found, each located at its JSON node.
    """
    doc = read_yaml(path)
    sink = DiagnosticSink()
    importer = _Importer(doc, sink)
    version = importer.check_top(doc.data)
    if version is None or not isinstance(doc.data, dict):
        raise ShowValidationError(sink.items)
    data = importer.convert(doc.data, version)
    sink.raise_if_errors()
    manufacturer, suggested = _origin(path, doc.data)
    origin = f"{manufacturer}/{path.name}" if manufacturer else path.name
    data["source"] = f"{data['source']}: {origin}"
    if manufacturer:
        data = {"name": data.pop("name"), "manufacturer": manufacturer, **data}
    meta = doc.data.get("meta")
    authors = meta.get("authors") if isinstance(meta, dict) else None
    text = _header(
        origin, [a for a in authors if isinstance(a, str)] if isinstance(authors, list) else []
    )
    text += _dump(data)
    try:
        profile = FixtureProfile.model_validate(data)
        again = FixtureProfile.model_validate(parse_yaml(text, origin).data)
    except (ValidationError, ShowValidationError) as exc:
        sink.error(
            "O408",
            f"converted profile failed its check: {' '.join(str(exc).split())}",
            doc.span(()),
        )
        raise ShowValidationError(sink.items) from exc
    if again != profile:
        sink.error("O408", "converted profile does not read back from its YAML", doc.span(()))
        raise ShowValidationError(sink.items)
    return OflImport(
        profile=profile, yaml_text=text, warnings=sink.warnings, suggested_name=suggested
    )


def _origin(path: Path, raw: dict[str, Plain]) -> tuple[str | None, str]:
    """The manufacturer key (OFL's directory, or an export's 'manufacturer') and a name."""
    given = raw.get("manufacturer")
    candidates = [given if isinstance(given, str) else "", path.parent.name]
    manufacturer = next((c for c in candidates if _KEBAB.fullmatch(c)), None)
    stem, name = _kebab(path.stem), raw.get("name")
    if manufacturer and stem:
        return manufacturer, stem if stem.startswith(
            f"{manufacturer}-"
        ) else f"{manufacturer}-{stem}"
    return manufacturer, _kebab(name if isinstance(name, str) else "") or stem or "ofl-fixture"


def _kebab(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _header(origin: str, authors: list[str]) -> str:
    credit = f"; fixture authors: {', '.join(authors)}" if authors else ""
    lines = (
        f"citypulse fixture profile converted from an Open Fixture Library fixture: {origin}",
        "Fixture data: Open Fixture Library (https://open-fixture-library.org), MIT licence,",
        f"copyright Open Fixture Library contributors{credit}",
        "Regenerate with `citypulse fixtures import-ofl` and review its warnings.",
    )
    return "".join(f"# {' '.join(line.split())}\n" for line in lines)


def _flow(item: object) -> object:
    """A mapping dumped on one line (`{attribute: pan, bits: 16}`)."""
    if not isinstance(item, dict):
        return item
    out = CommentedMap(item)
    out.fa.set_flow_style()
    return out


def _dump(profile: dict[str, Plain]) -> str:
    shaped: dict[str, object] = {k: _flow(v) if k == "physical" else v for k, v in profile.items()}
    modes = profile["modes"] if isinstance(profile["modes"], list) else []
    shaped["modes"] = [
        {k: [_flow(c) for c in v] if isinstance(v, list) else _flow(v) for k, v in m.items()}
        for m in modes
        if isinstance(m, dict)
    ]
    yaml = YAML(typ="rt", pure=True)
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    buf = io.StringIO()
    yaml.dump(shaped, buf)
    return buf.getvalue()


def _physical(raw: Plain, category: str) -> dict[str, Plain]:
    """OFL `physical` in our units; `length_m` from the width of a pixel bar."""
    if not isinstance(raw, dict):
        return {}

    def number(value: Plain, top: float = 1e9) -> float | None:
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= top:
            return float(value)
        return None

    lens, bulb, dims = raw.get("lens"), raw.get("bulb"), raw.get("dimensions")
    beam = lens.get("degreesMinMax") if isinstance(lens, dict) else None
    width = dims[0] if isinstance(dims, list) and dims and category == "pixel-bar" else None
    found = {
        "power_w": number(raw.get("power")),
        "weight_kg": number(raw.get("weight")),
        # the widest beam: a zoom's [min, max], or [d, d] for a fixed lens
        "beam_deg": number(beam[-1], 360) if isinstance(beam, list) and beam else None,
        "lumens": number(bulb.get("lumens")) if isinstance(bulb, dict) else None,
        "length_m": w / 1000 if (w := number(width)) else None,  # OFL dimensions are mm
    }
    return {k: v for k, v in found.items() if v is not None}
