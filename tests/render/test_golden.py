"""Golden DMX bytes: small shows on the golden rig, expected values worked out by hand.

Rig (tests/data/render/rigs/golden.yaml), 1-based addresses:
  universe 1: flood 1-7 (7ch: 16-bit intensity, R, G, B, W, strobe default 0)
              flood4 11-14 (4ch R, G, B, W, white_from_rgb, no dimmer)
              mover 101-108 (16-bit pan, 16-bit tilt, intensity, fixed 8, inverted zoom, unused)
              mover-east 121-128 (the same at the same spot, turned yaw 90: facing east)
              searchlight 141-145 (16-bit pan default 32768, 16-bit tilt default 0, intensity)
              dim 200 (intensity, square curve)
              rgbw 301-305 (intensity, R, G, B, W, white_from_rgb)
  universe 2: strip 1-12 (4 RGB cells), gstrip 101-106 (2 RGB cells, gamma 2.2),
              wstrip 201-208 (2 RGBW cells, white_from_rgb)

Arithmetic conventions the patch follows (controller/patch/patcher.py):
- general channels: byte = rint(value x 255) (16-bit: x 65535); rint rounds half to even.
- pixel cells (FAST path): index = int(light x 4095 + 0.5) into a 4096-entry table holding
  rint(curve(index / 4095) x 255).
- frames hold light = colour x intensity; a fixture with a dimmer sends light / intensity
  (white while dark); a fixture without one sends the light itself.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from controller.compile.plan import compile_venue
from controller.patch.patcher import build_patch
from controller.render.effects import default_registry
from controller.render.renderer import render
from controller.show.load import load_show

RIG = Path(__file__).resolve().parents[1] / "data" / "render" / "rigs" / "golden.yaml"
# (universe, first address, slots)
FLOOD = (1, 1, 7)
FLOOD4 = (1, 11, 4)
MOVER = (1, 101, 8)
MOVER_EAST = (1, 121, 8)
SEARCHLIGHT = (1, 141, 5)
DIM = (1, 200, 1)
RGBW = (1, 301, 5)
STRIP = (2, 1, 12)
GSTRIP = (2, 101, 6)
WSTRIP = (2, 201, 8)

Dmx = dict[int, NDArray[np.uint8]]


def render_dmx(tmp_path: Path, tracks: str, t: float, *, master: float = 1.0) -> Dmx:
    """Write a show of `tracks` (YAML) on the golden rig; its DMX at time `t` by universe."""
    show = tmp_path / "show.yaml"
    body = textwrap.indent(textwrap.dedent(tracks).strip(), "  ")
    show.write_text(
        f"name: golden\nfps: 40\nduration: 10\nvenues:\n  golden: {{rig: '{RIG}'}}\n"
        f"tracks:\n{body}\n",
        encoding="utf-8",
    )
    loaded = load_show(show, default_registry())
    plan = compile_venue(loaded, "golden")
    patch = build_patch(plan.twin, plan.elements)
    driven = plan.new_driven()
    frame = render(plan, t, plan.new_frame(), driven)
    out = patch.apply(frame, patch.new_output(), master, driven)
    return dict(zip(patch.universes, out, strict=True))


def slots(dmx: Dmx, where: tuple[int, int, int]) -> list[int]:
    universe, address, count = where
    return [int(b) for b in dmx[universe][address - 1 : address - 1 + count]]


def solid_on_all(color: str, level: float | str, **clip: object) -> str:
    extra = "".join(f", {k}: {v}" for k, v in clip.items())
    return f"""
        - name: wash
          clips:
            - {{effect: solid, target: {{all: true}}, start: 0, end: 10{extra},
                params: {{color: {color}, level: {level}}}}}
    """


def test_solid_red_at_half_level(tmp_path: Path) -> None:
    dmx = render_dmx(tmp_path, solid_on_all("red", 0.5), t=1.0)
    # flood: intensity 0.5 x 65535 = 32767.5 -> rint 32768 = 0x8000 -> 128, 0
    #        colour = light / intensity = (0.5, 0, 0) / 0.5 -> 255, 0, 0; white 0 / 0.5 -> 0
    #        strobe is at home -> its default 0
    assert slots(dmx, FLOOD) == [128, 0, 255, 0, 0, 0, 0]
    # pixel cells carry the light: R 0.5 -> index int(2047.5 + 0.5) = 2048
    #   -> 2048 / 4095 x 255 = 127.53 -> 128
    assert slots(dmx, STRIP) == [128, 0, 0] * 4
    # dimmer, square curve: 0.5^2 = 0.25 -> 63.75 -> 64
    assert slots(dmx, DIM) == [64]
    # mover: pan/tilt at home -> default 32768 -> 128, 0; intensity 0.5 -> 127.5 -> 128;
    #        fixed 8; zoom at home 0.5 inverted -> 0.5 -> 128; unused 0
    assert slots(dmx, MOVER) == [128, 0, 128, 0, 128, 8, 128, 0]


def test_pixel_cells_quantise_through_the_lookup_table(tmp_path: Path) -> None:
    dmx = render_dmx(tmp_path, solid_on_all("[1, 0.5, 0]", 0.8), t=1.0)
    # light = colour x 0.8 = (0.8, 0.4, 0)
    # R: 0.8 x 4095 = 3276 -> 3276 / 4095 = 0.8 -> 204;  G: 0.4 x 4095 = 1638 -> 102
    assert slots(dmx, STRIP) == [204, 102, 0] * 4
    # gamma 2.2: 0.8^2.2 = 0.6121 -> 156.08 -> 156;  0.4^2.2 = 0.1332 -> 33.97 -> 34
    assert slots(dmx, GSTRIP) == [156, 34, 0] * 2
    # flood: intensity 0.8 x 65535 = 52428 = 0xCCCC -> 204, 204; colour (1, 0.5, 0)
    #        -> 255, 127.5 -> rint (half to even) 128, 0
    assert slots(dmx, FLOOD) == [204, 204, 255, 128, 0, 0, 0]
    # dimmer: 0.8^2 = 0.64 x 255 = 163.2 -> 163
    assert slots(dmx, DIM) == [163]


def test_white_at_half_level_through_a_gamma_cell(tmp_path: Path) -> None:
    dmx = render_dmx(tmp_path, solid_on_all("white", 0.5), t=1.0)
    # index 2048 -> (2048 / 4095)^2.2 = 0.50012^2.2 = 0.21776 -> 55.53 -> 56
    assert slots(dmx, GSTRIP) == [56, 56, 56] * 2


def test_white_from_rgb_without_a_dimmer_sends_light(tmp_path: Path) -> None:
    full = render_dmx(tmp_path, solid_on_all("[1, 1, 0.5]", 1.0), t=1.0)
    # 4ch mode has no intensity channel: values are light. W = min(1, 1, 0.5) = 0.5, taken
    # out of R, G, B -> (0.5, 0.5, 0); 0.5 -> 127.5 -> rint 128
    assert slots(full, FLOOD4) == [128, 128, 0, 128]
    assert slots(full, WSTRIP) == [128, 128, 0, 128] * 2  # pixel cells extract alike
    half = render_dmx(tmp_path, solid_on_all("[1, 1, 0.5]", 0.5), t=1.0)
    # light (0.5, 0.5, 0.25): W = 0.25 -> 63.75 -> 64; R = G = 0.25 -> 64; B = 0
    assert slots(half, FLOOD4) == [64, 64, 0, 64]
    assert slots(half, WSTRIP) == [64, 64, 0, 64] * 2


def test_white_from_rgb_with_a_dimmer_sends_colour(tmp_path: Path) -> None:
    dmx = render_dmx(tmp_path, solid_on_all("[1, 1, 0.5]", 0.5), t=1.0)
    # intensity 0.5 -> 128; colour (1, 1, 0.5): W = 0.5 -> 128, R = G = 0.5 -> 128, B = 0
    assert slots(dmx, RGBW) == [128, 128, 128, 0, 128]


def test_fade_effect_at_its_midpoint(tmp_path: Path) -> None:
    tracks = """
        - name: a
          clips:
            - {effect: fade, target: {all: true}, start: 0, end: 10,
               params: {from: black, to: red, from_level: 0, to_level: 1, duration: 2}}
    """
    dmx = render_dmx(tmp_path, tracks, t=1.0)
    # u = 1 / 2 = 0.5: colour (0.5, 0, 0), level 0.5, light R = 0.25
    # flood: 32767.5 -> 32768 -> 128, 0; R = 0.25 / 0.5 = 0.5 -> 127.5 -> 128
    assert slots(dmx, FLOOD) == [128, 0, 128, 0, 0, 0, 0]
    # strip: 0.25 x 4095 = 1023.75 -> index 1024 -> 1024 / 4095 x 255 = 63.77 -> 64
    assert slots(dmx, STRIP) == [64, 0, 0] * 4
    # gamma: (1024 / 4095)^2.2 = 0.04739 -> 12.08 -> 12
    assert slots(dmx, GSTRIP) == [12, 0, 0] * 2


def test_keyframed_level_with_easing(tmp_path: Path) -> None:
    level = "[{t: 0, v: 0}, {t: 2, v: 1, ease: in-out-sine}]"
    dmx = render_dmx(tmp_path, solid_on_all("red", level), t=0.5)
    # u = 0.5 / 2 = 0.25; in-out-sine: 0.5 - 0.5 cos(pi / 4) = 0.146447
    # flood: 0.146447 x 65535 = 9597.3 -> 9597 = 37 x 256 + 125 -> 37, 125
    assert slots(dmx, FLOOD)[:3] == [37, 125, 255]
    # mover intensity: 0.146447 x 255 = 37.34 -> 37; dimmer: 0.146447^2 x 255 = 5.47 -> 5
    assert slots(dmx, MOVER)[4] == 37
    assert slots(dmx, DIM) == [5]


def test_position_sets_16bit_pan_and_tilt(tmp_path: Path) -> None:
    tracks = """
        - name: a
          clips:
            - {effect: position, target: movers, start: 0, end: 10,
               params: {pan: 90, tilt: -45}}
    """
    dmx = render_dmx(tmp_path, tracks, t=1.0)
    # pan: 0.5 + 90 / 540 = 2/3 -> 43690 = 0xAAAA -> 170, 170
    # tilt: 0.5 - 45 / 270 = 1/3 -> 21845 = 0x5555 -> 85, 85
    # intensity 0 (nothing lights it), fixed 8, zoom home inverted 128, unused 0
    assert slots(dmx, MOVER) == [170, 170, 85, 85, 0, 8, 128, 0]


def test_aim_straight_up_centres_pan_and_tilt(tmp_path: Path) -> None:
    tracks = """
        - name: a
          clips:
            - {effect: aim, target: movers, start: 0, end: 10, params: {target: [0, 0, 100]}}
    """
    dmx = render_dmx(tmp_path, tracks, t=1.0)
    # mover at the origin, zero orientation: beam rests along +Z, the target is straight up
    # -> pan 0, tilt 0 -> 0.5 -> 32767.5 -> 32768 -> 128, 0
    assert slots(dmx, MOVER)[:4] == [128, 0, 128, 0]


def test_aim_north_at_45_degrees_tilts_only(tmp_path: Path) -> None:
    tracks = """
        - name: a
          clips:
            - {effect: aim, target: movers, start: 0, end: 10, params: {target: [0, 100, 100]}}
    """
    dmx = render_dmx(tmp_path, tracks, t=1.0)
    # direction (0, 1, 1)/sqrt 2: pan = atan2(0, 0.707) = 0 -> 128, 0
    # tilt = acos(0.707) = 45 deg -> 0.5 + 45 / 270 = 2/3 -> 43690 -> 170, 170
    assert slots(dmx, MOVER)[:4] == [128, 0, 170, 170]


def test_driven_tilt_off_centre_ignores_the_default(tmp_path: Path) -> None:
    tracks = """
        - name: a
          clips:
            - {effect: position, target: searchlights, start: 0, end: 10,
               params: {pan: 0, tilt: 27}}
    """
    dmx = render_dmx(tmp_path, tracks, t=1.0)
    # tilt 0.5 + 27 / 270 = 0.6 -> 0.6 x 65535 = 39321 = 0x9999 -> 153, 153
    # pan 0 deg drives 0.5, its home value, which is also its default: 128, 0 either way
    assert slots(dmx, SEARCHLIGHT)[:4] == [128, 0, 153, 153]


def test_driven_tilt_at_centre_is_not_mistaken_for_undriven(tmp_path: Path) -> None:
    tracks = """
        - name: a
          clips:
            - {effect: position, target: searchlights, start: 0, end: 10,
               params: {pan: 0, tilt: 0}}
    """
    dmx = render_dmx(tmp_path, tracks, t=1.0)
    # the clip points the beam at its rest direction: tilt 0.5 -> 32768 -> 128, 0
    # (sends the default 0, 0 instead: the beam drops to its tilt stop, -135 deg)
    assert slots(dmx, SEARCHLIGHT)[:4] == [128, 0, 128, 0]


def test_aim_accounts_for_the_fixture_yaw(tmp_path: Path) -> None:
    tracks = """
        - name: a
          clips:
            - {effect: aim, target: movers, start: 0, end: 10, params: {target: [100, 0, 100]}}
    """
    dmx = render_dmx(tmp_path, tracks, t=1.0)
    # target due east, 45 deg up. Facing north (yaw 0): pan = atan2(x=0.707, y=0) = 90 deg
    # -> 0.5 + 90 / 540 = 2/3 -> 43690 -> 170, 170; tilt 45 deg -> 170, 170
    assert slots(dmx, MOVER)[:4] == [170, 170, 170, 170]
    # yaw 90 turns body +Y to the east: pan 0 -> 128, 0; tilt 45 deg -> 170, 170
    assert slots(dmx, MOVER_EAST)[:4] == [128, 0, 170, 170]


def test_htp_takes_the_max_of_intensity_and_of_light(tmp_path: Path) -> None:
    tracks = """
        - name: red
          clips:
            - {effect: solid, target: {all: true}, start: 0, end: 10,
               params: {color: red, level: 0.4}}
        - name: blue
          blend: max
          clips:
            - {effect: solid, target: {all: true}, start: 0, end: 10,
               params: {color: blue, level: 0.6}}
    """
    dmx = render_dmx(tmp_path, tracks, t=1.0)
    # I = max(0.4, 0.6) = 0.6; light R = max(0.4, 0) = 0.4, B = max(0, 0.6) = 0.6
    # strip: 0.4 x 4095 = 1638 -> 102; 0.6 x 4095 = 2457 -> 153
    assert slots(dmx, STRIP) == [102, 0, 153] * 4
    # flood: 0.6 x 65535 = 39321 = 0x9999 -> 153, 153; R = 0.4 / 0.6 = 2/3 -> 170;
    #        B = 0.6 / 0.6 = 1 -> 255
    assert slots(dmx, FLOOD) == [153, 153, 170, 0, 255, 0, 0]
    # dimmer: 0.6^2 = 0.36 x 255 = 91.8 -> 92
    assert slots(dmx, DIM) == [92]


def test_multiply_dimmer_scales_a_solid(tmp_path: Path) -> None:
    tracks = """
        - name: a
          clips:
            - {effect: solid, target: {all: true}, start: 0, end: 10,
               params: {color: white, level: 1}}
            - {effect: dimmer, target: {all: true}, start: 0, end: 10, blend: multiply,
               params: {level: 0.5}}
    """
    dmx = render_dmx(tmp_path, tracks, t=1.0)
    # I = 1 x 0.5 = 0.5; the light is rescaled by 0.5 / 1 -> (0.5, 0.5, 0.5)
    # flood: 128, 0 and colour 0.5 / 0.5 = 1 -> 255 each; white light 0 -> 0
    assert slots(dmx, FLOOD) == [128, 0, 255, 255, 255, 0, 0]
    assert slots(dmx, STRIP) == [128, 128, 128] * 4  # index 2048 -> 128
    assert slots(dmx, DIM) == [64]  # 0.5^2 x 255 = 63.75 -> 64


def test_dimmer_over_darkness_brings_up_white(tmp_path: Path) -> None:
    tracks = """
        - name: a
          clips:
            - {effect: dimmer, target: pixels, start: 0, end: 10, params: {level: 0.5}}
    """
    dmx = render_dmx(tmp_path, tracks, t=1.0)
    # from darkness, an intensity-only clip lights white: light (0.5, 0.5, 0.5) -> 128
    assert slots(dmx, STRIP) == [128, 128, 128] * 4


def test_add_saturates_at_full(tmp_path: Path) -> None:
    tracks = """
        - name: a
          clips:
            - {effect: solid, target: {all: true}, start: 0, end: 10,
               params: {color: red, level: 0.7}}
            - {effect: solid, target: {all: true}, start: 0, end: 10, blend: add,
               params: {color: [1, 0, 0.5], level: 0.4}}
    """
    dmx = render_dmx(tmp_path, tracks, t=1.0)
    # I = min(0.7 + 0.4, 1) = 1; R = min(0.7 + 0.4, 1) = 1; B = 0.5 x 0.4 = 0.2
    # strip: R 255; B 0.2 x 4095 = 819 -> 819 / 4095 x 255 = 51
    assert slots(dmx, STRIP) == [255, 0, 51] * 4
    # flood: 65535 -> 255, 255; R = 1 / 1 -> 255; B = 0.2 x 255 = 51
    assert slots(dmx, FLOOD) == [255, 255, 255, 0, 51, 0, 0]
    assert slots(dmx, DIM) == [255]


def test_replace_at_half_opacity_mixes_the_light(tmp_path: Path) -> None:
    tracks = """
        - name: a
          clips:
            - {effect: solid, target: {all: true}, start: 0, end: 10,
               params: {color: red, level: 1}}
            - {effect: solid, target: {all: true}, start: 0, end: 10, opacity: 0.5,
               params: {color: blue, level: 1}}
    """
    dmx = render_dmx(tmp_path, tracks, t=1.0)
    # I = 1 + (1 - 1) x 0.5 = 1; R = 1 + (0 - 1) x 0.5 = 0.5; B = 0 + (1 - 0) x 0.5 = 0.5
    assert slots(dmx, STRIP) == [128, 0, 128] * 4  # index 2048 -> 128
    # flood: 255, 255; R, B = 0.5 / 1 -> 127.5 -> rint (half to even) 128
    assert slots(dmx, FLOOD) == [255, 255, 128, 0, 128, 0, 0]


def test_fade_in_and_fade_out_halve_alpha_at_their_midpoints(tmp_path: Path) -> None:
    tracks = solid_on_all("red", 1, fade_in=2, fade_out=2).replace("end: 10", "end: 4")
    # alpha = (t - start) / fade_in = 0.5 at t = 1 and (end - t) / fade_out = 0.5 at t = 3:
    # I = R = 0 + (1 - 0) x 0.5 = 0.5
    for t in (1.0, 3.0):
        dmx = render_dmx(tmp_path, tracks, t=t)
        assert slots(dmx, STRIP) == [128, 0, 0] * 4, t
        assert slots(dmx, FLOOD) == [128, 0, 255, 0, 0, 0, 0], t
    # the clip is over at its end (start <= t < end): everything back home
    dmx = render_dmx(tmp_path, tracks, t=4.0)
    assert slots(dmx, STRIP) == [0, 0, 0] * 4


def test_home_look_and_unpatched_slots(tmp_path: Path) -> None:
    dmx = render_dmx(tmp_path, "[]", t=0.0)
    # flood dark: intensity 0; colour channels white while dark; strobe default 0
    assert slots(dmx, FLOOD) == [0, 0, 255, 255, 255, 0, 0]
    # mover: pan/tilt default 32768 -> 128, 0; fixed 8; inverted zoom at 0.5 -> 128
    assert slots(dmx, MOVER) == [128, 0, 128, 0, 0, 8, 128, 0]
    # searchlight undriven: pan default 32768 -> 128, 0; tilt default 0 -> 0, 0
    assert slots(dmx, SEARCHLIGHT) == [128, 0, 0, 0, 0]
    assert slots(dmx, STRIP) == [0] * 12
    patched = {
        (u, a + k)
        for u, a, n in (
            FLOOD,
            FLOOD4,
            MOVER,
            MOVER_EAST,
            SEARCHLIGHT,
            DIM,
            RGBW,
            STRIP,
            GSTRIP,
            WSTRIP,
        )
        for k in range(n)
    }
    for universe, row in dmx.items():
        free = [int(row[a - 1]) for a in range(1, 513) if (universe, a) not in patched]
        assert free == [0] * len(free), universe


def test_master_scales_intensity_class_outputs_only(tmp_path: Path) -> None:
    dmx = render_dmx(tmp_path, solid_on_all("red", 1), t=1.0, master=0.5)
    # flood: intensity 1 x 0.5 -> 128, 0; its colour (light / intensity) is not scaled
    assert slots(dmx, FLOOD) == [128, 0, 255, 0, 0, 0, 0]
    # no dimmer: the light is scaled. 4ch: 1 x 0.5 = 0.5 -> 128
    assert slots(dmx, FLOOD4) == [128, 0, 0, 0]
    # strip: 1 x 4095 x 0.5 = 2047.5 -> index 2048 -> 128
    assert slots(dmx, STRIP) == [128, 0, 0] * 4
    # white_from_rgb cells: light (1, 0, 0) x 0.5 -> W = min = 0, R = 0.5 -> 128
    assert slots(dmx, WSTRIP) == [128, 0, 0, 0] * 2
    # master before the curve: (1 x 0.5)^2 = 0.25 -> 64
    assert slots(dmx, DIM) == [64]
    # pan and tilt are not intensities: still centred
    assert slots(dmx, MOVER)[:4] == [128, 0, 128, 0]
