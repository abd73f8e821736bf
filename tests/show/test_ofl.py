"""Open Fixture Library import: real fixtures, round trip, rig check, located errors.

Test data in tests/data/ofl/ is written by hand in OFL's JSON format (schema 12.x), from the
manufacturers' published DMX charts and following the structure of the matching Open Fixture
Library fixtures (MIT licence, Open Fixture Library contributors); long wheel capability
lists are shortened.

- clay-paky/sharpy.json: Clay Paky Sharpy moving head, user manual DMX chart: "Standard"
  16 channels and "Vector" 20 channels; pan 540 deg and tilt 250 deg, both 16-bit
  (channels 10-13); shutter 0-3 closed, 4-103 strobe 1-12 Hz, 104-107 open.
- chauvet-dj/colorband-pix-ip.json: Chauvet DJ COLORband PiX IP, 12 RGB pixels (user manual
  rev. 6): 3, 4 and 7-channel master modes; 6, 9, 12, 18 and 36-channel pixel-group modes.
- chauvet-dj/dmx-4.json: Chauvet DJ DMX-4 dimmer pack (quick reference guide rev. 3): four
  dimmer channels.
"""

from __future__ import annotations

import os
import stat
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from controller.cli.app import main
from controller.errors import Diagnostic, Severity, ShowValidationError
from controller.files import write_atomic
from controller.show.diagnostics import DiagnosticSink
from controller.show.load import load_rig
from controller.show.ofl import OflImport, import_ofl
from controller.show.profile import ChannelSpec, FixtureProfile
from controller.show.source import parse_yaml

DATA = Path(__file__).parent.parent / "data" / "ofl"
SHARPY = DATA / "clay-paky" / "sharpy.json"
COLORBAND = DATA / "chauvet-dj" / "colorband-pix-ip.json"
DMX4 = DATA / "chauvet-dj" / "dmx-4.json"
SCHEMA = (
    "https://raw.githubusercontent.com/OpenLightingProject/open-fixture-library/"
    "schema-12.5.1/schemas/fixture.json"
)


def _write(tmp_path: Path, text: str, name: str = "fixture.json") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n").replace("SCHEMA", SCHEMA), "utf-8")
    return path


def _channel(result: OflImport, mode: str, index: int) -> ChannelSpec:
    found = result.profile.mode(mode)
    assert found is not None
    return found.channels[index]


def _located(diagnostics: tuple[Diagnostic, ...]) -> list[tuple[str, int, int]]:
    return [(d.code, d.span.line, d.span.column) for d in diagnostics]


# --- real products ----------------------------------------------------------------------


def test_sharpy_modes_and_footprints_follow_the_dmx_chart() -> None:
    result = import_ofl(SHARPY)
    profile = result.profile
    assert [m.name for m in profile.modes] == ["Standard", "Vector"]
    assert [m.footprint() for m in profile.modes] == [16, 20]
    assert profile.name == "Sharpy"
    assert profile.manufacturer == "clay-paky"
    assert profile.category == "moving-head"
    assert result.suggested_name == "clay-paky-sharpy"


def test_sharpy_pan_and_tilt_are_16_bit_with_their_sweep() -> None:
    result = import_ofl(SHARPY)
    pan, tilt = _channel(result, "Vector", 9), _channel(result, "Vector", 10)
    assert (pan.attribute, pan.bits, tilt.attribute, tilt.bits) == ("pan", 16, "tilt", 16)
    # defaultValue 128 at dmxValueResolution 8bit; OFL scales up by repeating the byte
    assert pan.default == tilt.default == 128 * 256 + 128
    assert (result.profile.pan_range_deg, result.profile.tilt_range_deg) == (540, 250)
    # DMX slots 10-13: coarse, fine, coarse, fine
    slots = [c.slots for c in result.profile.modes[1].channels]
    assert sum(slots[:9]) == 9
    assert slots[9:11] == [2, 2]


def test_sharpy_shutter_is_strobe_open_by_default() -> None:
    strobe = _channel(import_ofl(SHARPY), "Standard", 1)
    assert strobe.attribute == "strobe"
    assert strobe.default == 104  # first "Open" range, 104-107
    assert strobe.range == (4, 103)  # strobe 1 Hz .. 12 Hz


def test_sharpy_focus_runs_far_to_near_as_a_descending_range() -> None:
    focus = _channel(import_ofl(SHARPY), "Standard", 8)
    assert (focus.attribute, focus.range) == ("focus", (255, 0))


