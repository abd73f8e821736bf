"""L8 generate a synthetic city of N universes of pixel strips, plus a show that works it.

The city is a square grid of towers; each tower carries vertical RGB pixel strips of 170
cells (one universe each), so `universes` strips in all. The show layers the expensive
effects the real ceremony uses: a repeating city pulse, a rainbow (HTP), sparkle (HTP), a
noise texture and a multiply master, all active at once.
"""

from __future__ import annotations

import math
from pathlib import Path

from controller.files import write_atomic

__all__ = ["write_city", "write_fade_city"]

STRIPS_PER_TOWER = 16
TOWER_PITCH_M = 60.0
TOWER_SIZE_M = 30.0
TOWER_HEIGHT_M = 120.0

PROFILE = """\
name: Synthetic Pixel Strip
category: pixel-strip
modes:
  - name: rgb
    cells: {count: 170, order: GRB, variable: true, curve: gamma, gamma: 2.2}
"""


def _rig(universes: int) -> str:
    towers = math.ceil(universes / STRIPS_PER_TOWER)
    side = math.ceil(math.sqrt(towers))
    lines = [
        "venue:",
        f"  id: synthetic-{universes}",
        f"  name: Synthetic City {universes}",
        "  city: Nowhere",
        "  timezone: UTC",
        "  origin: {lat: 0.0, lon: 0.0}",
        "profiles: [profiles]",
        "buildings:",
    ]
    for k in range(towers):
        x, y = (k % side) * TOWER_PITCH_M, (k // side) * TOWER_PITCH_M
        s = TOWER_SIZE_M
        lines.append(
            f"  - {{id: t{k}, footprint: [[{x}, {y}], [{x + s}, {y}], [{x + s}, {y + s}], "
            f"[{x}, {y + s}]], height: {TOWER_HEIGHT_M}}}"
        )
    lines.append("fixtures:")
    universe = 1
    for k in range(towers):
        x, y = (k % side) * TOWER_PITCH_M, (k // side) * TOWER_PITCH_M
        strips = min(STRIPS_PER_TOWER, universes - (universe - 1))
        if strips <= 0:
            break
        step = TOWER_SIZE_M / STRIPS_PER_TOWER
        lines += [
            f"  - id: t{k}-strip",
            "    profile: strip",
            f"    count: {strips}",
            "    pixels: 170",
            f"    line: [[{x}, {y - 0.5}, 0], [{x}, {y - 0.5}, {TOWER_HEIGHT_M}]]",
            f"    step: [{step}, 0, 0]",
            f"    building: t{k}",
            "    groups: [strips]",
            f"    patch: {{universe: {universe}}}",
        ]
        universe += strips
    lines += ["outputs:", f"  - {{protocol: sacn, universes: '1-{universes}'}}"]
    return "\n".join(lines) + "\n"


_LIGHT_TRACKS = """\
tracks:
  - name: chase
    clips:
      - {{effect: chase, target: strips, start: 0, end: {end}, params: {{axis: x, speed: 0.25}}}}
"""


def _show(universes: int, fps: int = 44, *, light: bool = False) -> str:
    extent = math.ceil(math.sqrt(math.ceil(universes / STRIPS_PER_TOWER))) * TOWER_PITCH_M
    centre = extent / 2
    duration = 3600 if light else 60
    head = f"""\
name: Synthetic load {universes}
fps: {fps}
duration: {duration}
venues:
  city: {{rig: rig.yaml}}
"""
    if light:  # one cheap layer: for measuring output timing, not render cost
        return head + _LIGHT_TRACKS.format(end=3600)
    return (
        head
        + f"""\
tracks:
  - name: base
    clips:
      - {{effect: noise, target: strips, start: 0, end: 60, params: {{scale: 25}}}}
  - name: rainbow
    blend: max
    clips:
      - {{effect: rainbow, target: strips, start: 0, end: 60, opacity: 0.6,
          params: {{axis: x, spread: 2}}}}
  - name: pulse
    blend: max
    clips:
      - effect: city-pulse
        target: strips
        start: 0
        end: 60
        params: {{origin: [{centre}, {centre}], speed: 200, width: 60, period: 4}}
  - name: sparkle
    blend: max
    clips:
      - {{effect: sparkle, target: strips, start: 0, end: 60, params: {{density: 0.05}}}}
  - name: master
    blend: multiply
    clips:
      - effect: dimmer
        target: strips
        start: 0
        end: 60
        params:
          level: [{{t: 0, v: 0.2}}, {{t: 30, v: 1.0, ease: in-out-sine}}, {{t: 60, v: 0.8}}]
"""
    )


def _write(path: Path, text: str) -> None:
    write_atomic(path, text, durable=False)  # a benchmark's own input, made again at will


def write_city(directory: Path, universes: int, *, fps: int = 44, light: bool = False) -> Path:
    """Write profiles/strip.yaml, rig.yaml and show.yaml; return the show path."""
    if universes < 1:
        msg = f"universes={universes} must be at least 1"
        raise ValueError(msg)
    (directory / "profiles").mkdir(parents=True, exist_ok=True)
    _write(directory / "profiles" / "strip.yaml", PROFILE)
    _write(directory / "rig.yaml", _rig(universes))
    show = directory / "show.yaml"
    _write(show, _show(universes, fps, light=light))
    return show


def _fade_show(universes: int, fps: int, fade_s: float, duration: int) -> str:
    keys = ", ".join(
        f"{{t: {k * fade_s:g}, v: {k % 2}}}" for k in range(int(duration / fade_s) + 1)
    )
    return f"""\
name: Fade load {universes}
fps: {fps}
duration: {duration}
venues:
  city: {{rig: rig.yaml}}
tracks:
  - name: fade
    clips:
      - effect: solid
        target: strips
        start: 0
        end: {duration}
        params: {{color: white, level: [{keys}]}}
"""


def write_fade_city(
    directory: Path, universes: int, *, fps: int = 44, fade_s: float = 2.0, duration: int = 600
) -> Path:
    """The city of `write_city` playing one linear fade, up and down over `fade_s` each way
    (what `bench compare` has the peers play too)."""
    if universes < 1:
        msg = f"universes={universes} must be at least 1"
        raise ValueError(msg)
    (directory / "profiles").mkdir(parents=True, exist_ok=True)
    _write(directory / "profiles" / "strip.yaml", PROFILE)
    _write(directory / "rig.yaml", _rig(universes))
    show = directory / "show.yaml"
    _write(show, _fade_show(universes, fps, fade_s, duration))
    return show
