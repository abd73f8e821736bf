"""A venue's looks: every k-th delivered frame's light, as it went out (master, blackout)."""

from __future__ import annotations

import base64

import numpy as np

from controller.preview.look import LIGHT_ROWS, LookLayout
from controller.protocols import bus
from controller.render.renderer import render
from controller.runtime.commands import Command, CommandKind
from controller.runtime.engine import Engine
from controller.runtime.grid import LocalGrid
from controller.runtime.job import VenueJob
from controller.runtime.look_tap import LookTap, look_every
from controller.runtime.player import Player
from controller.testing import ManualClock
from tests.runtime.fakes import RecordingOutput
from tests.runtime.helpers import playing

T0 = 1000.0


def engine_for(job: VenueJob) -> Engine:
    return Engine(plan=job.plan, patch=job.patch, playback=playing(job), outputs=[RecordingOutput()],
                  grid=LocalGrid(epoch=T0, fps=job.plan.fps))  # fmt: skip


def colours(look: bus.Look) -> np.ndarray:
    return np.frombuffer(base64.b64decode(look.light), np.uint8).reshape(-1, 3)


def test_the_rate_is_about_eight_looks_a_second() -> None:
    assert [look_every(f) for f in (1, 5, 10, 25, 30, 40, 50, 60, 120)] == [
        1,
        1,
        1,
        3,
        4,
        5,
        6,
        8,
        15,
    ]


def test_every_kth_delivered_frame_is_copied_and_published_once(mini: VenueJob) -> None:
    engine, tap = engine_for(mini), LookTap(mini.plan, venue="mini")
    clock = ManualClock(T0, autojump=True)
    frames: list[int] = []
    player = Player(engine=engine, clock=clock, stop_dark=False, on_frame=tap.on_frame,
                    until=lambda now: len(frames) >= 23 or bool(frames.append(0)))  # fmt: skip
    player.run()
    assert tap.copies == len(range(0, 23, tap.every))
    look = bus.decode(bus.Look, tap.payload() or b"")
    assert look.tick == 20  # the latest tick divisible by 5
    assert look.venue == "mini"
    assert tap.payload() is None  # nothing new since
    snap_frame = look.frame
    expected = engine.plan.new_frame()
    render(mini.plan, mini.plan.render_time(snap_frame), expected)
    layout = LookLayout.of_plan(mini.plan, max_cells=bus.MAX_LOOK_CELLS)
    want = layout.colours(expected[LIGHT_ROWS], engine.playback.master * mini.plan.intensity)
    np.testing.assert_array_equal(colours(look), want)
    assert colours(look).any()  # the show is lit there


def test_a_blackout_heard_at_delivery_makes_that_look_black(mini: VenueJob) -> None:
    engine, tap = engine_for(mini), LookTap(mini.plan, venue="mini")
    prepared = engine.prepare(0)
    engine.stage(prepared, T0 - 0.01)
    engine.submit(Command(kind=CommandKind.BLACKOUT, args=(True,), origin="test"))
    engine.deliver(prepared, T0)
    tap.on_frame(prepared, T0)
    look = bus.decode(bus.Look, tap.payload() or b"")
    assert look.cells == tap.layout.cells > 0
    assert not colours(look).any()


def test_a_slow_reader_never_sees_a_half_written_copy(mini: VenueJob) -> None:
    """The writer only writes its spare buffer; the reader's buffer stays as it took it."""
    engine, tap = engine_for(mini), LookTap(mini.plan, venue="mini")
    first = engine.tick(0)
    tap.on_frame(first, T0)
    tap.payload()
    reading = tap._buffers[tap._reading].copy()
    for k in range(5, 50, 5):
        tap.on_frame(engine.tick(k), T0 + k / 40)
        np.testing.assert_array_equal(tap._buffers[tap._reading], reading)
