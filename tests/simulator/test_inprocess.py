"""The controller's own outputs sending straight into the core (what `run --output sim` wires)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from controller.cli.common import VenueJob
from controller.outputs.base import Output
from controller.outputs.factory import build_outputs
from controller.outputs.routing import plan_routes
from controller.outputs.serial_dmx import OpenDmxOutput
from controller.preview.appearance import appearance_from_frame
from controller.preview.mapview import MapView
from controller.preview.render_preview import beam_mask
from controller.render.renderer import render
from controller.show.rig import Protocol
from controller.testing import ManualClock
from simulator.core import SimulatorCore
from simulator.draw import draw_received
from simulator.inprocess import SimByteSink, SimDatagramSink, SimSerialPort

T = 7.0  # inside the "go" cue: red floods and a pixel chase


def _look(job: VenueJob, t: float = T) -> NDArray[np.uint8]:
    frame = job.plan.new_frame()
    render(job.plan, t, frame)
    return job.patch.apply(frame, job.patch.new_output())


def _wired(
    job: VenueJob, protocol: Protocol | None, clock: ManualClock
) -> tuple[SimulatorCore, list[Output]]:
    target = "/dev/sim0" if protocol is Protocol.ENTTEC else None
    routes = plan_routes(job.plan.twin, protocol=protocol, target=target)
    core = SimulatorCore(twin=job.plan.twin, patch=job.patch, routes=routes, fps=40.0)
    outputs = build_outputs(
        routes,
        job.patch.universes,
        venue=job.plan.venue,
        show_name="Mini",
        clock=clock,
        fps=40.0,
        sinks=lambda route: SimDatagramSink(core, clock, route.protocol.value),
        serial_opener=lambda device: SimSerialPort(SimByteSink(core, clock, device=device)),
    )
    return core, outputs


@pytest.mark.parametrize("protocol", [Protocol.ARTNET, Protocol.SACN, Protocol.OSC])
def test_network_outputs_deliver_the_patch_output(mini: VenueJob, protocol: Protocol) -> None:
    clock = ManualClock()
    core, outputs = _wired(mini, protocol, clock)
    dmx = _look(mini)
    for output in outputs:
        output.open(clock.now())
    for _ in range(3):
        clock.advance(0.025)
        for output in outputs:
            output.send_frame(clock.now(), dmx)
    assert np.array_equal(core.dmx, dmx)
    stats = core.statistics()
    assert (stats.malformed.total, stats.unrouted, stats.sequence_gaps, stats.torn_frames) == (
        0,
        0,
        0,
        0,
    )
    assert stats.frames_latched >= 3


def test_the_rigs_own_outputs_latch_each_frame_once(mini: VenueJob) -> None:
    """Art-Net (universes 1-2) and sACN (3) each sync on their own; one frame, two latches."""
    clock = ManualClock()
    core, outputs = _wired(mini, None, clock)
    assert [(r.protocol, r.universes) for r in core.routes] == [
        (Protocol.ARTNET, (1, 2)),
        (Protocol.SACN, (3,)),
    ]
    for k in range(20):
        clock.advance(0.025)
        dmx = _look(mini, 5.0 + k * 0.025)
        for output in outputs:
            output.send_frame(clock.now(), dmx)
        assert np.array_equal(core.dmx, dmx)
    stats = core.statistics()
    assert (stats.frames_latched, stats.latches, stats.torn_frames) == (20, 40, 0)
    assert stats.timing.measured_fps == pytest.approx(40.0)
    assert stats.timing.bunched == 0


def test_sacn_output_close_terminates_every_stream(mini: VenueJob) -> None:
    clock = ManualClock()
    core, outputs = _wired(mini, Protocol.SACN, clock)
    outputs[0].send_frame(0.0, _look(mini))
    outputs[0].close(0.1)
    stats = core.statistics()
    assert stats.stream_terminations == 3
    assert stats.released_universes == (1, 2, 3)


def test_enttec_output_writes_label_6_frames_into_the_core(mini: VenueJob) -> None:
    clock = ManualClock()
    core, outputs = _wired(mini, Protocol.ENTTEC, clock)
    dmx = _look(mini)
    outputs[0].open(0.0)
    outputs[0].send_frame(0.0, dmx)
    assert np.array_equal(core.dmx[0], dmx[0])
    assert core.statistics().packets.enttec == 1


def test_open_dmx_packets_are_framed_by_break_and_flush(mini: VenueJob) -> None:
    clock = ManualClock(autojump=True)
    routes = plan_routes(mini.plan.twin, protocol=Protocol.OPENDMX, target="/dev/sim0")
    core = SimulatorCore(twin=mini.plan.twin, patch=mini.patch, routes=routes, fps=40.0)
    port = SimSerialPort(SimByteSink(core, clock))
    output = OpenDmxOutput(
        name="dmx", device="/dev/sim0", row=0, clock=clock, opener=lambda d: port
    )
    dmx = _look(mini)
    output.send_frame(0.0, dmx)
    output.write_packet(clock.now())
    assert np.array_equal(core.dmx[0], dmx[0])
    assert core.statistics().packets.opendmx == 1


def test_datagram_sink_only_carries_datagram_protocols(mini: VenueJob) -> None:
    core = SimulatorCore(twin=mini.plan.twin, patch=mini.patch, routes=[], fps=40.0)
    with pytest.raises(ValueError, match="enttec"):
        SimDatagramSink(core, ManualClock(), "enttec")


def test_closed_serial_port_refuses_writes(mini: VenueJob) -> None:
    core = SimulatorCore(twin=mini.plan.twin, patch=mini.patch, routes=[], fps=40.0)
    port = SimSerialPort(SimByteSink(core, ManualClock()))
    port.close()
    with pytest.raises(ValueError, match="closed"):
        port.write(b"\x7e")


def test_received_picture_matches_the_renderer_preview(mini: VenueJob) -> None:
    clock = ManualClock()
    core, outputs = _wired(mini, Protocol.ARTNET, clock)
    outputs[0].send_frame(0.0, _look(mini))
    received = draw_received(core, mini.plan, title="t", subtitle="s", width=600)
    frame = mini.plan.new_frame()
    render(mini.plan, T, frame)
    look = appearance_from_frame(frame, mini.plan.elements, beam_mask(mini.plan))
    preview = MapView(mini.plan.twin, mini.plan.elements.positions, width=600).draw(
        look, title="t", subtitle="s"
    )
    assert received.size == preview.size
    diff = np.abs(np.asarray(received, np.int16) - np.asarray(preview, np.int16))
    assert diff.mean() < 0.05, "same look, same drawing code: only 8-bit rounding may differ"
    assert diff.max() <= 8


def test_draw_received_labels_what_arrived(mini: VenueJob) -> None:
    core = SimulatorCore(twin=mini.plan.twin, patch=mini.patch, routes=[], fps=40.0)
    image = draw_received(core, mini.plan, title="nothing yet", width=400)
    assert isinstance(image, Image.Image)
    assert image.width == 400
