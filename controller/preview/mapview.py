"""L5 draw the digital twin from above: buildings, and every light in its colour.

Lights are rasterised with numpy (no per-element drawing calls), dilated to dots and given
a blurred glow; beams of moving heads and searchlights are drawn as their ground
projection, so converging searchlights visibly meet over their target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

from controller.preview.appearance import Appearance
from controller.show.twin import Twin

__all__ = ["MapView", "font"]

F32 = NDArray[np.float32]
HEADER = 56
MARGIN = 40
BG_TOP = np.array([8, 12, 28], np.float32)
BG_BOTTOM = np.array([2, 3, 10], np.float32)
BEAM_LENGTH_M = 400.0
GLOW_NEAR = 2.5
GLOW_FAR = 4.0


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


@dataclass(frozen=True, slots=True)
class _Frame:
    scale: float  # pixels per metre
    x0: float
    y1: float
    width: int
    height: int

    def to_px(self, xy: F32) -> F32:
        px = (xy[:, 0] - self.x0) * self.scale + MARGIN
        py = (self.y1 - xy[:, 1]) * self.scale + MARGIN + HEADER
        return np.stack([px, py], axis=1).astype(np.float32)


class MapView:
    """A reusable top-down view of one venue (static layers are drawn once)."""

    def __init__(self, twin: Twin, positions: F32, *, width: int = 1400) -> None:
        self.twin = twin
        pts = [positions[:, :2]] if len(positions) else []
        pts += [np.asarray(b.footprint, np.float32) for b in twin.buildings]
        allpts = np.concatenate(pts) if pts else np.zeros((1, 2), np.float32)
        x0, y0 = allpts.min(axis=0) - 20.0
        x1, y1 = allpts.max(axis=0) + 20.0
        scale = (width - 2 * MARGIN) / max(float(x1 - x0), 1.0)
        height = int((y1 - y0) * scale) + 2 * MARGIN + HEADER
        height = max(240, min(height, 2 * width))
        scale = min(scale, (height - 2 * MARGIN - HEADER) / max(float(y1 - y0), 1.0))
        self.frame = _Frame(scale, float(x0), float(y1), width, height)
        self.px = (
            self.frame.to_px(positions[:, :2]) if len(positions) else np.zeros((0, 2), np.float32)
        )
        self.base = self._draw_base()

    def _draw_base(self) -> Image.Image:
        f = self.frame
        ramp = np.linspace(0.0, 1.0, f.height, dtype=np.float32)[:, None, None]
        bg = BG_TOP * (1 - ramp) + BG_BOTTOM * ramp
        img = Image.fromarray(np.broadcast_to(bg, (f.height, f.width, 3)).astype(np.uint8))
        draw = ImageDraw.Draw(img)
        step = 50.0 if f.scale > 1.5 else 100.0 if f.scale > 0.5 else 500.0
        gx = np.arange(np.ceil(f.x0 / step) * step, f.x0 + f.width / f.scale, step)
        for x in gx:
            px = (x - f.x0) * f.scale + MARGIN
            draw.line([(px, HEADER), (px, f.height)], fill=(18, 24, 44), width=1)
        gy = np.arange(np.floor(f.y1 / step) * step, f.y1 - f.height / f.scale, -step)
        for y in gy:
            py = (f.y1 - y) * f.scale + MARGIN + HEADER
            draw.line([(0, py), (f.width, py)], fill=(18, 24, 44), width=1)
        tallest = max((b.height for b in self.twin.buildings), default=1.0)
        small = font(11)
        for b in self.twin.buildings:
            poly = f.to_px(np.asarray(b.footprint, np.float32))
            shade = int(30 + 40 * (b.height / tallest))
            draw.polygon(
                [tuple(p) for p in poly],
                fill=(shade // 2, shade // 2 + 4, shade + 10),
                outline=(70, 90, 130),
            )
            cx, cy = poly.mean(axis=0)
            draw.text(
                (cx, cy),
                f"{b.name or b.id}\n{b.height:g} m",
                fill=(120, 140, 180),
                font=small,
                anchor="mm",
                align="center",
            )
        self._scale_bar(draw)
        return img

    def _scale_bar(self, draw: ImageDraw.ImageDraw) -> None:
        f = self.frame
        want = 160.0 / f.scale  # about 160 px long
        metres = next(
            (
                m
                for m in (10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0)
                if m >= want * 0.6
            ),
            10000.0,
        )
        length = metres * f.scale
        x, y = MARGIN, f.height - 18
        draw.line([(x, y), (x + length, y)], fill=(160, 170, 200), width=2)
        draw.text(
            (x + length + 6, y), f"{metres:g} m", fill=(160, 170, 200), font=font(11), anchor="lm"
        )
        draw.text((f.width - MARGIN, y), "N ^", fill=(160, 170, 200), font=font(13), anchor="rm")

    def draw(self, look: Appearance, *, title: str, subtitle: str = "") -> Image.Image:
        f = self.frame
        canvas = np.zeros((f.height, f.width, 3), np.float32)
        if len(self.px):
            ix = np.clip(self.px[:, 0].astype(np.int32), 0, f.width - 1)
            iy = np.clip(self.px[:, 1].astype(np.int32), 0, f.height - 1)
            np.maximum.at(canvas, (iy, ix), look.light)
        dots = Image.fromarray((canvas * 255).astype(np.uint8)).filter(ImageFilter.MaxFilter(5))
        beams = Image.new("RGB", (f.width, f.height))
        self._draw_beams(ImageDraw.Draw(beams), look)
        lights = ImageChops.add(dots, beams)
        near = np.asarray(lights.filter(ImageFilter.GaussianBlur(4)), np.float32)
        far = np.asarray(lights.filter(ImageFilter.GaussianBlur(16)), np.float32)
        core = np.asarray(lights, np.float32)
        base = np.asarray(self.base, np.float32)
        out = base + core + GLOW_NEAR * near + GLOW_FAR * far
        img = Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(img)
        draw.rectangle([(0, 0), (f.width, HEADER - 8)], fill=(4, 6, 16))
        draw.text((MARGIN, 10), title, fill=(235, 240, 255), font=font(20))
        if subtitle:
            draw.text((MARGIN, 34), subtitle, fill=(140, 160, 200), font=font(13))
        return img

    def _draw_beams(self, draw: ImageDraw.ImageDraw, look: Appearance) -> None:
        idx = np.flatnonzero(look.has_beam & (look.light.max(axis=1) > 0.02))
        f = self.frame
        for i in idx:
            d = look.beams[i]
            horiz = float(np.hypot(d[0], d[1]))
            start = self.px[i]
            end = start + np.array([d[0], -d[1]], np.float32) * BEAM_LENGTH_M * f.scale
            colour = tuple(int(c * 200) for c in look.light[i])
            if horiz < 0.05:  # straight up: a bright disc
                r = 6
                draw.ellipse([start[0] - r, start[1] - r, start[0] + r, start[1] + r], fill=colour)
            else:
                draw.line([tuple(start), tuple(end)], fill=colour, width=3)
