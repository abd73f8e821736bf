"""L3 pixel mapping: an image or a video laid over a plane of the city, sampled per element.

The picture covers the rectangle `min`..`max` (metres) of a plane: `xz` is a facade facing
south (east across, up the height), `yz` one facing east, `xy` the map seen from above. The
top row of the picture is at the high end of the vertical coordinate.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageSequence, UnidentifiedImageError

from controller.effects_api import EffectSpec, ParamKind, ParamSpec, ParamTrack
from controller.render import jit
from controller.render.context import ClipRenderer, EffectContext, ParamValues
from controller.render.effects import fused
from controller.render.effects.common import RGBI, level_param, number_param, phase, scale_light

__all__ = ["MAX_SIDE", "SPECS", "MediaError", "load_frames"]

F32 = NDArray[np.float32]
MAX_SIDE = 512  # pictures are scaled down so the longer side is at most this
MAX_FRAMES = 3000
PLANES = {"xz": (0, 2), "yz": (1, 2), "xy": (0, 1)}


class MediaError(Exception):
    """An image or video parameter that cannot be read."""


def load_frames(path: Path, *, video: bool) -> F32:
    """Frames as float32 (n_frames, height, width, 3) in 0..1."""
    try:
        with Image.open(path) as img:
            frames = []
            for frame in ImageSequence.Iterator(img) if video else [img]:
                rgb = frame.convert("RGB")
                if max(rgb.size) > MAX_SIDE:
                    rgb.thumbnail((MAX_SIDE, MAX_SIDE))
                frames.append(np.asarray(rgb, dtype=np.float32) / 255.0)
                if len(frames) >= MAX_FRAMES:
                    break
    except FileNotFoundError as exc:
        raise MediaError(f"file {str(path)!r} not found") from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise MediaError(f"cannot read {str(path)!r} as an image: {exc}") from exc
    return np.stack(frames).astype(np.float32)


def _coords(ctx: EffectContext, params: Mapping[str, ParamTrack]) -> tuple[F32, F32]:
    a_axis, b_axis = PLANES[params["plane"].text or "xz"]
    lo, hi = params["min"].at(0.0), params["max"].at(0.0)
    pos = ctx.positions
    du = max(hi[a_axis] - lo[a_axis], 1e-6)
    dv = max(hi[b_axis] - lo[b_axis], 1e-6)
    u = ((pos[:, a_axis] - lo[a_axis]) / du).astype(np.float32)
    v = ((pos[:, b_axis] - lo[b_axis]) / dv).astype(np.float32)
    return u, v


class _Mapped:
    video = False

    def prepare(self, ctx: EffectContext, params: Mapping[str, ParamTrack]) -> ClipRenderer:
        name = params["file"].text or ""
        frames = load_frames(ctx.base_dir / name, video=self.video)
        n_frames, height, width, _ = frames.shape
        u0, v0 = _coords(ctx, params)
        tile = params["tile"].at(0.0)[0] > 0.5
        flat = frames.reshape(n_frames, height * width, 3)
        video = self.video

        def render(t: float, p: ParamValues, out: F32) -> None:
            if jit.enabled():
                index = 0
                if video:
                    frame = int(phase(p, "fps", t))
                    index = frame % n_frames if p["loop"][0] > 0.5 else min(frame, n_frames - 1)
                fused.map_rgbi(
                    u0, v0, float(np.float32(phase(p, "scroll_u", t))),
                    float(np.float32(phase(p, "scroll_v", t))), tile, width, height,
                    flat[index], p["level"][0], out,
                )  # fmt: skip
                return
            u = u0 + np.float32(phase(p, "scroll_u", t))
            v = v0 + np.float32(phase(p, "scroll_v", t))
            if tile:
                u, v = u % 1.0, v % 1.0
            inside = (u >= 0) & (u < 1) & (v >= 0) & (v < 1)
            ix = np.clip((u * width).astype(np.int32), 0, width - 1)
            iy = np.clip(((1.0 - v) * height).astype(np.int32), 0, height - 1)
            index = 0
            if video:
                frame = int(phase(p, "fps", t))
                index = frame % n_frames if p["loop"][0] > 0.5 else min(frame, n_frames - 1)
            rgb = flat[index][iy * width + ix]
            out[1:4] = rgb.T
            scale_light(out, np.where(inside, np.float32(p["level"][0]), np.float32(0.0)))

        return render


class ImageMap(_Mapped):
    video = False


class VideoMap(_Mapped):
    video = True


def _common() -> tuple[ParamSpec, ...]:
    return (
        ParamSpec(
            name="file", kind=ParamKind.TEXT, default="", doc="picture, relative to the show"
        ),
        ParamSpec(
            name="plane",
            kind=ParamKind.CHOICE,
            default="xz",
            choices=tuple(PLANES),
            doc="xz: facade facing south; yz: facing east; xy: map view",
        ),
        ParamSpec(name="min", kind=ParamKind.POINT, default=[0, 0, 0], doc="lower corner, m"),
        ParamSpec(name="max", kind=ParamKind.POINT, default=[100, 0, 50], doc="upper corner, m"),
        number_param(
            "scroll_u", 0.0, "scroll across, picture widths/s", minimum=-100, maximum=100, rate=True
        ),
        number_param(
            "scroll_v", 0.0, "scroll up, picture heights/s", minimum=-100, maximum=100, rate=True
        ),
        ParamSpec(name="tile", kind=ParamKind.BOOL, default=False, doc="repeat outside the area"),
        level_param(),
    )


SPECS = (
    EffectSpec(
        name="image",
        doc="Pixel-map a picture onto fixture positions over a plane of the city.",
        writes=RGBI,
        params=_common(),
        impl=ImageMap(),
    ),
    EffectSpec(
        name="video",
        doc="Pixel-map an animated picture (GIF, APNG, WebP) at `fps` onto fixture positions.",
        writes=RGBI,
        params=(
            *_common(),
            number_param(
                "fps", 25.0, "frames per second", unit="Hz", minimum=0.1, maximum=120, rate=True
            ),
            ParamSpec(name="loop", kind=ParamKind.BOOL, default=True, doc="loop the video"),
        ),
        impl=VideoMap(),
    ),
)
