"""L6 routes: which of a venue's universes go out on which protocol, to where, as what.

Both the controller (to send) and the simulator (to map what arrives back onto the rig)
build routes with `plan_routes`, so they always agree on wire numbering.

Rules:
- Without an override, each rig output is one route, numbered as the rig says.
- With `--output PROTOCOL` (Art-Net, sACN, OSC), every patched universe goes out on that
  protocol in one route, numbered without collisions, deterministically, the way the rig
  numbers them wherever it can:
  1. the universes the rig already sends on PROTOCOL keep their numbers (the nodes are set
     up for them);
  2. then, output by output in rig order (patched universes no output sends come last, as
     one more), each output's universes keep that output's own numbers (an sACN output's
     sACN universes, an Art-Net output's Port-Addresses, the universe itself for OSC and
     serial) when all of them are free and in PROTOCOL's range; else their own universe
     numbers, if all of those are; else the lowest free block of as many numbers (or,
     past fragmentation, the lowest free numbers one by one).
  Universes that do not keep their output's numbers are listed in `Route.renumbered`;
  `describe_wire` prints the map.
- With `--output enttec|opendmx`, the route carries the first patched universe (a widget
  carries one universe) to the device `--target` names.
- `--target host[:port]` replaces every network destination (Art-Net, sACN unicast, OSC);
  for serial outputs it names the device. Routes it brings onto one network that would
  collide (Art-Net Port-Address 0 used on two /24s) are renumbered as overrides are.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.show.rig import OutputSpec, Protocol
from controller.show.twin import Twin

__all__ = [
    "DEFAULT_PORTS",
    "OSC_MAX_DATAGRAM",
    "WIRE_RANGE",
    "Route",
    "describe_wire",
    "parse_target",
    "plan_routes",
]

DEFAULT_PORTS = {Protocol.ARTNET: 6454, Protocol.SACN: 5568, Protocol.OSC: 9000}
OSC_MAX_DATAGRAM = 1472  # the UDP payload of one 1500-byte Ethernet frame (no IP fragments)
WIRE_RANGE = {
    Protocol.ARTNET: (0, 32767),  # Art-Net 4: 15-bit Port-Address
    Protocol.SACN: (1, 63999),  # E1.31: universes 1..63999
    Protocol.OSC: (0, 2**31 - 1),  # ours: the number in an OSC address
}


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
    max_datagram: int = OSC_MAX_DATAGRAM  # OSC: bytes per bundle datagram
    broadcast: str | None = None
    sync: bool = True
    renumbered: tuple[int, ...] = ()  # ours, numbered by an override away from the rig's numbers


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
        max_datagram=spec.max_datagram,
        broadcast=spec.broadcast,
        sync=spec.sync,
    )


def plan_routes(
    twin: Twin, *, protocol: Protocol | None = None, target: str | None = None
) -> list[Route]:
    """Routes for a venue (see the module rules). Raises ValueError for a bad target."""
    host, port = parse_target(target) if target else (None, None)
    if protocol is None:
        patched = set(twin.universes)
        routes = [_route(o, tuple(u for u in o.universes if u in patched)) for o in twin.outputs]
        routes = [r for r in routes if r.universes]
    elif protocol in (Protocol.ENTTEC, Protocol.OPENDMX):
        first = next((o for o in twin.outputs if o.protocol is protocol), None)
        device = target or (first.device if first else None)
        routes = [
            Route(protocol=protocol, universes=(u,), wire=(u,), device=device)
            for u in twin.universes[:1]
        ]
    else:
        routes = [_override(twin, protocol)]
    if host is None:
        return routes
    out = []
    for r in routes:
        if r.protocol in (Protocol.ENTTEC, Protocol.OPENDMX):
            out.append(_replace(r, device=target))
        else:
            out.append(_replace(r, host=host, port=port or r.port, multicast=False, broadcast=None))
    return _separate(out) if protocol is None else out


def _separate(routes: list[Route]) -> list[Route]:
    """Routes `--target` aimed at one network: a wire number the rig uses on two networks
    (Art-Net Port-Address 0 on two /24s) would now collide; later routes give way, as
    numbers are chosen for an override."""
    taken: dict[Protocol, set[int]] = {}
    out = []
    for r in routes:
        if r.protocol not in WIRE_RANGE:
            out.append(r)
            continue
        used = taken.setdefault(r.protocol, set())
        wire, moved = _numbers(list(r.universes), list(r.wire), used, *WIRE_RANGE[r.protocol])
        used.update(wire)
        renumbered = r.universes if moved else r.renumbered
        out.append(_replace(r, wire=tuple(wire), renumbered=renumbered))
    return out


def _override(twin: Twin, protocol: Protocol) -> Route:
    """Every patched universe on `protocol`, numbered as the module rules say."""
    patched = set(twin.universes)
    ours = [o for o in twin.outputs if o.protocol is protocol]
    groups = [*ours, *(o for o in twin.outputs if o.protocol is not protocol)]
    lo, hi = WIRE_RANGE[protocol]
    wire: dict[int, int] = {}
    renumbered: list[int] = []
    taken: set[int] = set()
    unrouted = [u for u in sorted(patched) if all(u not in o.universes for o in groups)]
    chunks = [[(u, o.wire_universe(u)) for u in o.universes if u in patched] for o in groups]
    for chunk in [*chunks, [(u, u) for u in unrouted]]:
        mine = [u for u, _ in chunk if u not in wire]
        own = [w for u, w in chunk if u not in wire]
        numbers, moved = _numbers(mine, own, taken, lo, hi)
        wire.update(zip(mine, numbers, strict=True))
        taken.update(numbers)
        renumbered += mine if moved else []
    universes = tuple(sorted(wire))
    first = ours[0] if ours else None
    return Route(
        protocol=protocol,
        universes=universes,
        wire=tuple(wire[u] for u in universes),
        host=first.host if first else None,
        port=first.port if first else None,
        multicast=protocol is Protocol.SACN and (first.multicast if first else True),
        priority=first.priority if first else 100,
        max_datagram=first.max_datagram if first else OSC_MAX_DATAGRAM,
        renumbered=tuple(sorted(renumbered)),
    )


def _free(numbers: list[int], taken: set[int], lo: int, hi: int) -> bool:
    unique = len(set(numbers)) == len(numbers)
    return unique and all(lo <= n <= hi and n not in taken for n in numbers)


def _numbers(
    universes: list[int], own: list[int], taken: set[int], lo: int, hi: int
) -> tuple[list[int], bool]:
    """Numbers for a group whose rig numbering is not free: (numbers, renumbered)."""
    if _free(own, taken, lo, hi):
        return own, False
    if _free(universes, taken, lo, hi):
        return list(universes), universes != own
    n, start = len(universes), lo
    while start + n - 1 <= hi:
        clash = [w for w in range(start, start + n) if w in taken]
        if not clash:
            return list(range(start, start + n)), True
        start = max(clash) + 1
    free = (w for w in range(lo, hi + 1) if w not in taken)
    return [next(free) for _ in universes], True


def describe_wire(route: Route) -> str:
    """The route's wire map in runs: `artnet: 1-12 -> 0-11 (renumbered), 13-15 -> 12-14`."""
    runs: list[list[tuple[int, int]]] = []
    moved = set(route.renumbered)
    for u, w in zip(route.universes, route.wire, strict=True):
        last = runs[-1][-1] if runs else None
        if last and u == last[0] + 1 and w == last[1] + 1 and (u in moved) == (last[0] in moved):
            runs[-1].append((u, w))
        else:
            runs.append([(u, w)])
    parts = []
    for run in runs:
        (u0, w0), (u1, w1) = run[0], run[-1]
        text = f"{u0} -> {w0}" if len(run) == 1 else f"{u0}-{u1} -> {w0}-{w1}"
        parts.append(text + (" (renumbered)" if u0 in moved else ""))
    return f"{route.protocol.value}: " + ", ".join(parts)


def _replace(route: Route, **changes: object) -> Route:
    from dataclasses import replace

    return replace(route, **changes)  # type: ignore[arg-type]
