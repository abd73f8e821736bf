"""L8 `citypulse discover`: find Art-Net nodes, and check them against a venue's rig."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from controller.cli import validators
from controller.cli.common import ArgumentError, load_venue
from controller.clock import MonotonicClock
from controller.outputs.discovery import (
    NodeCheck,
    discover_nodes,
    expected_nodes,
    poll_address,
    summarize,
)
from controller.outputs.routing import plan_routes
from controller.protocols.artnet import ArtPollReply

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "discover",
        help="list Art-Net nodes (ArtPoll); with a show, check the venue's nodes are there",
        description="Send ArtPoll and list the nodes that answer within --wait seconds (name, "
        "IP, style, the port-addresses they output and those they send, as a controller such "
        "as a playing `citypulse run --output artnet` does). With SHOW and --venue, the poll "
        "goes to each Art-Net output's directed broadcast (127.255.255.255 for a loopback "
        "host) and every node the rig sends to is reported FOUND or MISSING, with the "
        "port-addresses it should but does not output.",
    )
    p.add_argument("show", type=Path, nargs="?", metavar="SHOW")
    p.add_argument("--venue", help="venue id (with SHOW)")
    p.add_argument("--to", help="directed broadcast (or node) address to poll, e.g. 10.255.255.255")
    p.add_argument("--port", type=int, default=6454, help="UDP port to poll (default 6454)")
    p.add_argument(
        "--listen-port", type=int, default=6454, help="port replies come to (0: ephemeral)"
    )
    p.add_argument(
        "--wait", type=float, default=3.0, help="seconds to collect replies (Art-Net: 3)"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run)


def _check_args(args: argparse.Namespace) -> None:
    """Check every option before anything loads or polls; `args.to` becomes an address."""
    validators.number(args.wait, "--wait", lo=0.1, hi=60.0, unit="s")
    validators.port(args.port, "--port", allow_zero=False)
    validators.port(args.listen_port, "--listen-port")
    if args.show is not None:
        validators.input_file(args.show, "SHOW")
    if args.to is not None:
        args.to = validators.host(args.to, "--to")


def run(args: argparse.Namespace) -> int:
    _check_args(args)
    expected: dict[str, tuple[int, ...]] = {}
    targets: list[str] = []
    if args.show is not None:
        job = load_venue(args.show, args.venue)
        expected = expected_nodes(plan_routes(job.plan.twin))
        targets = sorted({poll_address(h) for h in expected})
    if args.to:
        targets = [args.to]
    if not targets:
        raise ArgumentError(
            "--to", "give an address to poll, or a SHOW whose rig has Art-Net outputs"
        )
    replies, malformed = _poll(targets, args)
    nodes = {n.ip: n for n in summarize(replies)}
    checks = [
        NodeCheck(host=h, expected=ports, found=nodes.get(h))
        for h, ports in sorted(expected.items())
    ]
    rows = [
        {
            "ip": n.ip,
            "short_name": n.short_name,
            "long_name": n.long_name,
            "style": n.style,
            "outputs": list(n.outputs),
            "inputs": list(n.inputs),
            "refresh_rate": n.refresh_rate,
        }
        for n in nodes.values()
    ]
    if args.json:
        report = {
            "nodes": rows,
            "malformed": malformed,
            "rig": [
                {"host": c.host, "found": c.found is not None, "missing": list(c.missing)}
                for c in checks
            ],
        }
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print(rows, checks, malformed)
    problems = any(c.found is None or c.missing for c in checks)
    return 1 if problems else 0


def _poll(
    targets: list[str], args: argparse.Namespace
) -> tuple[list[tuple[tuple[str, int], ArtPollReply]], int]:
    """ArtPoll each target in turn; every reply and the count of malformed ones."""
    clock = MonotonicClock()
    replies: list[tuple[tuple[str, int], ArtPollReply]] = []
    malformed = 0
    for to in targets:
        try:
            found, bad = discover_nodes(
                to=to, port=args.port, listen_port=args.listen_port, wait_s=args.wait, clock=clock
            )
        except ValueError as exc:
            raise ArgumentError("--to", str(exc)) from exc
        except OSError as exc:
            raise ArgumentError(
                "--listen-port", f"cannot poll {to}: {exc.strerror or exc}"
            ) from exc
        replies += found
        malformed += bad
    return replies, malformed


def _print(rows: list[dict[str, Any]], checks: list[NodeCheck], malformed: int) -> None:
    bad = f", {malformed} malformed replies" if malformed else ""
    sys.stdout.write(f"{len(rows)} node(s) answered{bad}\n")
    for r in rows:
        sends = f" sends {r['inputs']}" if r["inputs"] else ""
        sys.stdout.write(
            f"  {r['ip']:<16}{r['short_name']:<20}{r['style']:<11}outputs {r['outputs']}"
            f"{sends}  {r['long_name']}\n"
        )
    for c in checks:
        state = "MISSING" if c.found is None else "FOUND" if not c.missing else "INCOMPLETE"
        gap = f" (not outputting {list(c.missing)})" if c.found is not None and c.missing else ""
        sys.stdout.write(f"  rig node {c.host:<16}{state}{gap}\n")
