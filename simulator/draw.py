"""Draw what the simulator received, with the renderer preview's own drawing code.

Latched DMX goes back through `Patch.decode` to an attribute frame, then through the same
`appearance_from_frame` and `MapView.draw` the preview uses, so for the same look the
two pictures match (up to 8-bit quantisation).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from controller.compile.plan import VenuePlan
from controller.preview.appearance import appearance_from_frame
from controller.preview.mapview import MapView
from controller.preview.render_preview import beam_mask
from simulator.core import SimulatorCore

__all__ = ["draw_received"]

LIT = 0.02  # the preview's threshold for counting a light as lit


def draw_received(
    core: SimulatorCore,
    plan: VenuePlan,
    *,
    title: str,
    subtitle: str | None = None,
    width: int = 1400,
    dmx: NDArray[np.uint8] | None = None,
) -> Image.Image:
    """A top-down picture of the venue showing the look the simulator latched last (or
    `dmx`, a snapshot of `core.dmx` taken earlier)."""
    frame = (
        core.frame(plan.new_frame()) if dmx is None else core.patch.decode(dmx, plan.new_frame())
    )
    look = appearance_from_frame(frame, plan.elements, beam_mask(plan))
    if subtitle is None:
        stats = core.statistics()
        lit = int((look.light.max(axis=1) > LIT).sum()) if len(look.light) else 0
        subtitle = (
            f"received: {stats.frames_latched} frames, {stats.packets.total} packets, "
            f"{stats.malformed.total} malformed    lit: {lit}/{len(look.light)} lights"
        )
    view = MapView(plan.twin, plan.elements.positions, width=width)
    return view.draw(look, title=title, subtitle=subtitle)
