"""L6 routes: which of a venue's universes go out on which protocol, to where, as what.

Both the controller (to send) and the simulator (to map what arrives back onto the rig)
build routes with `plan_routes`, so they always agree on wire numbering.

Rules:
- Without an override, each rig output is one route, numbered as the rig says.
- With `--output PROTOCOL`, every patched universe goes out on that protocol: universes the
  rig already sends on it keep their numbers; the others use their own universe number.
- `--target host[:port]` replaces every network destination (Art-Net, sACN unicast, OSC);
  for serial outputs it names the device.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.show.rig import OutputSpec, Protocol
from controller.show.twin import Twin

__all__ = ["DEFAULT_PORTS", "Route", "parse_target", "plan_routes"]

DEFAULT_PORTS = {Protocol.ARTNET: 6454, Protocol.SACN: 5568, Protocol.OSC: 9000}


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    protocol: Protocol
    universes: tuple[int, ...]  # ours, ascending
    wire: tuple[int, ...]  # the protocol's universe numbers, same order
    host: str | None = None
    port: int | None = None
    multicast: bool = False
    priority: int = 100
    device: str | None = None
    osc_address: str = "/citypulse/{venue}/{universe}"
    osc_mode: str = "blob"
    broadcast: str | None = None
    sync: bool = True


def parse_target(text: str) -> tuple[str, int | None]:
    """`host`, `host:port` or `[v6]:port`; raises ValueError with what is allowed."""
    host, port = text, None
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            msg = f"target {text!r}: unclosed '[' (use [v6-address]:port)"
            raise ValueError(msg)
        host, rest = text[1:end], text[end + 1 :]
        if rest:
            port = _port(text, rest.removeprefix(":"))
    elif text.count(":") == 1:
        host, raw = text.split(":")
        port = _port(text, raw)
    if not host:
        msg = f"target {text!r}: empty host"
        raise ValueError(msg)
    return host, port


def _port(text: str, raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        msg = f"target {text!r}: port must be 1..65535"
        raise ValueError(msg)
    return int(raw)


def _route(spec: OutputSpec, universes: tuple[int, ...]) -> Route:
    return Route(
        protocol=spec.protocol,
        universes=universes,
        wire=tuple(spec.wire_universe(u) for u in universes),
        host=spec.host,
        port=spec.port,
        multicast=spec.multicast and spec.protocol is Protocol.SACN,
        priority=spec.priority,
        device=spec.device,
        osc_address=spec.address,
        osc_mode=spec.osc_mode,
        broadcast=spec.broadcast,
        sync=spec.sync,
    )


def plan_routes(
    twin: Twin, *, protocol: Protocol | None = None, target: str | None = None
) -> list[Route]:
    """Routes for a venue. Raises ValueError for a bad target."""
    patched = set(twin.universes)
    host, port = parse_target(target) if target else (None, None)
    if protocol is None:
        routes = [_route(o, tuple(u for u in o.universes if u in patched)) for o in twin.outputs]
        routes = [r for r in routes if r.universes]
    else:
        same = {u: o for o in twin.outputs if o.protocol is protocol for u in o.universes}
        universes = tuple(sorted(patched))
        wire = tuple(same[u].wire_universe(u) if u in same else u for u in universes)
        first = next(iter(same.values()), None)
        routes = [
            Route(
                protocol=protocol,
                universes=universes,
                wire=wire,
                host=first.host if first else None,
                port=first.port if first else None,
                multicast=protocol is Protocol.SACN and (first.multicast if first else True),
                priority=first.priority if first else 100,
                device=first.device if first else None,
            )
        ]
        if protocol in (Protocol.ENTTEC, Protocol.OPENDMX):
            routes = [
                Route(
                    protocol=protocol,
                    universes=(u,),
                    wire=(u,),
                    device=target or (first.device if first else None),
                )
                for u in universes[:1]
            ]
    if host is None:
        return routes
    out = []
    for r in routes:
        if r.protocol in (Protocol.ENTTEC, Protocol.OPENDMX):
            out.append(_replace(r, device=target))
        else:
            out.append(_replace(r, host=host, port=port or r.port, multicast=False, broadcast=None))
    return out


def _replace(route: Route, **changes: object) -> Route:
    from dataclasses import replace

    return replace(route, **changes)  # type: ignore[arg-type]
