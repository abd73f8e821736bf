"""L5 previews of a compiled venue plan: a still, an animation, a contact sheet per cue."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw

from controller.compile.plan import VenuePlan
from controller.preview.appearance import appearance_from_frame
from controller.preview.mapview import MapView, font
from controller.render.renderer import render

__all__ = ["PlanPreview", "beam_mask"]


def beam_mask(plan: VenuePlan) -> NDArray[np.bool_]:
    movable = np.array(
        [any(c.attribute in ("pan", "tilt") for c in f.mode.channels) for f in plan.twin.fixtures],
        dtype=np.bool_,
    )
    return np.repeat(movable, plan.elements.count) if len(movable) else np.zeros(0, np.bool_)


class PlanPreview:
    def __init__(self, plan: VenuePlan, *, show_name: str, width: int = 1400) -> None:
        self.plan = plan
        self.show_name = show_name
        self.view = MapView(plan.twin, plan.elements.positions, width=width)
        self.has_beam = beam_mask(plan)
        self.frame = plan.new_frame()

    def cue_at(self, t: float) -> str:
        current = "-"
        for cue in self.plan.cues:
            if cue.t <= t:
                current = cue.name
        return current

    def still(self, t: float) -> Image.Image:
        render(self.plan, t, self.frame)
        look = appearance_from_frame(self.frame, self.plan.elements, self.has_beam)
        venue = self.plan.twin.venue
        title = f"{self.show_name} - {venue.name}, {venue.city}"
        lit = int((look.light.max(axis=1) > 0.02).sum())
        sub = f"t = {t:7.2f} s    cue: {self.cue_at(t)}    lit: {lit}/{len(look.light)} lights"
        return self.view.draw(look, title=title, subtitle=sub)

    def animation(self, start: float, end: float, fps: float) -> list[Image.Image]:
        n = max(1, int((end - start) * fps + 1e-6))  # 0.3 s at 10 fps is 3 frames, not 2.99
        return [self.still(start + k / fps) for k in range(n)]

    def sheet(self, *, columns: int = 3, thumb_width: int = 520) -> Image.Image:
        """One picture per cue (1 s after it fires), labelled, in a grid."""
        cues = list(self.plan.cues) or []
        times = [(c.name, min(c.t + 1.0, self.plan.duration - 1e-3)) for c in cues]
        if not times:
            times = [("start", 0.0)]
        thumbs = []
        for name, t in times:
            img = self.still(t)
            h = int(img.height * thumb_width / img.width)
            thumb = img.resize((thumb_width, h), Image.Resampling.LANCZOS)
            ImageDraw.Draw(thumb).text(
                (10, h - 24), f"{name} @ {t:.1f}s", fill=(255, 220, 120), font=font(16)
            )
            thumbs.append(thumb)
        rows = (len(thumbs) + columns - 1) // columns
        th = thumbs[0].height
        sheet = Image.new(
            "RGB",
            (columns * thumb_width + (columns + 1) * 8, rows * th + (rows + 1) * 8),
            (10, 10, 16),
        )
        for k, thumb in enumerate(thumbs):
            r, c = divmod(k, columns)
            sheet.paste(thumb, (8 + c * (thumb_width + 8), 8 + r * (th + 8)))
        return sheet
