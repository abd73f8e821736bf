"""End to end: the engine and the real Art-Net / sACN outputs into the simulator.

Over real loopback sockets (marker `network`): the simulator's listeners run in the
test's event loop, the engine ticks at virtual times without sleeping, and after each
frame the test waits (bounded) until every datagram addressed to the simulator arrived,
then compares what the simulator latched with the bytes the engine patched. Also the
`citypulse run --output sim --virtual` pipeline, in process.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from controller.cli import main
from controller.clock import MonotonicClock
from controller.errors import TransportError
from controller.outputs.factory import build_outputs
from controller.outputs.routing import Route, plan_routes
from controller.outputs.udp import UdpSink
from controller.runtime.engine import Engine
from controller.runtime.job import VenueJob
from controller.show.rig import Protocol
from controller.testing import ManualClock
from simulator.core import SimulatorCore
from simulator.listeners import Simulator
from simulator.recorder import read_recording
from tests.runtime.fakes import MINI
from tests.runtime.helpers import playing

LOOPBACK = "127.0.0.1"
FRAMES = 40
WAIT_S = 5.0


class CountingSink:
    """A real UdpSink that also counts the datagrams sent to the simulator's ports."""

    def __init__(self, ports: set[int]) -> None:
        self.udp = UdpSink(multicast_interface=LOOPBACK)  # multicast never leaves the host
        self.ports = ports
        self.to_simulator = 0

    @property
    def errors(self) -> int:
        return self.udp.errors

    @property
    def last_error(self) -> str | None:
        return self.udp.last_error

    def open(self) -> None:
        self.udp.open()

    def sendto(self, data: bytes, address: tuple[str, int]) -> None:
        self.udp.sendto(data, address)
        self.to_simulator += address[1] in self.ports

    def close(self) -> None:
        self.udp.close()


def controller_routes(job: VenueJob, sim: Simulator, *, multicast: bool) -> list[Route]:
    """The rig's routes re-aimed at the simulator's ephemeral ports."""
    twin = job.plan.twin
    routes = [
        r
        for r in plan_routes(twin, target=f"{LOOPBACK}:{sim.artnet_port}")
        if r.protocol is Protocol.ARTNET
    ]
    if multicast:  # keep the rig's multicast sACN, on the simulator's port
        routes += [
            dataclasses.replace(r, port=sim.sacn_port)
            for r in plan_routes(twin)
            if r.protocol is Protocol.SACN
        ]
    else:
        routes += [
            r
            for r in plan_routes(twin, target=f"{LOOPBACK}:{sim.sacn_port}")
            if r.protocol is Protocol.SACN
        ]
    return routes


