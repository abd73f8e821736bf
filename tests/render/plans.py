"""Venue plans over the test venue built from clips made in code, plus tiny media files.

Loading a show from YAML costs ~50 ms; compiling clips against an already loaded venue costs
under 1 ms, so property tests build `ResolvedClip`s here and swap them into the loaded
mini show instead of writing a show file per example.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from controller.compile.plan import VenuePlan, compile_venue
from controller.effects_api import EffectRegistry, normalise_param
from controller.render.effects import default_registry
from controller.render.renderer import render
from controller.show.check import ResolvedClip
from controller.show.load import LoadedShow, load_show
from controller.show.timeline import Blend, Target

__all__ = [
    "DATA",
    "MINI_RIG",
    "MINI_SHOW",
    "REGISTRY",
    "fixture_elements",
    "frame_at",
    "make_clip",
    "mini_show",
    "plan_of",
    "write_gif",
    "write_png",
]

DATA = Path(__file__).resolve().parents[1] / "data"
MINI_SHOW = DATA / "venue" / "shows" / "mini.yaml"
MINI_RIG = DATA / "venue" / "rigs" / "mini.yaml"
REGISTRY: EffectRegistry = default_registry()
RGB = tuple[int, int, int]


@functools.cache
def mini_show() -> LoadedShow:
    """The mini test show, loaded once per session (it is immutable)."""
    return load_show(MINI_SHOW, REGISTRY)


def make_clip(
    effect: str,
    params: Mapping[str, object] | None = None,
    *,
    target: Target | None = None,
    start: float = 0.0,
    end: float = 10.0,
    blend: Blend = Blend.REPLACE,
    opacity: float = 1.0,
    fade_in: float = 0.0,
    fade_out: float = 0.0,
    seed: int = 1,
    layer: int = 1,
) -> ResolvedClip:
    """A checked clip: each parameter is the spec's default unless `params` sets it."""
    spec = REGISTRY[effect]
    raw = {p.name: p.default for p in spec.params} | dict(params or {})
    tracks = {}
    for name, value in raw.items():
        pspec = spec.param(name)
        assert pspec is not None, f"effect {effect!r} has no parameter {name!r}"
        tracks[name] = normalise_param(pspec, value, clip_length=end - start)
    return ResolvedClip(
        track="t",
        track_index=0,
        clip_index=layer - 1,
        layer=layer,
        effect=spec,
        target=target if target is not None else Target(),
        start=start,
        end=end,
        blend=blend,
        opacity=opacity,
        fade_in=fade_in,
        fade_out=fade_out,
        seed=seed,
        params=tracks,
        venues=("mini",),
        source=("tracks", 0, "clips", layer - 1),
    )


def plan_of(clips: Iterable[ResolvedClip], *, base_dir: Path | None = None) -> VenuePlan:
    """Compile `clips` for the mini venue; media files are looked up in `base_dir`."""
    loaded = dataclasses.replace(mini_show(), clips=tuple(clips))
    if base_dir is not None:
        loaded = dataclasses.replace(loaded, path=str(base_dir / "show.yaml"))
    return compile_venue(loaded, "mini")


def frame_at(plan: VenuePlan, t: float) -> NDArray[np.float32]:
    """A fresh frame rendered at show time `t`."""
    return render(plan, t, plan.new_frame())


def fixture_elements(plan: VenuePlan, prefix: str) -> NDArray[np.int64]:
    """Element indices of every fixture whose id starts with `prefix`, in rig order."""
    table = plan.elements
    picked = [
        np.arange(table.first[k], table.first[k] + table.count[k])
        for k, fx in enumerate(plan.twin.fixtures)
        if fx.id.startswith(prefix)
    ]
    return np.concatenate(picked).astype(np.int64)


def write_png(path: Path, columns: list[RGB], *, height: int = 2) -> Path:
    """A picture of vertical bands, one pixel column per entry of `columns`."""
    img = Image.new("RGB", (len(columns), height))
    for x, colour in enumerate(columns):
        for y in range(height):
            img.putpixel((x, y), colour)
    img.save(path)
    return path


def write_gif(path: Path, frames: list[RGB], *, size: int = 4) -> Path:
    """An animated GIF whose frames are solid colours."""
    images = [Image.new("RGB", (size, size), colour) for colour in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=100, loop=0)
    return path