def test_sharpy_wheels_and_maintenance_are_fixed_with_located_warnings() -> None:
    result = import_ofl(SHARPY)
    wheel = _channel(result, "Standard", 0)
    assert (wheel.attribute, wheel.value, wheel.name) == ("fixed", 0, "Color Wheel")
    first = result.warnings[0]
    assert (first.code, first.severity, first.span.line, first.span.column) == (
        "O406",
        Severity.WARNING,
        46,
        5,
    )
    assert "'Color Wheel' is held at 0" in first.message
    assert "WheelSlot, WheelRotation" in first.message
    assert "it drives Intensity" in first.message  # says what is supported
    physical = result.profile.physical
    assert physical is not None
    assert (physical.power_w, physical.weight_kg, physical.beam_deg) == (200, 19, 3.8)


@pytest.mark.parametrize(
    ("mode", "cells", "footprint"),
    [
        ("6-channel", 2, 6),
        ("9-channel", 3, 9),
        ("12-channel", 4, 12),
        ("18-channel", 6, 18),
        ("36-channel", 12, 36),
    ],
)
def test_colorband_pixel_modes_become_rgb_cells(mode: str, cells: int, footprint: int) -> None:
    found = import_ofl(COLORBAND).profile.mode(mode)
    assert found is not None
    assert found.cells is not None
    assert (found.cells.count, found.cells.order, found.channels) == (cells, "RGB", [])
    assert found.footprint() == footprint


def test_colorband_master_modes_are_head_channels() -> None:
    result = import_ofl(COLORBAND)
    profile = result.profile
    assert profile.category == "pixel-bar"
    assert profile.physical is not None
    assert profile.physical.length_m == 1.057
    seven = profile.mode("7-channel")
    assert seven is not None
    assert seven.cells is None
    attributes = [c.attribute for c in seven.channels]
    assert attributes == ["red", "green", "blue", "fixed", "strobe", "fixed", "intensity"]
    strobe = seven.channels[4]
    assert (strobe.name, strobe.default, strobe.range) == ("Program Speed / Strobe", 0, (16, 255))
    assert [m.footprint() for m in profile.modes[:3]] == [7, 3, 4]
    switching = [w for w in result.warnings if w.code == "O407"]
    assert _located(tuple(switching)) == [("O407", 116, 9)]


def test_dimmer_pack_keeps_one_intensity_and_holds_the_others() -> None:
    result = import_ofl(DMX4)
    mode = result.profile.modes[0]
    assert (result.profile.category, mode.name, mode.footprint()) == ("dimmer", "4ch", 4)
    assert [c.attribute for c in mode.channels] == ["intensity", "fixed", "fixed", "fixed"]
    assert _located(result.warnings) == [("O406", 31, 32), ("O406", 31, 44), ("O406", 31, 56)]
    assert "already driven by 'Dimmer 1'" in result.warnings[0].message


@pytest.mark.parametrize("path", [SHARPY, COLORBAND, DMX4], ids=lambda p: p.stem)
def test_yaml_text_reads_back_as_the_same_profile(path: Path) -> None:
    result = import_ofl(path)
    again = FixtureProfile.model_validate(parse_yaml(result.yaml_text, "out.yaml").data)
    assert again == result.profile
    header = result.yaml_text.split("\nname:")[0]
    assert f"{path.parent.name}/{path.name}" in header
    assert "MIT licence" in header
    assert "Open Fixture Library contributors" in header


