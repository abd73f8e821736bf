"""L6 build a venue's outputs from its routes, with the sinks the caller chooses."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from controller.attributes import Attribute
from controller.clock import Clock
from controller.compile.plan import VenuePlan
from controller.outputs.artnet_node import ArtNetNode
from controller.outputs.base import DatagramSink, Output
from controller.outputs.network import (
    ArtNetOutput,
    SacnOutput,
    artnet_sync_address,
    directed_broadcast,
    route_rows,
)
from controller.outputs.osc_output import OscAttributes, OscOutput
from controller.outputs.routing import DEFAULT_PORTS, Route
from controller.outputs.serial_dmx import EnttecOutput, OpenDmxOutput, SerialPort
from controller.outputs.udp import UdpSink, local_address_toward
from controller.patch.patcher import Patch
from controller.protocols.artnet_reply import NodeIdentity
from controller.show.rig import Protocol

__all__ = ["SinkFactory", "build_outputs", "osc_attributes", "udp_sinks"]

SinkFactory = Callable[[Route], DatagramSink]


def udp_sinks(interface: str | None = None) -> SinkFactory:
    """Real UDP sockets; multicast leaves by `interface` (an IPv4 address; None: the OS's choice).

    Art-Net gets a socket bound to UDP 6454 (Art-Net 4: source and destination port), with
    broadcast allowed for ArtSync; see `controller.outputs.udp` for sharing the port.
    """

    def make(route: Route) -> DatagramSink:
        if route.protocol is Protocol.ARTNET:
            return UdpSink(
                multicast_interface=interface,
                broadcast=True,
                bind_port=DEFAULT_PORTS[Protocol.ARTNET],
            )
        return UdpSink(multicast_interface=interface)

    return make


def _artnet_group(route: Route) -> object:
    """Art-Net routes merge per ArtSync destination; routes without sync per network."""
    sync = artnet_sync_address(route)
    if sync is not None:
        return sync
    return ("no sync", route.broadcast or directed_broadcast(route.host or "127.0.0.1"))


def osc_attributes(route: Route, plan: VenuePlan, patch: Patch) -> OscAttributes:
    """The head-channel attributes of every fixture patched to `route` (pixel cells are
    left to blob mode: thousands of per-cell messages would swamp a receiver)."""
    wanted = set(route.universes)
    names: list[tuple[str, str]] = []
    flat: list[int] = []
    n = plan.elements.n
    for index, fx in enumerate(plan.twin.fixtures):
        if not any(seg.universe in wanted for seg in fx.segments):
            continue
        element = int(plan.elements.first[index])
        for ch in fx.mode.channels:
            if ch.attribute in ("fixed", "unused"):
                continue
            names.append((fx.id, ch.attribute))
            flat.append(int(Attribute.from_key(ch.attribute)) * n + element)
    buffer = plan.new_frame()
    return OscAttributes(
        decode=lambda dmx: patch.decode(dmx, buffer),
        names=tuple(names),
        flat=np.array(flat, dtype=np.intp),
    )


def _artnet_outputs(
    groups: list[list[Route]],
    universes: Sequence[int],
    sinks: SinkFactory,
    show_name: str,
    venue: str,
) -> list[Output]:
    """One output per group, all on one sink, with one node answering ArtPoll for them."""
    if not groups:
        return []
    sink = sinks(groups[0][0])
    node = ArtNetNode(
        sink=sink,
        identity=NodeIdentity(short_name="citypulse", long_name=f"citypulse {show_name} {venue}"),
        local_ip=local_address_toward if isinstance(sink, UdpSink) else None,
    )
    return [
        ArtNetOutput(
            name=f"artnet[{i + 1}]", routes=group, universes=universes, sink=sink, node=node
        )
        for i, group in enumerate(groups)
    ]


def build_outputs(
    routes: Sequence[Route],
    universes: Sequence[int],
    *,
    venue: str,
    show_name: str,
    clock: Clock,
    fps: float,
    sinks: SinkFactory | None = None,
    serial_opener: Callable[[str], SerialPort] | None = None,
    paced_serial: bool = True,
    venue_plan: tuple[VenuePlan, Patch] | None = None,
    wall_offset: float = 0.0,
) -> list[Output]:
    """Outputs for `routes` (Art-Net and sACN routes merged per sync domain).

    Every Art-Net output shares one sink (one socket on UDP 6454) and one `ArtNetNode`
    answering ArtPoll for all of them. `venue_plan` (plan and patch) is needed for OSC
    routes in `attributes` mode; `wall_offset` (Unix time minus clock time) stamps OSC
    bundles with wall-clock times.
    """
    sinks = sinks or udp_sinks()
    outputs: list[Output] = []
    artnet_groups: dict[object, list[Route]] = {}
    sacn_groups: dict[int, list[Route]] = {}
    for route in routes:
        if route.protocol is Protocol.ARTNET:
            artnet_groups.setdefault(_artnet_group(route), []).append(route)
        elif route.protocol is Protocol.SACN:
            sacn_groups.setdefault(route.priority, []).append(route)
    outputs += _artnet_outputs(list(artnet_groups.values()), universes, sinks, show_name, venue)
    for i, group in enumerate(sacn_groups.values()):
        outputs.append(
            SacnOutput(
                name=f"sacn[{i + 1}]",
                routes=group,
                universes=universes,
                sink=sinks(group[0]),
                source_name=f"citypulse {show_name} {venue}",
            )
        )
    for i, route in enumerate(routes):
        rows = route_rows(route, universes)
        name = f"{route.protocol.value}[{i + 1}]"
        if route.protocol is Protocol.OSC:
            attributes = None
            if route.osc_mode == "attributes":
                if venue_plan is None:
                    msg = f"{name}: OSC attributes mode needs the venue's plan and patch"
                    raise ValueError(msg)
                attributes = osc_attributes(route, *venue_plan)
            outputs.append(
                OscOutput(
                    name=name,
                    route=route,
                    rows=rows,
                    sink=sinks(route),
                    venue=venue,
                    wall_offset=wall_offset,
                    attributes=attributes,
                )
            )
        elif route.protocol is Protocol.ENTTEC:
            outputs.append(
                EnttecOutput(
                    name=name, device=route.device or "", row=int(rows[0]), opener=serial_opener
                )
            )
        elif route.protocol is Protocol.OPENDMX:
            outputs.append(
                OpenDmxOutput(
                    name=name,
                    device=route.device or "",
                    row=int(rows[0]),
                    clock=clock,
                    fps=min(fps, 44.0),
                    opener=serial_opener,
                    paced=paced_serial,
                )
            )
    return outputs
