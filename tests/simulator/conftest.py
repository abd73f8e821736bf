"""Simulator test fixtures: the mini venue and cores routed per protocol."""

from __future__ import annotations

import pytest

from controller.cli.common import VenueJob, load_venue
from controller.outputs.routing import plan_routes
from controller.show.rig import Protocol
from simulator.core import LatchCallback, SimulatorCore
from tests.simulator.helpers import MINI, MakeCore


@pytest.fixture(scope="session")
def mini() -> VenueJob:
    return load_venue(MINI, None)


@pytest.fixture
def make_core(mini: VenueJob) -> MakeCore:
    """`make_core(protocol)`: a core whose routes carry every universe on `protocol`."""

    def make(
        protocol: Protocol | None = Protocol.ARTNET,
        *,
        fps: float = 40.0,
        sync_timeout_s: float = 4.0,
        on_latch: LatchCallback | None = None,
    ) -> SimulatorCore:
        target = "/dev/sim0" if protocol in (Protocol.ENTTEC, Protocol.OPENDMX) else None
        return SimulatorCore(
            twin=mini.plan.twin,
            patch=mini.patch,
            routes=plan_routes(mini.plan.twin, protocol=protocol, target=target),
            fps=fps,
            sync_timeout_s=sync_timeout_s,
            on_latch=on_latch,
        )

    return make
