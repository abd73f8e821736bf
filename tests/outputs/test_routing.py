"""Routes: `--output` overrides put every patched universe on the wire without collisions."""

from __future__ import annotations

import dataclasses
from functools import cache
from pathlib import Path

import pytest

from controller.clock import MonotonicClock
from controller.outputs.factory import build_outputs
from controller.outputs.routing import Route, describe_wire, plan_routes
from controller.runtime.job import load_venue
from controller.show.rig import OutputSpec, Protocol
from controller.show.twin import Twin
from tests.outputs.fakes import RecordingSink

ROOT = Path(__file__).resolve().parents[2]
SHOW = ROOT / "shows" / "digital-night.yaml"
MINI = ROOT / "tests" / "data" / "venue" / "shows" / "mini.yaml"
NETWORK = (Protocol.ARTNET, Protocol.SACN, Protocol.OSC)


@cache
def twin(show: Path, venue: str) -> Twin:
    return load_venue(show, venue).plan.twin


def mini(*outputs: dict[str, object]) -> Twin:
    """The mini venue (universes 1, 2, 3 patched) with other outputs in its rig."""
    specs = tuple(OutputSpec.model_validate(o) for o in outputs)
    return dataclasses.replace(twin(MINI, "mini"), outputs=specs)


def wire_map(routes: list[Route]) -> dict[int, int]:
    (route,) = routes
    return dict(zip(route.universes, route.wire, strict=True))


def test_lhasa_to_artnet_keeps_every_route_numbering() -> None:
    """Regression (issue #7 item 8): sACN 101 became Art-Net 1, which the gallery node uses."""
    routes = plan_routes(twin(SHOW, "lhasa"), protocol=Protocol.ARTNET, target="10.9.9.9")
    assert wire_map(routes) == {1: 101} | {u: u - 1 for u in range(2, 11)}
    assert routes[0].renumbered == ()


def test_singapore_to_artnet_renumbers_the_colliding_route_into_the_lowest_free_block() -> None:
    """sACN 1-12 (own numbers) would collide with Art-Net 12 of the ferry node."""
    routes = plan_routes(twin(SHOW, "singapore"), protocol=Protocol.ARTNET)
    assert wire_map(routes) == {u: u - 1 for u in range(1, 16)}
    assert routes[0].renumbered == tuple(range(1, 13))
    assert describe_wire(routes[0]) == "artnet: 1-12 -> 0-11 (renumbered), 13-15 -> 12-14"


@pytest.mark.parametrize("venue", ["beijing", "lhasa", "singapore"])
@pytest.mark.parametrize("protocol", NETWORK, ids=lambda p: p.value)
def test_every_sample_venue_maps_onto_every_network_protocol_without_collisions(
    venue: str, protocol: Protocol
) -> None:
    t = twin(SHOW, venue)
    (route,) = plan_routes(t, protocol=protocol, target="127.0.0.1:7000")
    assert route.universes == t.universes
    assert len(set(route.wire)) == len(route.wire)
    low, high = {Protocol.ARTNET: (0, 32767), Protocol.SACN: (1, 63999)}.get(protocol, (0, 99999))
    assert all(low <= w <= high for w in route.wire)


def test_the_rig_numbering_of_the_protocol_wins_then_each_route_keeps_its_own() -> None:
    t = mini(
        {"protocol": "artnet", "host": "10.0.0.1", "universes": "1-2", "port_address": 5},
        {"protocol": "sacn", "universes": 3, "sacn_universe": 40},
    )
    assert wire_map(plan_routes(t, protocol=Protocol.ARTNET)) == {1: 5, 2: 6, 3: 40}
    assert wire_map(plan_routes(t, protocol=Protocol.SACN)) == {1: 5, 2: 6, 3: 40}


