"""Loading the mini venue: twin numbers, patch layout, positions, includes, diagnostics."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from controller.errors import Diagnostic, ShowValidationError
from controller.render.effects import default_registry
from controller.show.diagnostics import DiagnosticSink
from controller.show.load import LoadedShow, load_profile, load_rig, load_show
from controller.show.profile import FixtureProfile
from controller.show.source import display_path
from controller.show.timeline import Blend, parse_time_ref
from controller.show.twin import PatchSegment, PlacedFixture, Twin

VENUE = Path(__file__).resolve().parents[1] / "data" / "venue"
MINI_SHOW = VENUE / "shows" / "mini.yaml"
MINI_RIG = VENUE / "rigs" / "mini.yaml"
EFFECTS = default_registry()
HEAD = "name: T\nduration: 20\nvenues:\n  mini: {rig: ../rigs/mini.yaml}\n"


@pytest.fixture(scope="module")
def mini() -> LoadedShow:
    return load_show(MINI_SHOW, EFFECTS)


@pytest.fixture
def venue(tmp_path: Path) -> Path:
    """A writable copy of the test venue (profiles/, rigs/, shows/)."""
    dest = tmp_path / "venue"
    shutil.copytree(VENUE, dest)
    return dest


def fixture(twin: Twin, fid: str) -> PlacedFixture:
    return next(f for f in twin.fixtures if f.id == fid)


def failures(path: Path) -> tuple[Diagnostic, ...]:
    with pytest.raises(ShowValidationError) as info:
        load_show(path, EFFECTS)
    return info.value.diagnostics


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- the mini venue ----------------------------------------------------------------------------


def test_mini_venue_summary_numbers(mini: LoadedShow) -> None:
    twin = mini.venues["mini"]
    assert len(twin.fixtures) == 7
    assert twin.n_pixels == 200
    assert twin.n_elements == 206  # 200 cells + 4 floods + mover + dimmer
    assert twin.universes == (1, 2, 3)
    assert twin.n_channels == 4 * 7 + 200 * 3 + 8 + 1
    assert mini.warnings == ()


def test_mini_show_resolves_cues_and_clips(mini: LoadedShow) -> None:
    assert mini.cue_times == {"start": 0.0, "go": 5.0, "later": 10.0}
    solid, chase = mini.clips
    assert (solid.effect.name, solid.start, solid.end, solid.blend) == (
        "solid",
        5.0,
        10.0,
        Blend.REPLACE,
    )
    assert solid.params["color"].at(0.0) == (1.0, 0.0, 0.0)
    assert (chase.effect.name, chase.start, chase.end, chase.blend) == (
        "chase",
        5.0,
        10.0,
        Blend.MAX,
    )
    speed = chase.params["speed"]
    assert [k.t for k in speed.keys] == [0.0, 5.0]
    assert speed.at(5.0) == (2.0,)
    assert chase.params["width"].at(0.0) == (0.1,)  # defaults are filled in
    assert chase.layer > solid.layer
    assert solid.seed == load_show(MINI_SHOW, EFFECTS).clips[0].seed  # deterministic


def test_pixel_run_splits_170_30_across_universes_2_and_3(mini: LoadedShow) -> None:
    strip = fixture(mini.venues["mini"], "strip")
    assert strip.n_cells == 200
    assert strip.segments == (
        PatchSegment(universe=2, address=1, slots=510, head=True, first_cell=0, cells=170),
        PatchSegment(universe=3, address=1, slots=90, head=False, first_cell=170, cells=30),
    )


def test_array_members_are_numbered_and_patched_back_to_back(mini: LoadedShow) -> None:
    twin = mini.venues["mini"]
    floods = [f for f in twin.fixtures if f.profile_name == "flood"]
    assert [f.id for f in floods] == ["flood-01", "flood-02", "flood-03", "flood-04"]
    assert [(f.segments[0].universe, f.segments[0].address) for f in floods] == [
        (1, 1),
        (1, 8),
        (1, 15),
        (1, 22),
    ]
    assert all(f.channels == 7 for f in floods)


def test_array_id_is_an_implicit_group(mini: LoadedShow) -> None:
    twin = mini.venues["mini"]
    assert {"flood", "floods", "pixels", "movers", "architecture"} == twin.groups()
    for f in twin.fixtures:
        if f.id.startswith("flood-"):
            assert f.groups == ("floods", "flood")
    assert fixture(twin, "strip").groups == ("pixels",)  # a single fixture adds no group


def test_single_fixtures_keep_their_patch(mini: LoadedShow) -> None:
    twin = mini.venues["mini"]
    assert fixture(twin, "mover").segments[0].address == 101
    assert fixture(twin, "mover").channels == 8
    assert fixture(twin, "dim").segments[0].address == 200


def test_array_members_spread_evenly_along_the_line(mini: LoadedShow) -> None:
    twin = mini.venues["mini"]
    xs = [fixture(twin, f"flood-0{i}").positions for i in range(1, 5)]
    for pos, x in zip(xs, (0.0, 30.0, 60.0, 90.0), strict=True):
        np.testing.assert_allclose(pos, [[x, -5.0, 1.0]])


def test_pixel_cells_sit_at_cell_centres_along_the_line(mini: LoadedShow) -> None:
    pos = fixture(mini.venues["mini"], "strip").positions
    assert pos.shape == (200, 3)
    np.testing.assert_allclose(pos[:, 0], 150.0)
    np.testing.assert_allclose(pos[:, 1], -1.0)
    np.testing.assert_allclose(pos[:, 2], (np.arange(200) + 0.5) * 120 / 200)
    assert np.all(np.diff(pos[:, 2]) > 0)


def test_point_fixture_has_one_position(mini: LoadedShow) -> None:
    mover = fixture(mini.venues["mini"], "mover")
    np.testing.assert_allclose(mover.positions, [[160.0, 10.0, 121.0]])
    assert mover.n_elements == 1


def test_mini_rig_loads_without_diagnostics() -> None:
    sink = DiagnosticSink()
    twin = load_rig(MINI_RIG, sink)
    assert twin is not None
    assert sink.items == []
    assert twin.venue.id == "mini"
    assert [b.id for b in twin.buildings] == ["hall", "tower"]


@pytest.mark.parametrize("name", ["dimmer", "flood", "mover", "strip"])
def test_every_venue_profile_loads_cleanly(name: str) -> None:
    sink = DiagnosticSink()
    profile = load_profile(VENUE / "profiles" / f"{name}.yaml", sink)
    assert isinstance(profile, FixtureProfile)
    assert sink.items == []


def test_profile_footprints() -> None:
    sink = DiagnosticSink()
    flood = load_profile(VENUE / "profiles" / "flood.yaml", sink)
    strip = load_profile(VENUE / "profiles" / "strip.yaml", sink)
    mover = load_profile(VENUE / "profiles" / "mover.yaml", sink)
    assert flood is not None
    assert strip is not None
    assert mover is not None
    assert [m.footprint() for m in flood.modes] == [7, 4]
    assert strip.modes[0].footprint() == 510
    assert strip.modes[0].footprint(pixels=200) == 600
    assert mover.modes[0].footprint() == 8  # two 16-bit channels take two slots each


# -- patch layout edge cases -------------------------------------------------------------------


def test_array_member_without_room_moves_to_the_next_universe(venue: Path) -> None:
    rig = write(
        venue / "rigs" / "edge.yaml",
        MINI_RIG.read_text(encoding="utf-8").split("fixtures:")[0]
        + "fixtures:\n"
        + "  - {id: m, profile: mover, count: 3, position: [0, 0, 0], step: [1, 0, 0],"
        + " patch: {universe: 4, address: 505}}\n",
    )
    sink = DiagnosticSink()
    twin = load_rig(rig, sink)
    assert twin is not None
    assert [(f.id, f.segments[0].universe, f.segments[0].address) for f in twin.fixtures] == [
        ("m-01", 4, 505),
        ("m-02", 5, 1),
        ("m-03", 5, 9),
    ]
    np.testing.assert_allclose(fixture(twin, "m-03").positions, [[2.0, 0.0, 0.0]])
    assert sink.items == []


def test_pixel_run_that_does_not_fit_one_cell_starts_in_the_next_universe(venue: Path) -> None:
    rig = write(
        venue / "rigs" / "edge.yaml",
        MINI_RIG.read_text(encoding="utf-8").split("fixtures:")[0]
        + "fixtures:\n"
        + "  - {id: s, profile: strip, pixels: 10, line: [[0, 0, 0], [1, 0, 0]],"
        + " patch: {universe: 1, address: 511}}\n",
    )
    sink = DiagnosticSink()
    twin = load_rig(rig, sink)
    assert twin is not None
    (seg,) = fixture(twin, "s").segments
    assert (seg.universe, seg.address, seg.cells) == (2, 1, 10)


# -- time references ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (12.5, (None, 12.5)),
        ("ignition", ("ignition", 0.0)),
        ("ignition+2.5", ("ignition", 2.5)),
        ("finale-4", ("finale", -4.0)),
        (" go - 1 ", ("go", -1.0)),
        ("count-down", ("count-down", 0.0)),
    ],
)
def test_parse_time_ref(raw: float | str, expected: tuple[str | None, float]) -> None:
    assert parse_time_ref(raw) == expected


def test_a_known_cue_name_with_a_dash_is_taken_whole() -> None:
    assert parse_time_ref("part-2", {"part-2"}) == ("part-2", 0.0)
    assert parse_time_ref("part-2") == ("part", -2.0)


@pytest.mark.parametrize("raw", ["ignition+x", "1x", "", "+5", float("nan"), float("inf")])
def test_parse_time_ref_rejects(raw: float | str) -> None:
    with pytest.raises(ValueError, match="time"):
        parse_time_ref(raw)


def test_cues_relative_before_and_after_and_dashed_names(venue: Path) -> None:
    show = write(
        venue / "shows" / "rel.yaml",
        HEAD
        + "cues:\n"
        + "  - {name: finale, at: 15}\n"
        + "  - {name: pre-finale, at: finale-4}\n"
        + "  - {name: part-2, at: 3}\n"
        + "  - {name: after, at: part-2+1}\n"
        + "  - {name: same, at: part-2}\n",
    )
    loaded = load_show(show, EFFECTS)
    assert loaded.cue_times == {
        "finale": 15.0,
        "pre-finale": 11.0,
        "part-2": 3.0,
        "after": 4.0,
        "same": 3.0,
    }


# -- includes ----------------------------------------------------------------------------------


def test_include_merges_cues_and_tracks_with_their_own_spans(venue: Path) -> None:
    part = write(
        venue / "shows" / "parts" / "finale.yaml",
        "cues:\n  - {name: finale, at: 12}\n"
        "tracks:\n  - name: finale\n    clips:\n"
        "      - {effect: solid, target: floods, start: finale, length: 3}\n",
    )
    show = write(
        venue / "shows" / "inc.yaml",
        HEAD + "include: [parts/finale.yaml]\ncues:\n  - {name: go, at: 1}\n"
        "tracks:\n  - name: main\n",
    )
    loaded = load_show(show, EFFECTS)
    assert loaded.cue_times == {"go": 1.0, "finale": 12.0}
    assert [t.name for t in loaded.show.tracks] == ["main", "finale"]
    (clip,) = loaded.clips
    assert (clip.track, clip.start, clip.end) == ("finale", 12.0, 15.0)
    span = loaded.doc.span(("tracks", 1, "clips", 0, "length"))
    assert Path(span.path).resolve() == part.resolve()
    assert (span.line, span.column) == (6, 64)


def test_include_with_a_bad_clip_reports_the_included_file(venue: Path) -> None:
    part = write(
        venue / "shows" / "parts" / "bad.yaml",
        "tracks:\n"
        "  - name: shared\n"
        "    clips:\n"
        "      - effect: solid\n"
        "        target: floods\n"
        "        start: 2\n"
        "        end: 1\n",
    )
    show = write(venue / "shows" / "inc.yaml", HEAD + "include: [parts/bad.yaml]\n")
    (d,) = failures(show)
    assert d.code == "S106"
    assert Path(d.span.path).resolve() == part.resolve()
    assert (d.span.line, d.span.column) == (7, 14)
    assert d.message == "clip ends at 1 s, not after its start 2 s"


def test_include_with_a_schema_error_reports_the_included_file(venue: Path) -> None:
    part = write(venue / "shows" / "parts" / "bad.yaml", "cues:\n  - {name: x, at: 1, hld: true}\n")
    show = write(venue / "shows" / "inc.yaml", HEAD + "include: [parts/bad.yaml]\n")
    (d,) = failures(show)
    assert d.code == "S001"
    assert Path(d.span.path).resolve() == part.resolve()
    assert (d.span.line, d.span.column) == (2, 22)
    assert d.message == "unknown key 'hld' (did you mean 'hold'?)"


def test_nested_include_cycle_names_the_chain(venue: Path) -> None:
    write(venue / "shows" / "a.yaml", "include: [b.yaml]\n")
    write(venue / "shows" / "b.yaml", "include: [a.yaml]\n")
    show = write(venue / "shows" / "top.yaml", HEAD + "include: [a.yaml]\n")
    (d,) = failures(show)
    assert d.code == "S111"
    assert d.message == "include cycle: a.yaml -> b.yaml -> a.yaml"
    assert Path(d.span.path).name == "b.yaml"


@pytest.mark.parametrize(
    "name", ['"a\\0b.yaml"', "x" * 300 + ".yaml"], ids=["nul-byte", "name-too-long"]
)
def test_unusable_rig_and_include_names_are_diagnostics(venue: Path, name: str) -> None:
    show = write(
        venue / "shows" / "odd.yaml",
        f"name: T\nduration: 20\ninclude: [{name}]\nvenues:\n  mini: {{rig: {name}}}\n",
    )
    assert [d.code for d in failures(show)] == ["S111", "S110"]


def test_a_rig_or_include_that_is_not_a_regular_file_says_so(venue: Path) -> None:
    os.mkfifo(venue / "shows" / "part.yaml")
    (venue / "rigs" / "dir.yaml").mkdir()
    show = write(
        venue / "shows" / "odd.yaml",
        "name: T\nduration: 20\ninclude: [part.yaml]\nvenues:\n  mini: {rig: ../rigs/dir.yaml}\n",
    )
    found = [(d.code, d.span.line, d.message) for d in failures(show)]
    assert found == [
        ("S111", 3, "included file 'part.yaml' is not a regular file (a FIFO)"),
        (
            "S110",
            5,
            "venue 'mini': rig file '../rigs/dir.yaml' is not a regular file (a directory)",
        ),
    ]


def test_unusable_media_file_name_is_a_diagnostic(venue: Path) -> None:
    show = write(
        venue / "shows" / "media.yaml",
        HEAD
        + "tracks:\n  - name: t\n    clips:\n"
        + "      - {effect: image, target: floods, start: 0, length: 1,"
        + f" params: {{file: {'x' * 300}}}}}\n",
    )
    (d,) = failures(show)
    assert d.code == "S105"
    assert "not found" in d.message


# -- collecting and reporting ------------------------------------------------------------------


def test_one_load_reports_schema_and_reference_errors_together(venue: Path) -> None:
    show = write(
        venue / "shows" / "many.yaml",
        HEAD
        + "tracks:\n"
        + "  - name: a\n"
        + "    clips:\n"
        + "      - {effect: solid, target: floods, start: 0, length: -1}\n"
        + "      - {effect: solidd, target: floods, start: 0, length: 1}\n"
        + "  - name: b\n"
        + "    venues: [elsewhere]\n",
    )
    found = failures(show)
    assert [(d.code, d.span.line) for d in found] == [("S003", 8), ("S103", 9), ("S109", 11)]


def test_error_text_is_one_sorted_line_per_diagnostic(venue: Path) -> None:
    show = write(
        venue / "shows" / "two.yaml",
        HEAD + "cues:\n  - {name: b, at: zz}\n  - {name: a, at: yy}\n",
    )
    with pytest.raises(ShowValidationError) as info:
        load_show(show, EFFECTS)
    lines = str(info.value).splitlines()
    assert len(lines) == 2
    assert lines == sorted(lines, key=lambda s: int(s.split(":")[1]))
    assert all(": error[S101]: cue " in line for line in lines)


def test_nested_unknown_key_under_a_mapping_of_venues_gets_did_you_mean(venue: Path) -> None:
    show = write(
        venue / "shows" / "typo.yaml",
        "name: T\nduration: 20\nvenues:\n  mini: {rgi: ../rigs/mini.yaml}\n",
    )
    messages = {d.code: d.message for d in failures(show)}
    assert messages == {
        "S001": "unknown key 'rgi' (did you mean 'rig'?)",
        "S002": "missing required key 'rig'",
    }


def test_disabled_track_is_checked_but_not_resolved(venue: Path) -> None:
    show = write(
        venue / "shows" / "off.yaml",
        HEAD
        + "tracks:\n"
        + "  - name: off\n"
        + "    enabled: false\n"
        + "    clips: [{effect: solid, target: floods, start: 0, length: 1}]\n",
    )
    assert load_show(show, EFFECTS).clips == ()


def test_clip_targeting_the_array_group_is_valid(venue: Path) -> None:
    show = write(
        venue / "shows" / "arr.yaml",
        HEAD + "tracks:\n  - name: t\n    clips: [{effect: solid, target: flood, start: 0,"
        " length: 1}]\n",
    )
    (clip,) = load_show(show, EFFECTS).clips
    assert clip.target.group == "flood"


# -- limits that fit memory ----------------------------------------------------------------------

TOO_BIG = (
    Path(__file__).resolve().parents[1] / "data" / "invalid" / "rigs" / "too-many-elements.yaml"
)
_CHECK_UNDER_1_GB = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from controller.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_rig_over_the_size_limits_is_refused_before_anything_is_allocated(
    tmp_path: Path,
) -> None:
    """10000 x 100000 pixels would need tens of GB: `check` says so within 1 GB."""
    show = write(
        tmp_path / "show.yaml",
        f"name: big\nduration: 10\nvenues:\n  bad: {{rig: {TOO_BIG}}}\n",
    )
    done = subprocess.run(
        [sys.executable, "-c", _CHECK_UNDER_1_GB, "check", str(show)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in done.stderr
    assert done.returncode == 2, done.stderr
    elements = (
        "too-many-elements.yaml:10:5: error[R212]: fixture 'huge' brings the rig to "
        "1,000,000,100 elements, more than the limit of 4,000,000"
    )
    fixtures = (
        "too-many-elements.yaml:20:5: error[R212]: fixture 'd8' brings the rig to 100,001 "
        "fixtures, more than the limit of 100,000"
    )
    assert elements in done.stderr
    assert fixtures in done.stderr


# -- one root cause, one error ---------------------------------------------------------------------


def test_a_show_copied_elsewhere_reports_its_missing_rig_once(tmp_path: Path) -> None:
    """Its targets could only be checked against the rig: no 'matches nothing' for each."""
    show = tmp_path / "mini.yaml"
    shutil.copy(MINI_SHOW, show)
    looked = display_path(tmp_path / "../rigs/mini.yaml")
    message = f"venue 'mini': rig file '../rigs/mini.yaml' not found (looked at {looked})"
    assert [(d.code, d.message) for d in failures(show)] == [("S110", message)]


def test_a_fixture_entry_that_did_not_resolve_hides_no_target_errors(venue: Path) -> None:
    rig = venue / "rigs" / "mini.yaml"
    rig.write_text(rig.read_text(encoding="utf-8").replace("profile: flood", "profile: flod"))
    (d,) = failures(venue / "shows" / "mini.yaml")
    assert (d.code, Path(d.span.path).name) == ("R201", "mini.yaml")
    assert d.message.startswith("unknown profile 'flod' (did you mean 'flood'?)")


def test_a_cue_cycle_is_reported_once_with_its_chain(venue: Path) -> None:
    show = write(
        venue / "shows" / "cycle.yaml",
        HEAD + "cues:\n  - {name: a, at: c+1}\n  - {name: b, at: a+1}\n  - {name: c, at: b+1}\n"
        "  - {name: d, at: c+1}\n",
    )
    (d,) = failures(show)
    assert (d.code, d.span.line) == ("S101", 6)
    assert d.message == "cue 'a' is relative to 'c': a cycle (a -> c -> b -> a)"
