"""The frame engine with recording fake outputs and the compiled mini venue, driven by tick()."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from controller.attributes import Attribute
from controller.outputs.network import ArtNetOutput
from controller.outputs.routing import Route
from controller.outputs.serial_dmx import OpenDmxOutput
from controller.patch.patcher import FIXED_SLOT
from controller.runtime.commands import Command, CommandKind
from controller.runtime.engine import Engine
from controller.runtime.grid import LocalGrid, describe_grid
from controller.runtime.job import VenueJob
from controller.runtime.playback import EndAction, Playback, PlayState
from controller.runtime.shared_grid import SharedGrid, TrustedClockMap
from controller.show.rig import Protocol
from controller.testing import ManualClock
from tests.outputs.fakes import LinePort
from tests.runtime.fakes import Op, RecordingOutput
from tests.runtime.helpers import SHOW_AT, expected_dmx, light, playing, slots

PERIOD = 1 / 40


def engine_with(
    job: VenueJob, *outputs: RecordingOutput, playback: Playback | None = None
) -> Engine:
    return Engine(
        plan=job.plan,
        patch=job.patch,
        playback=playback or playing(job),
        outputs=outputs or (RecordingOutput(),),
    )


def test_tick_stages_and_commits_the_rendered_patched_frame(mini: VenueJob) -> None:
    out = RecordingOutput()
    engine = engine_with(mini, out)
    engine.tick(0)
    engine.tick(1)
    assert [c.op for c in out.calls] == ["stage", "commit", "stage", "commit"]
    assert [c.now for c in out.commits] == [0.0, PERIOD]
    first, second = (c.dmx for c in out.commits)
    assert first is not None
    assert second is not None
    np.testing.assert_array_equal(first, expected_dmx(mini, SHOW_AT))
    np.testing.assert_array_equal(second, expected_dmx(mini, SHOW_AT + PERIOD))
    assert light(mini, first).max() > 0.9  # a lit look, so "dark" below means something
    assert engine.statistics().frames_sent == 2


def test_every_output_gets_the_same_frame(mini: VenueJob) -> None:
    a, b = RecordingOutput("a"), RecordingOutput("b")
    engine_with(mini, a, b).tick(0.0)
    np.testing.assert_array_equal(a.latched, b.latched)


def test_blackout_between_stage_and_deliver_makes_that_very_frame_dark(mini: VenueJob) -> None:
    out = RecordingOutput()
    engine = engine_with(mini, out)
    engine.tick(0)
    lit = out.latched.copy()
    prepared = engine.prepare(1)
    engine.stage(prepared, 0.0)  # the frame's data went out ahead of its deadline, lit
    assert light(mini, out.last_staged).max() > 0.9
    engine.submit(Command(kind=CommandKind.BLACKOUT, args=(True,)))
    engine.deliver(prepared, PERIOD)
    dark = out.latched
    assert light(mini, dark).max() == 0.0
    intensity = slots(mini, Attribute.INTENSITY)
    pixels = slots(mini, Attribute.RED, Attribute.GREEN, Attribute.BLUE)
    assert not dark.reshape(-1)[intensity].any()
    keep = slots(mini, Attribute.PAN, Attribute.TILT, FIXED_SLOT)
    assert len(keep) == 5  # mover pan + tilt (16-bit each) and its fixed control channel
    np.testing.assert_array_equal(dark.reshape(-1)[keep], prepared.dmx.reshape(-1)[keep])
    np.testing.assert_array_equal(dark.reshape(-1)[keep], lit.reshape(-1)[keep])
    assert dark.reshape(-1)[slots(mini, FIXED_SLOT)].tolist() == [8]
    assert lit.reshape(-1)[pixels].any()
    assert engine.statistics().blackout_frames == 1


def test_blackout_off_restores_the_look_on_the_next_frame(mini: VenueJob) -> None:
    out = RecordingOutput()
    engine = engine_with(mini, out)
    engine.submit(Command(kind=CommandKind.BLACKOUT, args=(True,)))
    engine.tick(0)
    assert light(mini, out.latched).max() == 0.0
    engine.submit(Command(kind=CommandKind.BLACKOUT, args=(False,)))
    engine.tick(1)
    np.testing.assert_array_equal(out.latched, expected_dmx(mini, SHOW_AT + PERIOD))


def test_grand_master_change_applies_at_delivery(mini: VenueJob) -> None:
    out = RecordingOutput()
    engine = engine_with(mini, out)
    prepared = engine.prepare(0)
    engine.stage(prepared, 0.0)
    np.testing.assert_array_equal(out.last_staged, expected_dmx(mini, SHOW_AT))
    engine.submit(Command(kind=CommandKind.MASTER, args=(0.5,)))
    engine.deliver(prepared, 0.0)
    half = expected_dmx(mini, SHOW_AT, master=0.5)
    np.testing.assert_array_equal(out.latched, half)
    assert not np.array_equal(half, expected_dmx(mini, SHOW_AT))
    flood_level = out.latched[0, :2]  # flood 1's 16-bit intensity, MSB first
    assert int(flood_level[0]) << 8 | int(flood_level[1]) == round(0.5 * 65535)


def test_an_unchanged_prepared_frame_is_not_staged_twice(mini: VenueJob) -> None:
    out = RecordingOutput()
    engine = engine_with(mini, out)
    prepared = engine.prepare(1)
    engine.stage(prepared, 0.0)
    engine.deliver(prepared, PERIOD)
    assert [(c.op, c.now) for c in out.calls] == [("stage", 0.0), ("commit", PERIOD)]


def test_an_ended_show_set_to_black_out_goes_dark(mini: VenueJob) -> None:
    out = RecordingOutput()
    engine = engine_with(mini, out, playback=playing(mini, at=19.99))
    engine.tick(0)
    assert engine.statistics().playback.state is PlayState.RUNNING
    engine.tick(1)
    assert engine.statistics().playback.state is PlayState.ENDED
    assert light(mini, out.latched).max() == 0.0


def test_an_ended_show_set_to_hold_keeps_its_last_look(mini: VenueJob) -> None:
    out = RecordingOutput()
    engine = engine_with(mini, out, playback=playing(mini, at=9.0, end=EndAction.HOLD))
    engine.submit(Command(kind=CommandKind.SEEK, args=(20.0,)))
    engine.tick(0)
    np.testing.assert_array_equal(out.latched, expected_dmx(mini, 20.0))
    assert engine.statistics().blackout_frames == 0


@pytest.mark.parametrize("op", ["open", "stage", "commit", "poll", "close"])
def test_a_failing_output_is_counted_and_the_others_carry_on(mini: VenueJob, op: Op) -> None:
    good1, bad, good2 = (
        RecordingOutput("a"),
        RecordingOutput("bad", fail={op}),
        RecordingOutput("b"),
    )
    engine = engine_with(mini, good1, bad, good2)
    engine.open(0.0)
    engine.tick(0)
    engine.poll(0.0)
    engine.close(0.0)
    for good in (good1, good2):
        assert [c.op for c in good.calls] == ["open", "stage", "commit", "poll", "close"]
    np.testing.assert_array_equal(good1.latched, good2.latched)
    stats = engine.statistics()
    assert stats.output_failures == 1
    assert stats.frames_sent == 1
    by_name = {o.name: o for o in stats.outputs}
    assert by_name["bad"].errors == 1
    assert by_name["bad"].last_error == f"OSError: bad: {op} failed"
    assert (by_name["a"].errors, by_name["b"].errors) == (0, 0)


class RaisingSink:
    """A datagram sink whose network is down (a transport that raises)."""

    def sendto(self, data: bytes, address: tuple[str, int]) -> None:
        msg = "network is down"
        raise OSError(msg)


def test_a_failing_network_output_keeps_its_error_count(mini: VenueJob) -> None:
    route = Route(protocol=Protocol.ARTNET, universes=(1, 2), wire=(1, 2), host="127.0.0.1")
    artnet = ArtNetOutput(
        name="artnet[1]", routes=[route], universes=mini.patch.universes, sink=RaisingSink()
    )
    good = RecordingOutput("good")
    engine = Engine(
        plan=mini.plan, patch=mini.patch, playback=playing(mini), outputs=[artnet, good]
    )
    engine.tick(0)
    stats = engine.statistics()
    assert (stats.output_failures, len(good.commits)) == (1, 1)
    failed = stats.outputs[0]
    assert (failed.name, failed.errors) == ("artnet[1]", 1)
    assert failed.last_error == "OSError: network is down"


def test_open_dmx_never_puts_the_lit_look_on_the_line_during_blackout(mini: VenueJob) -> None:
    clock = ManualClock(autojump=True)
    line = LinePort(clock)
    dmx_out = OpenDmxOutput(
        name="opendmx[1]", device="/dev/ttyUSB0", row=0, clock=clock, opener=lambda _: line
    )  # paced; its thread's packets are played by hand at chosen times (write_packet)
    engine = Engine(plan=mini.plan, patch=mini.patch, playback=playing(mini), outputs=[dmx_out])
    engine.submit(Command(kind=CommandKind.BLACKOUT, args=(True,)))
    engine.tick(0)
    dmx_out.write_packet(0.005)  # the line's own deadline, after frame 0
    prepared = engine.prepare(1)
    engine.stage(prepared, 0.006)  # render-ahead of frame 1
    dmx_out.write_packet(0.0125)  # the line's next deadline falls before frame 1's
    engine.deliver(prepared, PERIOD)
    dmx_out.write_packet(0.03)
    intensity = slots(mini, Attribute.INTENSITY)
    intensity = intensity[intensity < 512]  # universe 1: the floods' and the mover's dimmers
    packets = [v for _, op, v in line.events if op == "write" and isinstance(v, bytes)]
    assert len(packets) == 3
    lit = [i for i, p in enumerate(packets) if np.frombuffer(p[1:], np.uint8)[intensity].any()]
    assert lit == [], f"packets {lit} carry the lit look during blackout"


def test_a_failing_output_is_counted_every_frame(mini: VenueJob) -> None:
    bad, good = RecordingOutput("bad", fail={"stage"}), RecordingOutput("good")
    engine = engine_with(mini, bad, good)
    for k in range(5):
        engine.tick(k)
    assert engine.output_failures == 5
    assert bad.stats().errors == 5
    assert len(good.commits) == 5


def test_late_delivery_is_counted(mini: VenueJob) -> None:
    engine = engine_with(mini)
    prepared = engine.prepare(40)
    engine.deliver(prepared, 1.001)  # within 2 ms of its deadline (1 s): on time
    engine.deliver(engine.prepare(80), 2.010)
    stats = engine.statistics()
    assert stats.late_frames == 1
    assert stats.max_late_ms == pytest.approx(10.0, abs=1e-3)


def test_statistics_is_an_immutable_snapshot(mini: VenueJob) -> None:
    engine = engine_with(mini)
    engine.tick(0)
    stats = engine.statistics()
    engine.tick(1)
    assert stats.frames_sent == 1
    assert stats.playback.state is PlayState.RUNNING
    assert stats.playback.position == SHOW_AT
    with pytest.raises(dataclasses.FrozenInstanceError):
        stats.frames_sent = 5  # type: ignore[misc]


def test_prepare_alternates_buffers_so_a_staged_frame_survives_the_next_render(
    mini: VenueJob,
) -> None:
    engine = engine_with(mini)
    first = engine.prepare(0)
    kept = first.dmx.copy()
    second = engine.prepare(1)
    assert second.dmx is not first.dmx
    np.testing.assert_array_equal(first.dmx, kept)
    assert (first.tick, second.tick, second.deadline) == (0, 1, PERIOD)


def test_statistics_copies_every_counter_including_the_outputs(mini: VenueJob) -> None:
    out = RecordingOutput()
    engine = engine_with(mini, out)
    engine.tick(0)
    stats = engine.statistics()
    engine.tick(1)
    out.note_error("later")
    assert stats.outputs[0] is not out.stats()
    assert (stats.outputs[0].frames, stats.outputs[0].errors) == (1, 0)
    assert stats.playback.frame == 240
    assert engine.statistics().outputs[0].frames == 2


def test_a_hold_between_prepare_and_deliver_never_moves_the_wire_backwards(
    mini: VenueJob,
) -> None:
    """Issue 7, item 2: 7.000 s then 6.990 s on the wire. Here the HOLD arrives after frame
    281 was prepared and staged; the wire shows 281, then holds 281: never 280."""
    out = RecordingOutput()
    engine = engine_with(mini, out)
    for k in range(40):
        engine.tick(k)
    prepared = engine.prepare(41)
    engine.stage(prepared, prepared.deadline - 0.02)
    engine.submit(Command(kind=CommandKind.HOLD, origin="keys"))
    engine.deliver(prepared, prepared.deadline)
    shown = [prepared.show_frame] + [engine.tick(k).show_frame for k in range(42, 46)]
    assert shown == [281, 281, 281, 281, 281]
    assert engine.snapshot().position == 281 / 40


def test_commands_wait_in_the_inbox_until_their_frame(mini: VenueJob) -> None:
    engine = engine_with(mini)
    engine.submit(Command(kind=CommandKind.HOLD, exec_at=10 / 40))  # due on tick 10
    frames = [engine.tick(k).show_frame for k in range(14)]
    assert frames == [240 + k for k in range(11)] + [250, 250, 250]
    (outcome,) = engine.outcomes()
    assert (outcome.tick, outcome.accepted) == (10, True)


def test_a_report_names_the_grid_so_a_dropped_tick_becomes_an_instant() -> None:
    local = describe_grid(LocalGrid(epoch=1000.25, fps=40))
    shared = describe_grid(
        SharedGrid(epoch=1_796_213_014.0, fps=44, clock_map=TrustedClockMap(offset_s=0.5))
    )
    assert local == {"epoch": 1000.25, "fps": 40, "time": "local monotonic"}
    assert shared == {"epoch": 1_796_213_014.0, "fps": 44, "time": "shared (UTC)"}
