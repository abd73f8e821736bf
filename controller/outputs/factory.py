"""L6 build a venue's outputs from its routes, with the sinks the caller chooses."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from controller.clock import Clock
from controller.outputs.base import DatagramSink, Output
from controller.outputs.network import (
    ArtNetOutput,
    OscOutput,
    SacnOutput,
    artnet_sync_address,
    route_rows,
)
from controller.outputs.routing import Route
from controller.outputs.serial_dmx import EnttecOutput, OpenDmxOutput, SerialPort
from controller.outputs.udp import UdpSink, is_loopback
from controller.show.rig import Protocol

__all__ = ["SinkFactory", "build_outputs", "udp_sinks"]

SinkFactory = Callable[[Route], DatagramSink]


def udp_sinks(interface: str | None = None) -> SinkFactory:
    """Real UDP sockets; multicast leaves by `interface` (an IPv4 address; None: the OS's choice)."""

    def make(route: Route) -> DatagramSink:
        host = route.host or "127.0.0.1"
        return UdpSink(
            multicast_interface=interface,
            broadcast=route.protocol is Protocol.ARTNET and not is_loopback(host),
        )

    return make


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
) -> list[Output]:
    sinks = sinks or udp_sinks()
    outputs: list[Output] = []
    artnet_groups: dict[object, list[Route]] = {}
    sacn_groups: dict[int, list[Route]] = {}
    for route in routes:
        if route.protocol is Protocol.ARTNET:
            artnet_groups.setdefault(artnet_sync_address(route), []).append(route)
        elif route.protocol is Protocol.SACN:
            sacn_groups.setdefault(route.priority, []).append(route)
    for i, group in enumerate(artnet_groups.values()):
        outputs.append(
            ArtNetOutput(
                name=f"artnet[{i + 1}]", routes=group, universes=universes, sink=sinks(group[0])
            )
        )
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
            outputs.append(
                OscOutput(name=name, route=route, rows=rows, sink=sinks(route), venue=venue)
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