def test_a_route_whose_numbers_collide_falls_back_to_its_own_universe_numbers() -> None:
    t = mini(
        {"protocol": "artnet", "host": "10.0.0.1", "universes": "1-2", "port_address": 5},
        {"protocol": "sacn", "universes": 3, "sacn_universe": 6},
    )
    (route,) = plan_routes(t, protocol=Protocol.ARTNET)
    assert wire_map([route]) == {1: 5, 2: 6, 3: 3}
    assert route.renumbered == (3,)
    assert describe_wire(route) == "artnet: 1-2 -> 5-6, 3 -> 3 (renumbered)"


def test_art_net_networks_that_reuse_port_addresses_are_told_apart_in_an_override() -> None:
    """Two /24s may both use Port-Address 0; one override target may not."""
    t = mini(
        {"protocol": "artnet", "host": "10.0.0.1", "universes": 1, "port_address": 0},
        {"protocol": "artnet", "host": "10.0.1.1", "universes": 2, "port_address": 0},
        {"protocol": "sacn", "universes": 3, "sacn_universe": 1},
    )
    (route,) = plan_routes(t, protocol=Protocol.ARTNET, target="127.0.0.1")
    assert wire_map([route]) == {1: 0, 2: 2, 3: 1}
    assert route.renumbered == (2,)


def test_sacn_never_gets_universe_0_and_art_net_never_past_32767() -> None:
    t = mini(
        {"protocol": "artnet", "host": "10.0.0.1", "universes": "1-3", "port_address": 0},
    )
    assert wire_map(plan_routes(t, protocol=Protocol.SACN)) == {1: 1, 2: 2, 3: 3}
    t = mini({"protocol": "sacn", "universes": "1-3", "sacn_universe": 40000})
    assert wire_map(plan_routes(t, protocol=Protocol.ARTNET)) == {1: 1, 2: 2, 3: 3}


def test_without_an_override_the_rig_numbering_is_kept() -> None:
    routes = plan_routes(twin(SHOW, "lhasa"))
    assert [(r.protocol, r.wire) for r in routes] == [
        (Protocol.SACN, (101,)),
        (Protocol.ARTNET, (1, 2, 3, 4, 5, 6)),
        (Protocol.ARTNET, (7, 8, 9)),
    ]
    assert all(r.renumbered == () for r in routes)


@pytest.mark.parametrize("protocol", [Protocol.ENTTEC, Protocol.OPENDMX], ids=lambda p: p.value)
def test_a_serial_override_carries_the_first_universe_to_the_target_device(
    protocol: Protocol,
) -> None:
    (route,) = plan_routes(twin(SHOW, "lhasa"), protocol=protocol, target="/dev/pts/9")
    assert (route.universes, route.wire, route.device) == ((1,), (1,), "/dev/pts/9")


def test_an_osc_route_keeps_its_datagram_limit() -> None:
    t = mini({"protocol": "osc", "host": "10.0.0.8", "universes": "1-3", "max_datagram": 9000})
    (route,) = plan_routes(t)
    assert route.max_datagram == 9000
    (override,) = plan_routes(t, protocol=Protocol.OSC, target="127.0.0.1:9001")
    assert override.max_datagram == 9000


def test_a_target_that_merges_two_art_net_networks_renumbers_what_would_collide() -> None:
    """`--target` puts every Art-Net route on one network, where Port-Address 0 fits once."""
    t = mini(
        {"protocol": "artnet", "host": "10.0.0.1", "universes": 1, "port_address": 0},
        {"protocol": "artnet", "host": "10.0.1.1", "universes": 2, "port_address": 0},
        {"protocol": "sacn", "universes": 3, "sacn_universe": 1},
    )
    first, second, third = plan_routes(t, target="127.0.0.1:7000")
    assert (first.wire, first.renumbered) == ((0,), ())
    assert (second.wire, second.renumbered) == ((2,), (2,))
    assert (third.protocol, third.wire) == (Protocol.SACN, (1,))
    assert {r.host for r in (first, second, third)} == {"127.0.0.1"}
    build_outputs(
        [first, second, third], (1, 2, 3), venue="mini", show_name="Mini",
        clock=MonotonicClock(), fps=40, sinks=lambda r: RecordingSink(),
    )  # fmt: skip
