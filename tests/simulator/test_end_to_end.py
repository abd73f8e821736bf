"""Render the mini venue, send it with ArtNetSender over loopback, compare what latched."""

from __future__ import annotations

import asyncio
import socket

import numpy as np
import pytest

from controller.cli.common import VenueJob
from controller.outputs.routing import plan_routes
from controller.protocols import artnet
from controller.render.renderer import render
from controller.show.rig import Protocol
from controller.testing import ManualClock
from simulator.core import SimulatorCore
from simulator.listeners import Simulator

pytestmark = pytest.mark.network

TIMES = (0.0, 5.5, 6.0, 7.25, 9.9)  # dark, then floods and the pixel chase


async def test_rendered_show_arrives_byte_exact_and_decodes_back(mini: VenueJob) -> None:
    plan, patch = mini.plan, mini.patch
    routes = plan_routes(plan.twin, protocol=Protocol.ARTNET)  # numbering only; no port yet
    core = SimulatorCore(twin=plan.twin, patch=patch, routes=routes, fps=float(plan.fps))
    clock = ManualClock()
    async with Simulator(core=core, clock=clock, sacn_port=None, osc_port=None) as sim:
        (route,) = plan_routes(
            plan.twin, protocol=Protocol.ARTNET, target=f"127.0.0.1:{sim.artnet_port}"
        )
        assert route.wire == routes[0].wire
        node = (route.host or "", route.port or 0)
        sender = artnet.ArtNetSender(
            targets=dict.fromkeys(route.wire, node), sync_address=node, mode="constant"
        )
        frame, dmx, sent = plan.new_frame(), patch.new_output(), 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            for k, t in enumerate(TIMES):
                render(plan, t, frame)
                patch.apply(frame, dmx)
                rows = patch.universes
                by_wire = {
                    w: dmx[rows.index(u)] for u, w in zip(route.universes, route.wire, strict=True)
                }
                clock.advance(1.0 / plan.fps)
                datagrams = sender.frame(clock.now(), by_wire)
                for d in datagrams:
                    tx.sendto(d.data, d.address)
                sent += len(datagrams)
                async with asyncio.timeout(5):
                    await sim.wait_received(sent)
                assert np.array_equal(core.dmx, dmx), f"t={t}: latched bytes differ"
                decoded = core.frame(plan.new_frame())
                again = patch.apply(decoded, patch.new_output())
                assert np.array_equal(again, dmx), f"t={t}: decode -> apply is not the identity"
                assert k == 0 or dmx.any()
    stats = core.statistics()
    assert (stats.malformed.total, stats.unrouted, stats.sequence_gaps) == (0, 0, 0)
    assert (stats.torn_frames, stats.out_of_order) == (0, 0)
    assert stats.frames_latched == len(TIMES)
    assert stats.timing.measured_fps == pytest.approx(plan.fps)