def test_imported_profiles_pass_check_in_a_rig(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    for path in (SHARPY, COLORBAND, DMX4):
        result = import_ofl(path)
        write_atomic(profiles / f"{result.suggested_name}.yaml", result.yaml_text)
    rig = _write(
        tmp_path,
        """
        venue: {id: test, name: Test, city: Testville, timezone: UTC, origin: {lat: 0, lon: 0}}
        profiles: [profiles]
        fixtures:
          - {id: mover, profile: clay-paky-sharpy, mode: Vector, position: [0, 0, 10],
             patch: {universe: 1, address: 1}}
          - {id: bar, profile: chauvet-dj-colorband-pix-ip, mode: 36-channel,
             line: [[0, 0, 0], [1, 0, 0]], patch: {universe: 1, address: 21}}
          - {id: dim, profile: chauvet-dj-dmx-4, position: [5, 0, 0],
             patch: {universe: 1, address: 57}}
        outputs:
          - {protocol: sacn, universes: 1}
        """,
        "rig.yaml",
    )
    sink = DiagnosticSink()
    twin = load_rig(rig, sink)
    assert sink.items == []
    assert twin is not None
    assert [(f.id, f.channels, f.n_cells) for f in twin.fixtures] == [
        ("mover", 20, 0),
        ("bar", 36, 12),
        ("dim", 4, 0),
    ]


# --- mapping details --------------------------------------------------------------------


def test_head_channels_before_the_matrix_block_stay_head_channels(tmp_path: Path) -> None:
    # the "14-channel" example of OFL's docs/fixture-format.md, on a 4-pixel bar
    path = _write(
        tmp_path,
        """
        {
          "$schema": "SCHEMA",
          "name": "Bar 4",
          "categories": ["Pixel Bar"],
          "matrix": {"pixelCount": [4, 1, 1]},
          "availableChannels": {
            "Master Dimmer": {"capability": {"type": "Intensity"}},
            "Strobe": {"capability": {"type": "StrobeSpeed", "speedStart": "0Hz", "speedEnd": "20Hz"}}
          },
          "templateChannels": {
            "Red $pixelKey": {"capability": {"type": "ColorIntensity", "color": "Red"}},
            "Green $pixelKey": {"capability": {"type": "ColorIntensity", "color": "Green"}},
            "Blue $pixelKey": {"capability": {"type": "ColorIntensity", "color": "Blue"}},
            "White $pixelKey": {"capability": {"type": "ColorIntensity", "color": "Warm White"}}
          },
          "modes": [{"name": "18-channel", "channels": ["Master Dimmer", "Strobe", {
            "insert": "matrixChannels", "repeatFor": "eachPixelXYZ", "channelOrder": "perPixel",
            "templateChannels": ["Green $pixelKey", "Red $pixelKey", "Blue $pixelKey", "White $pixelKey"]
          }]}]
        }
        """,
    )
    mode = import_ofl(path).profile.modes[0]
    assert [c.attribute for c in mode.channels] == ["intensity", "strobe"]
    assert mode.channels[1].range is None  # 0 Hz .. 20 Hz over the whole channel
    assert mode.cells is not None
    assert (mode.cells.count, mode.cells.order, mode.footprint()) == (4, "GRBW", 18)


def test_defaults_scale_between_resolutions(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        {
          "$schema": "SCHEMA",
          "name": "Head",
          "categories": ["Moving Head"],
          "availableChannels": {
            "Pan": {"fineChannelAliases": ["Pan fine"], "defaultValue": 32768,
                    "capability": {"type": "Pan", "angleStart": "-270deg", "angleEnd": "270deg"}},
            "Zoom": {"defaultValue": "50%", "capabilities": [
              {"dmxRange": [0, 9], "type": "NoFunction"},
              {"dmxRange": [10, 255], "type": "Zoom", "angleStart": "40deg", "angleEnd": "5deg"}]}
          },
          "modes": [
            {"name": "fine", "channels": ["Pan", "Pan fine", "Zoom"]},
            {"name": "coarse", "channels": ["Pan", "Zoom"]}
          ]
        }
        """,
    )
    result = import_ofl(path)
    fine, coarse = result.profile.modes
    assert (fine.channels[0].bits, fine.channels[0].default) == (16, 32768)
    assert (coarse.channels[0].bits, coarse.channels[0].default) == (8, 128)
    assert result.profile.pan_range_deg == 540
    zoom = fine.channels[1]
    assert (zoom.default, zoom.range) == (127, (255, 10))  # "50%" of 255; 40 deg -> 5 deg


def test_fine_channel_away_from_its_coarse_is_held_fixed(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        {
          "$schema": "SCHEMA",
          "name": "Head",
          "categories": ["Moving Head"],
          "availableChannels": {
            "Pan": {"fineChannelAliases": ["Pan fine"], "defaultValue": 32800,
                    "capability": {"type": "Pan", "angleStart": "0deg", "angleEnd": "540deg"}},
            "Tilt": {"fineChannelAliases": ["Tilt fine"],
                     "capability": {"type": "Tilt", "angleStart": "0deg", "angleEnd": "270deg"}}
          },
          "modes": [{"name": "4ch", "channels": ["Pan", "Tilt", "Pan fine", "Tilt fine"]}]
        }
        """,
    )
    result = import_ofl(path)
    channels = result.profile.modes[0].channels
    assert [(c.attribute, c.bits) for c in channels] == [
        ("pan", 8),
        ("tilt", 8),
        ("fixed", 8),
        ("fixed", 8),
    ]
    assert (channels[0].default, channels[2].value) == (128, 32800 % 256)
    assert _located(result.warnings) == [("O407", 11, 57), ("O407", 11, 69)]


def test_colours_without_a_citypulse_attribute_are_held_fixed(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        {
          "$schema": "SCHEMA",
          "name": "Par",
          "categories": ["Color Changer"],
          "availableChannels": {
            "Warm": {"capability": {"type": "ColorIntensity", "color": "Warm White"}},
            "Cool": {"capability": {"type": "ColorIntensity", "color": "Cold White"}},
            "Lime": {"capability": {"type": "ColorIntensity", "color": "Lime"}},
            "UV": {"capability": {"type": "ColorIntensity", "color": "UV"}}
          },
          "modes": [{"name": "4ch", "channels": ["Warm", "Cool", "Lime", null, "UV"]}]
        }
        """,
    )
    result = import_ofl(path)
    assert result.profile.category == "par"
    channels = result.profile.modes[0].channels
    assert [c.attribute for c in channels] == ["white", "fixed", "fixed", "unused", "uv"]
    assert _located(result.warnings) == [("O406", 8, 5), ("O406", 11, 50)]
    assert "ColorIntensity Lime" in result.warnings[0].message


def _fifo(tmp_path: Path) -> Path:
    path = tmp_path / "fifo.yaml"
    os.mkfifo(path)
    return path


def _char_device(tmp_path: Path) -> Path:
    """A node like /dev/null (character device 1:3), made here so the real one is never at risk."""
    if os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    path = tmp_path / "null"
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    return path


def _symlink_to_char_device(tmp_path: Path) -> Path:
    link = tmp_path / "link.yaml"
    link.symlink_to(_char_device(tmp_path))
    return link


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (_fifo, "a FIFO"),
        (_char_device, "a character device"),
        (_symlink_to_char_device, "a character device"),
        (lambda tmp: tmp, "a directory"),
    ],
    ids=["fifo", "char-device", "symlink-to-char-device", "directory"],
)
def test_output_that_is_not_a_regular_file_is_refused_and_left_alone(
    tmp_path: Path, make: Callable[[Path], Path], kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = make(tmp_path)
    before = os.stat(out)
    assert main(["fixtures", "import-ofl", str(DMX4), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert ": error[A002]: --output: " in err  # the CLI checks -o before any work
    assert f" is {kind}" in err
    with pytest.raises(OSError, match=f"is {kind}; only a regular file"):
        write_atomic(out, "x\n")  # the library refuses too, whoever calls it
    after = os.stat(out)
    assert (stat.S_IFMT(after.st_mode), after.st_ino) == (
        stat.S_IFMT(before.st_mode),
        before.st_ino,
    )
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


# --- bad input: exact code and position -------------------------------------------------

_BAD = {
    "malformed JSON": (
        """
        {
          "name": "x",
          "modes": [1,
        }
        """,
        "Y001",
        4,
        1,
    ),
    "not an OFL fixture": (
        """
        {
          "$schema": "https://json-schema.org/draft-07/schema#",
          "name": "x"
        }
        """,
        "O401",
        2,
        14,
    ),
    "missing modes": (
        """
        {
          "$schema": "SCHEMA",
          "name": "x",
          "categories": ["Dimmer"],
          "availableChannels": {"Dimmer": {"capability": {"type": "Intensity"}}}
        }
        """,
        "O401",
        1,
        1,
    ),
    "schema major 7": (
        """
        {
          "$schema": "https://raw.githubusercontent.com/OpenLightingProject/open-fixture-library/schema-7.3.0/schemas/fixture.json",
          "name": "x"
        }
        """,
        "O402",
        2,
        14,
    ),
    "unknown channel": (
        """
        {
          "$schema": "SCHEMA",
          "name": "x",
          "categories": ["Dimmer"],
          "availableChannels": {"Dimmer": {"capability": {"type": "Intensity"}}},
          "modes": [
            {"name": "1ch", "channels": ["Dimer"]}
          ]
        }
        """,
        "O404",
        7,
        34,
    ),
    "fine channel without coarse": (
        """
        {
          "$schema": "SCHEMA",
          "name": "x",
          "categories": ["Dimmer"],
          "availableChannels": {
            "Dimmer": {"fineChannelAliases": ["Dimmer fine"], "capability": {"type": "Intensity"}}
          },
          "modes": [{"name": "1ch", "channels": ["Dimmer fine"]}]
        }
        """,
        "O403",
        8,
        42,
    ),
    "channel after the matrix block": (
        """
        {
          "$schema": "SCHEMA",
          "name": "x",
          "categories": ["Pixel Bar"],
          "matrix": {"pixelCount": [2, 1, 1]},
          "availableChannels": {"Dimmer": {"capability": {"type": "Intensity"}}},
          "templateChannels": {"Red $pixelKey": {"capability": {"type": "ColorIntensity", "color": "Red"}}},
          "modes": [{"name": "3ch", "channels": [
            {"insert": "matrixChannels", "repeatFor": "eachPixelABC", "channelOrder": "perPixel",
             "templateChannels": ["Red $pixelKey"]},
            "Dimmer"
          ]}]
        }
        """,
        "O405",
        11,
        5,
    ),
    "perChannel order": (
        """
        {
          "$schema": "SCHEMA",
          "name": "x",
          "categories": ["Pixel Bar"],
          "matrix": {"pixelCount": [2, 1, 1]},
          "templateChannels": {"Red $pixelKey": {"capability": {"type": "ColorIntensity", "color": "Red"}}},
          "modes": [{"name": "2ch", "channels": [
            {"insert": "matrixChannels", "repeatFor": "eachPixelABC", "channelOrder": "perChannel",
             "templateChannels": ["Red $pixelKey"]}
          ]}]
        }
        """,
        "O405",
        8,
        79,
    ),
    "16-bit cell channel": (
        """
        {
          "$schema": "SCHEMA",
          "name": "x",
          "categories": ["Pixel Bar"],
          "matrix": {"pixelKeys": [[["a", "b"]]]},
          "templateChannels": {"Red $pixelKey": {"fineChannelAliases": ["Red $pixelKey fine"],
            "capability": {"type": "ColorIntensity", "color": "Red"}}},
          "modes": [{"name": "4ch", "channels": [
            {"insert": "matrixChannels", "repeatFor": "eachPixelABC", "channelOrder": "perPixel",
             "templateChannels": ["Red $pixelKey", "Red $pixelKey fine"]}
          ]}]
        }
        """,
        "O405",
        10,
        44,
    ),
    "repeatFor names an unknown pixel": (
        """
        {
          "$schema": "SCHEMA",
          "name": "x",
          "categories": ["Pixel Bar"],
          "matrix": {"pixelCount": [2, 1, 1], "pixelGroups": {"all": "all"}},
          "templateChannels": {"Red $pixelKey": {"capability": {"type": "ColorIntensity", "color": "Red"}}},
          "modes": [{"name": "2ch", "channels": [
            {"insert": "matrixChannels", "repeatFor": ["1", "3"], "channelOrder": "perPixel",
             "templateChannels": ["Red $pixelKey"]}
          ]}]
        }
        """,
        "O405",
        8,
        53,
    ),
}


@pytest.mark.parametrize(("text", "code", "line", "column"), _BAD.values(), ids=_BAD.keys())
def test_bad_input_is_reported_at_its_json_node(
    tmp_path: Path, text: str, code: str, line: int, column: int
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ShowValidationError) as caught:
        import_ofl(path)
    errors = caught.value.errors
    assert _located(errors) == [(code, line, column)]
    assert errors[0].span.path.endswith("fixture.json")


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        {
          "$schema": "SCHEMA",
          "name": "x",
          "categories": ["Dimmer"],
          "availableChannels": {"Dimmer": {"defaultValue": 300, "capability": {"type": "Intensity"}}},
          "modes": [{"name": "a", "channels": ["Dimmer", "Nope"]}, {"name": "b", "channels": []}]
        }
        """,
    )
    with pytest.raises(ShowValidationError) as caught:
        import_ofl(path)
    assert _located(caught.value.errors) == [("O401", 5, 52), ("O404", 6, 50), ("O401", 6, 60)]
    assert "defaultValue=300 must be 0..255" in caught.value.errors[0].message
    assert "did you mean 'Dimmer'?" not in caught.value.errors[1].message
