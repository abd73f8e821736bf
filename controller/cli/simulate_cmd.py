"""L8 `citypulse simulate`: the wire-level simulator as a stand-alone receiver."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from controller.cli import validators
from controller.cli.common import ArgumentError, load_venue
from controller.clock import MonotonicClock
from controller.files import write_atomic
from controller.outputs.routing import describe_wire, plan_routes
from controller.show.rig import Protocol

__all__ = ["register"]

LISTEN = ("artnet", "sacn", "osc", "enttec", "opendmx")
ROUTES = ("rig", "artnet", "sacn", "osc", "enttec", "opendmx")  # the rig's, or `run --output`


def register(sub: Any) -> None:
    p = sub.add_parser(
        "simulate",
        help="receive Art-Net / sACN / OSC / ENTTEC / Open DMX on loopback and show what each "
        "fixture does",
        description="Run the wire-level simulator for one venue: listen on HOST for the "
        "protocols in --listen (sACN multicast groups are joined on HOST too; 'enttec' "
        "opens a pty that behaves like an ENTTEC DMX USB Pro, 'opendmx' one that behaves "
        "like an Open DMX line, and prints their paths), latch universes on sync, count "
        "gaps, torn frames and jitter, record, and draw what arrived. --routes names the "
        "wire numbering: the rig's, or that of `citypulse run --output PROTOCOL`.",
    )
    p.add_argument(
        "show", type=Path, metavar="SHOW", help="the show whose venue rig maps universes"
    )
    p.add_argument("--venue", help="venue id (required when the show has several)")
    p.add_argument("--listen", default="artnet,sacn,osc", help="comma list of " + ", ".join(LISTEN))
    p.add_argument(
        "--routes",
        choices=ROUTES,
        default="rig",
        help="wire numbering to expect: the rig's, or a `run --output` override",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--artnet-port", type=int, default=6454)
    p.add_argument("--sacn-port", type=int, default=5568)
    p.add_argument("--osc-port", type=int, default=9000)
    p.add_argument("--duration", type=float, help="stop after this many seconds (default: Ctrl-C)")
    p.add_argument("--record", type=Path, help="record every latched universe to this file")
    p.add_argument("--preview", type=Path, help="draw what arrived, at the end (PNG)")
    p.add_argument("--json", action="store_true", help="print the final statistics as JSON")
    p.add_argument(
        "--ready-file",
        type=Path,
        help="once listening, write where as JSON (ports and the ENTTEC pty; for scripts)",
    )
    p.set_defaults(handler=run)


def _listen(text: str) -> set[str]:
    wanted = {s.strip() for s in text.split(",") if s.strip()}
    bad = sorted(wanted - set(LISTEN))
    if bad or not wanted:
        raise ArgumentError(
            "--listen", f"{bad[0] if bad else text!r} is not one of {', '.join(LISTEN)}"
        )
    return wanted


def _check_args(args: argparse.Namespace) -> None:
    """Check every option before anything loads; `args.host` becomes an IPv4 address."""
    validators.input_file(args.show, "SHOW")
    args.host = validators.host(args.host, "--host")
    for opt in ("artnet_port", "sacn_port", "osc_port"):
        validators.port(getattr(args, opt), "--" + opt.replace("_", "-"))
    if args.duration is not None:
        validators.duration(args.duration, "--duration")
    if args.record is not None:
        validators.output_file(args.record, "--record")
    if args.preview is not None:
        validators.output_file(args.preview, "--preview", suffixes=(".png",))
    if getattr(args, "ready_file", None) is not None:
        validators.output_file(args.ready_file, "--ready-file")


def run(args: argparse.Namespace) -> int:
    from simulator.core import SimulatorCore
    from simulator.listeners import Simulator

    wanted = _listen(args.listen)
    _check_args(args)
    job = load_venue(args.show, args.venue)
    plan = job.plan
    protocol = None if args.routes == "rig" else Protocol(args.routes)
    routes = plan_routes(plan.twin, protocol=protocol)
    clock = MonotonicClock()
    recorder = None
    core = SimulatorCore(twin=plan.twin, patch=job.patch, routes=routes, fps=plan.fps)
    if args.record is not None:
        from simulator.recorder import Recorder

        recorder = Recorder.open(args.record, core=core, venue=plan.venue, fps=plan.fps)
        core.on_latch = recorder.record

    async def serve() -> None:
        sim = Simulator(
            core=core,
            clock=clock,
            host=args.host,
            artnet_port=args.artnet_port if "artnet" in wanted else None,
            sacn_port=args.sacn_port if "sacn" in wanted else None,
            osc_port=args.osc_port if "osc" in wanted else None,
            enttec="enttec" in wanted,
            opendmx="opendmx" in wanted,
        )
        async with sim:
            where = [
                f"{p} {args.host}:{getattr(sim, p + '_port')}"
                for p in ("artnet", "sacn", "osc")
                if p in wanted
            ]
            where += [
                f"{p} {getattr(sim, p + '_path')}" for p in ("enttec", "opendmx") if p in wanted
            ]
            sys.stderr.write(f"simulating {plan.venue}: listening on " + ", ".join(where) + "\n")
            for route in routes:
                if route.renumbered:
                    sys.stderr.write(f"  wire map {describe_wire(route)}\n")
            if args.ready_file is not None:
                _write_ready(args.ready_file, sim, wanted)
            deadline = None if args.duration is None else clock.now() + args.duration
            while deadline is None or clock.now() < deadline:
                step = clock.now() + 1.0
                await clock.sleep_until(step if deadline is None else min(step, deadline))
                s = core.statistics()
                sys.stderr.write(
                    f"\r  frames {s.frames_latched}  packets {s.packets.total}  malformed "
                    f"{s.malformed.total}  gaps {s.sequence_gaps}  torn {s.torn_frames}  "
                    f"fps {s.timing.measured_fps or 0:.2f}   "
                )

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass
    finally:
        if recorder is not None:
            recorder.close()
    sys.stderr.write("\n")
    stats = core.statistics().as_dict()
    if args.preview is not None:
        from controller.cli.preview_cmd import save_atomic
        from simulator.draw import draw_received

        save_atomic([draw_received(core, plan, title=f"{plan.venue}: received")], args.preview)
    if args.json:
        json.dump(stats, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(
            ", ".join(f"{k}={v}" for k, v in stats.items() if not isinstance(v, dict | list)) + "\n"
        )
    return 0


def _write_ready(path: Path, sim: Any, wanted: set[str]) -> None:
    """Where the simulator listens, written atomically (a reader never sees half a file)."""
    where: dict[str, object] = {
        p: getattr(sim, p + "_port") for p in ("artnet", "sacn", "osc") if p in wanted
    }
    if "enttec" in wanted:
        where["enttec"] = sim.enttec_path
    write_atomic(path, json.dumps(where), durable=False)
