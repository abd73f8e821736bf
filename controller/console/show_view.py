"""L8 what the console knows of the show before the bus says anything: cues, venues, twins.

The page draws each city from above as `citypulse preview` does (buildings, then every light
in its colour), from the venue's looks. The geometry comes from the show file here, never
over the bus: each venue's `LookLayout` (the same as the venue's own) gives the position of
every look cell, so a look only carries colours.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from controller.compile.plan import compile_venue
from controller.preview.look import LookLayout
from controller.protocols import bus
from controller.show.load import LoadedShow
from controller.show.twin import Twin

__all__ = ["ShowView", "twin_view"]


def _round(values: np.ndarray) -> list[float]:
    return [round(float(v), 2) for v in values.reshape(-1)]


def twin_view(venue: str, twin: Twin, layout: LookLayout) -> dict[str, Any]:
    """The page's drawing of one venue: buildings, look cells (metres east/north), bounds."""
    buildings = [
        {"name": b.name or b.id, "height": float(b.height),
         "footprint": [[round(float(x), 2), round(float(y), 2)] for x, y in b.footprint]}
        for b in twin.buildings
    ]  # fmt: skip
    points = [layout.centres.astype(np.float64)] if layout.cells else []
    points += [np.asarray(b["footprint"], np.float64) for b in buildings]
    allpts = np.concatenate(points) if points else np.zeros((1, 2))
    lo, hi = allpts.min(axis=0) - 20.0, allpts.max(axis=0) + 20.0  # as the preview frames it
    return {
        "venue": venue,
        "name": twin.venue.name,
        "city": twin.venue.city,
        "cells": layout.cells,
        "elements": layout.elements,
        "xy": _round(layout.centres),
        "buildings": buildings,
        "bounds": _round(np.concatenate([lo, hi])),
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class ShowView:
    show_id: str
    name: str
    fps: int
    frame_count: int
    cues: tuple[tuple[str, float, bool], ...]  # name, seconds, hold
    venues: tuple[str, ...]
    twins: dict[str, dict[str, Any]]

    @classmethod
    def of(cls, loaded: LoadedShow, *, max_cells: int = bus.MAX_LOOK_CELLS) -> ShowView:
        """Compile every venue of the show for its look layout (a second or two for a city)."""
        show = loaded.show
        twins = {}
        for venue in loaded.venues:
            plan = compile_venue(loaded, venue)
            layout = LookLayout.of_plan(plan, max_cells=max_cells)
            twins[venue] = twin_view(venue, plan.twin, layout)
        cues = tuple((c.name, loaded.cue_times[c.name], c.hold) for c in show.cues)
        return cls(
            show_id=Path(loaded.path).stem, name=show.name, fps=show.fps,
            frame_count=round(show.duration * show.fps), cues=cues,
            venues=tuple(show.venues), twins=twins,
        )  # fmt: skip

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps

    def describe(self) -> dict[str, Any]:
        """The show as the page first receives it."""
        return {
            "show_id": self.show_id,
            "name": self.name,
            "fps": self.fps,
            "duration_s": self.duration_s,
            "cues": [{"name": n, "t": t, "hold": h} for n, t, h in self.cues],
            "venues": list(self.venues),
            "twins": [self.twins[v] for v in self.venues if v in self.twins],
        }
