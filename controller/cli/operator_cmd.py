"""L8 `citypulse cmd VERB [ARG]`: an operator's command to every venue, signed, through the conductor.

`arm`, `go`, `hold`, `resume`, `blackout on|off`, `goto CUE`, `seek SECONDS`,
`master LEVEL` are signed with the operator's key and submitted to the conductor, which
answers with its verdict and the shared instant every venue executes them at (`--at`
chooses it: `+SECONDS` from now, or an ISO-8601 UTC instant). `status` shows the show state
and every venue's health from the retained messages.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
from typing import Any

from controller.cli.node_options import add_bus_arguments, bus_client, credentials_for
from controller.errors import ArgumentError
from controller.protocols import bus
from controller.protocols.signing import new_nonce
from controller.runtime.commands import Command, CommandError
from controller.runtime.credentials import Credentials
from controller.runtime.operator import (
    OPERATOR_VERBS,
    command_args,
    host_shared_now,
    operator_command,
    sign_command,
    submit_once,
)
from controller.transports.bus_errors import BusConnectError, BusDisconnectedError
from controller.transports.mqtt import BusClient

__all__ = ["register"]

VERBS = (*OPERATOR_VERBS, "status")
STATUS_WAIT_S = 1.0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "cmd",
        help="send an operator command to every venue (signed), or show their status",
        description="Send an operator command through the conductor to every venue: "
        + ", ".join(VERBS[:-1]) + "; or `status`: the show state and every venue's health.",
    )  # fmt: skip
    p.add_argument("verb", choices=VERBS, metavar="VERB", help=" | ".join(VERBS))
    p.add_argument(
        "arg", nargs="?", help="blackout: on|off; goto: CUE; seek: SECONDS; master: 0..1"
    )
    add_bus_arguments(p)
    p.add_argument("--at", help="when: +SECONDS from now, or an ISO-8601 UTC instant")
    p.add_argument("--force", action="store_true", help="start even with a venue in holdover")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the verdict")
    p.add_argument("--json", action="store_true", help="print the verdict or status as JSON")
    p.set_defaults(handler=run)


def _args_of(verb: str, arg: str | None) -> tuple[str | float | bool, ...]:
    try:
        return command_args(verb, arg)
    except CommandError as exc:
        raise ArgumentError("ARG", str(exc)) from exc


def parse_at(text: str, now: float) -> float:
    """`+SECONDS` from `now`, or an ISO-8601 instant with its zone (UTC if none)."""
    if text.startswith("+"):
        try:
            delta = float(text[1:])
        except ValueError:
            raise ArgumentError("--at", f"{text!r}: +SECONDS, e.g. +5 or +0.5") from None
        if not 0.0 <= delta <= 86400.0:
            raise ArgumentError("--at", f"{text!r}: +0..+86400 seconds")
        return now + delta
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ArgumentError("--at", f"{text!r}: +SECONDS or an ISO-8601 instant "
                            "(2026-12-02T20:00:00Z)") from None  # fmt: skip
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def _command(args: argparse.Namespace, now: float) -> Command:
    _args_of(args.verb, args.arg)
    exec_at = None if args.at is None else parse_at(args.at, now)
    try:
        return operator_command(args.verb, args.arg, origin="cli", exec_at=exec_at,
                                force=args.force)  # fmt: skip
    except CommandError as exc:
        raise ArgumentError("ARG", str(exc)) from exc


def run(args: argparse.Namespace) -> int:
    if not 0 < args.timeout <= 600:
        raise ArgumentError("--timeout", f"{args.timeout!r} out of range (0, 600]")
    now = host_shared_now()
    command = None if args.verb == "status" else _command(args, now)
    creds = credentials_for(args, role_prefix="operator")
    client = bus_client(args, creds, client_id=f"operator-{new_nonce()[:8]}", will=None)
    topics = bus.Topics(creds.show)
    try:
        if command is None:
            status = asyncio.run(_status(client, topics))
            _print_status(status, args.json)
            return 0
        result = asyncio.run(_submit(client, topics, creds, command, args.timeout))
    except (BusConnectError, BusDisconnectedError) as exc:
        raise ArgumentError("--broker", str(exc)) from exc
    if result is None:
        sys.stderr.write(
            f"citypulse cmd: no verdict from the conductor within {args.timeout:g} s\n"
        )
        return 1
    _print_result(command, result, args.json)
    return 0 if result.accepted else 1


async def _submit(
    client: BusClient, topics: bus.Topics, creds: Credentials, command: Command, timeout: float
) -> bus.CommandResult | None:
    try:
        envelope = sign_command(creds, command, host_shared_now())
    except CommandError as exc:
        raise ArgumentError("--credentials", str(exc)) from exc
    async with client:
        return await submit_once(client, topics, envelope, command.id, timeout)


async def _status(client: BusClient, topics: bus.Topics) -> dict[str, Any]:
    out: dict[str, Any] = {"state": None, "conductor": None, "venues": {}}
    async with client:
        for topic in (topics.state, topics.status_all, topics.conductor_online):
            await client.subscribe(topic)
        try:
            async with asyncio.timeout(STATUS_WAIT_S):
                async for message in client.messages():
                    _collect(topics, message.topic, message.payload, out)
        except TimeoutError:
            pass
    return out


def _collect(topics: bus.Topics, topic: str, payload: bytes, out: dict[str, Any]) -> None:
    ref = topics.parse(topic)
    try:
        if ref is None:
            return
        if ref.kind.value == "state":
            out["state"] = bus.decode(bus.ShowState, payload).model_dump()
        elif ref.kind.value == "conductor/online":
            out["conductor"] = bus.decode(bus.ConductorPresence, payload).model_dump()
        elif ref.kind.value == "status" and ref.node is not None:
            out["venues"][ref.node] = bus.decode(bus.VenueStatus, payload).model_dump()
    except bus.BusPayloadError as exc:
        sys.stderr.write(f"citypulse cmd: ignored a bad message on {topic}: {exc.reason}\n")


def _print_result(command: Command, result: bus.CommandResult, as_json: bool) -> None:
    if as_json:
        json.dump(result.model_dump(), sys.stdout)
        sys.stdout.write("\n")
        return
    if result.accepted:
        when = dt.datetime.fromtimestamp(result.exec_at or 0.0, dt.UTC).isoformat(
            timespec="milliseconds"
        )
        sys.stdout.write(f"{command.describe()}: accepted, every venue executes it at {when}\n")
    else:
        sys.stdout.write(f"{command.describe()}: rejected: {result.reason}\n")


def _print_status(status: dict[str, Any], as_json: bool) -> None:
    if as_json:
        json.dump(status, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    state, conductor = status["state"], status["conductor"]
    if state is None:
        sys.stdout.write("no show state on the bus (is the conductor running?)\n")
    else:
        who = conductor["conductor"] if conductor else state["conductor"]
        online = "online" if conductor and conductor["online"] else "OFFLINE"
        sys.stdout.write(
            f"show {state['show_id']}: {state['state']} (version {state['version']}), "
            f"blackout {'ON' if state['blackout'] else 'off'}, master {state['master']:.0%}; "
            f"conductor {who} {online}\n"
        )
    header = (
        "venue",
        "online",
        "timebase",
        "bound ms",
        "rtt ms",
        "position s",
        "dropped",
        "show",
        "outputs",
    )
    rows = [header]
    for name, v in sorted(status["venues"].items()):
        rows.append((
            name, "yes" if v["online"] else "NO", v["timebase_state"] or "-",
            _num(v["error_bound_ms"]), _num(v["rtt_ms"]), _num(v["position_s"]),
            str(v["frames_dropped"]), {True: "ok", False: "DIFFERS", None: "-"}[v["show_hash_ok"]],
            {True: "ok", False: "FAULT", None: "-"}[v["outputs_ok"]],
        ))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for row in rows:
        sys.stdout.write(
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n"
        )


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