@pytest.mark.network
@pytest.mark.parametrize("multicast", [False, True], ids=["sacn-unicast", "sacn-multicast"])
async def test_every_engine_frame_latches_byte_exact_in_the_simulator(
    mini: VenueJob, multicast: bool
) -> None:
    plan, patch = mini.plan, mini.patch
    rig = plan_routes(plan.twin)
    assert {r.protocol for r in rig} == {Protocol.ARTNET, Protocol.SACN}
    assert any(r.multicast for r in rig if r.protocol is Protocol.SACN)
    core = SimulatorCore(twin=plan.twin, patch=patch, routes=rig, fps=float(plan.fps))
    latched: list[tuple[int, bytes]] = []
    core.on_latch = lambda _t, universe, data: latched.append((universe, data))
    simulator = Simulator(core=core, clock=MonotonicClock(), osc_port=None)
    try:
        await simulator.__aenter__()
    except TransportError as exc:
        pytest.skip(f"cannot listen on loopback here: {exc}")
    try:
        ports = {simulator.artnet_port, simulator.sacn_port}
        sinks: list[CountingSink] = []

        def make_sink(_: Route) -> CountingSink:
            sinks.append(CountingSink(ports))
            return sinks[-1]

        clock = ManualClock()
        outputs = build_outputs(
            controller_routes(mini, simulator, multicast=multicast), patch.universes,
            venue=plan.venue, show_name=mini.loaded.show.name, clock=clock, fps=plan.fps,
            sinks=make_sink,
        )  # fmt: skip
        assert sorted(o.name for o in outputs) == ["artnet[1]", "sacn[1]"]
        playback = playing(mini, at=5.5)  # past the hold: floods red, the pixel chase moving
        engine = Engine(plan=plan, patch=patch, playback=playback, outputs=outputs)
        engine.open(0.0)
        changed = 0
        previous = patch.new_output()
        for k in range(FRAMES):
            clock.jump_to(k / plan.fps)
            expected = engine.tick(k).dmx.copy()
            latched.clear()
            try:
                async with asyncio.timeout(WAIT_S):
                    await simulator.wait_received(sum(s.to_simulator for s in sinks))
            except TimeoutError:
                if multicast and k == 0 and simulator.received == 0:
                    pytest.skip("multicast on loopback is not delivered on this machine")
                raise
            assert np.array_equal(core.dmx, expected), f"frame {k}: latched bytes differ"
            assert sorted(u for u, _ in latched) == [1, 2, 3], f"frame {k}: {latched}"
            changed += not np.array_equal(previous, expected)
            previous = expected
        engine.close(clock.now())  # sACN: stream-terminated packets
        async with asyncio.timeout(WAIT_S):
            await simulator.wait_received(sum(s.to_simulator for s in sinks))
    finally:
        await simulator.__aexit__(None, None, None)
    assert changed >= FRAMES - 1  # the chase moves every frame: no frame compared twice
    assert all(s.errors == 0 for s in sinks)
    stats = core.statistics()
    assert (stats.malformed.total, stats.unrouted, stats.sequence_gaps) == (0, 0, 0)
    assert (stats.torn_frames, stats.out_of_order) == (0, 0)
    assert stats.frames_latched == FRAMES
    assert stats.packets.sacn == 2 * FRAMES + 3  # data + sync per frame, 3 x terminated
    assert (stats.stream_terminations, stats.released_universes) == (1, (3,))


def test_citypulse_run_into_the_simulator_in_virtual_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record, preview = tmp_path / "run.cprec", tmp_path / "received.png"
    code = main(
        [
            "run", str(MINI), "--venue", "mini", "--output", "sim", "--virtual", "--go",
            "--auto-go", "--duration", "12", "--json", "--record", str(record),
            "--preview", str(preview),
        ]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(out)
    # ticks 0..480 (12 s at 40 fps, both ends) and the closing blackout frame
    assert report["frames_sent"] == 12 * 40 + 1 + 1
    assert (report["frames_dropped"], report["late_frames"]) == (0, 0)
    assert "error" not in report
    assert report["state"] == "running"
    # 12 s of clock: frames 0..200 reach the hold on tick 200; held 2 s (--hold-wait), the
    # auto-go executes on tick 281, so tick 480 shows frame 200 + 199
    assert report["position_s"] == 399 / 40
    sim = report["simulator"]
    assert sim["frames_latched"] == report["frames_sent"]
    assert (sim["malformed"], sim["sequence_gaps"], sim["torn_frames"]) == (0, 0, 0)
    assert all(o["errors"] == 0 for o in report["outputs"])
    header, records = read_recording(record)
    assert (header.venue, header.fps, header.universes) == ("mini", 40, (1, 2, 3))
    rows = list(records)
    assert len(rows) == 3 * report["frames_sent"]
    assert {r.universe for r in rows} == {1, 2, 3}
    assert any(any(r.data) for r in rows)  # something was lit
    assert not any(any(r.data) for r in rows[-2:] if r.universe != 1)  # it ends black
    with Image.open(preview) as image:
        assert image.format == "PNG"
        assert image.width > 0
        assert image.height > 0
