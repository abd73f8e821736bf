"""Helpers shared by the runtime tests: the mini show playing, its frames rendered independently."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from controller.attributes import LIGHT_ATTRIBUTES, Attribute
from controller.render.renderer import render
from controller.runtime.commands import Command, CommandKind
from controller.runtime.job import VenueJob
from controller.runtime.playback import EndAction, Playback

__all__ = ["SHOW_AT", "expected_dmx", "light", "playing", "slots"]

SHOW_AT = 6.0  # past the 'go' hold: floods red, the pixel chase running


def expected_dmx(job: VenueJob, position: float, master: float = 1.0) -> NDArray[np.uint8]:
    """Render + patch the mini venue's show frame nearest `position`, as `render` writes it."""
    plan, patch = job.plan, job.patch
    frame, driven = plan.new_frame(), plan.new_driven()
    render(plan, plan.render_time(round(position * plan.fps)), frame, driven)
    return patch.apply(frame, patch.new_output(), master * plan.intensity, driven)


def playing(
    job: VenueJob, *, at: float = SHOW_AT, end: EndAction = EndAction.BLACKOUT, tick: int = 0
) -> Playback:
    """The mini show RUNNING from position `at` on frame-grid tick `tick`."""
    plan = job.plan
    pb = Playback(
        fps=plan.fps,
        frame_count=plan.frame_count,
        cues=[(c.name, c.t, c.hold) for c in plan.cues],
        end_action=end,
    )
    for command in (
        Command(kind=CommandKind.ARM),
        Command(kind=CommandKind.SEEK, args=(at,)),
        Command(kind=CommandKind.GO),
    ):
        assert pb.apply(command, tick).accepted
    return pb


def slots(job: VenueJob, *attributes: int) -> NDArray[np.intp]:
    """Flat output slots (coarse and fine) driven by these attributes or markers."""
    return np.flatnonzero(np.isin(job.patch.slot_attr, attributes))


def light(job: VenueJob, dmx: NDArray[np.uint8]) -> NDArray[np.float32]:
    """Light rows (intensity and colour) that these bytes show, decoded through the patch."""
    frame = job.patch.decode(dmx, job.plan.new_frame())
    rows = [int(Attribute.INTENSITY), *(int(a) for a in LIGHT_ATTRIBUTES)]
    return frame[rows]
