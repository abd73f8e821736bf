"""L8 `citypulse conductor SHOW`: the main venue's time service, command role and show state.

The conductor serves shared time (UTC as this host reports it, never stepping), validates
the operators' signed commands, fans them out signed with an execution time every venue
can meet, plays the show itself without outputs to keep the retained state every venue
follows, and audits everything. `--standby` waits behind a primary and takes over when the
primary's Last Will fires, continuing its shared time and state.
"""

from __future__ import annotations

import argparse
import asyncio
import math
from pathlib import Path
from typing import Any

from controller.cli import validators
from controller.cli.node_options import (
    add_bus_arguments,
    audit_function,
    bus_client,
    configure_logging,
    credentials_for,
    run_until_signalled,
)
from controller.clock import MonotonicClock, utc_anchor
from controller.errors import ArgumentError
from controller.protocols import bus
from controller.render.effects import default_registry
from controller.runtime.conductor_core import ConductorCore, ShowInfo
from controller.runtime.conductor_node import ConductorNode, ConductorOptions, SharedClock
from controller.runtime.content import show_content
from controller.runtime.heap import freeze_heap
from controller.show.load import LoadedShow, load_show
from controller.transports.mqtt import Will

__all__ = ["register", "show_info"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "conductor",
        help="run the conductor: shared time, operator commands and show state over MQTT",
        description="Run the conductor of a show (at the main venue): the time service every "
        "venue's timebase follows, validation and fan-out of the operators' signed commands, "
        "and the retained show state. --standby takes over when the primary goes.",
    )
    p.add_argument("show", type=Path, metavar="SHOW")
    add_bus_arguments(p)
    p.add_argument("--node", default="conductor", help="this conductor's node name")
    p.add_argument("--standby", action="store_true", help="wait behind a primary; take over")
    p.add_argument("--audit", type=Path, metavar="FILE", help="append-only audit log (JSON lines)")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    p.add_argument(
        "--rt", action="store_true",
        help="answer time requests at SCHED_FIFO real-time priority (as NTP servers run): "
        "the venues' estimates are only as steady as the conductor's stamps",
    )  # fmt: skip
    p.set_defaults(handler=run)


def show_info(loaded: LoadedShow) -> ShowInfo:
    show = loaded.show
    cues = tuple((c.name, loaded.cue_times[c.name], c.hold) for c in show.cues)
    return ShowInfo(
        show_id=Path(loaded.path).stem, fps=show.fps, frame_count=round(show.duration * show.fps),
        cues=cues, content=show_content(loaded),
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    validators.input_file(args.show, "SHOW")
    if args.duration is not None:
        validators.duration(args.duration, "--duration")
    if args.audit is not None:
        validators.output_file(args.audit, "--audit")
    try:
        bus.Topics("x").time_req(args.node)
    except bus.TopicNameError as exc:
        raise ArgumentError("--node", str(exc)) from exc
    configure_logging(args.verbose)
    creds = credentials_for(args, role_prefix="conductor")
    if creds.signing_key is None:
        raise ArgumentError("--credentials", "the conductor's credentials carry no signing key")
    loaded = load_show(args.show, default_registry())
    info = show_info(loaded)
    if info.show_id != creds.show:
        raise ArgumentError("--credentials", f"made for show {creds.show!r}, not {info.show_id!r}")
    clock = MonotonicClock()
    shared = SharedClock(clock, utc_anchor())
    audit, log = audit_function(args.audit, args.node)
    core = ConductorCore(
        show=info, node=args.node, issuer=creds.role, sign_key=creds.signing_key,
        verifier=creds.verifier(), epoch=float(math.floor(shared.now())),
        venues=tuple(loaded.show.venues), audit=audit,
    )  # fmt: skip
    topics = core.topics
    offline = bus.encode(
        bus.ConductorPresence(conductor=args.node, online=False, standby=args.standby)
    )
    will = None if args.standby else Will(topics.conductor_online, offline, 1, True)
    client = bus_client(args, creds, client_id=f"conductor-{args.node}", will=will)
    node = ConductorNode(
        core=core, client=client, clock=clock, shared=shared,
        options=ConductorOptions(standby=args.standby, realtime=args.rt),
    )  # fmt: skip

    freeze_heap()  # the loaded show, out of the collector (a real-time conductor's GC stalls)

    async def main() -> int:
        async with asyncio.TaskGroup() as group:
            stopper = None
            if args.duration is not None:
                stopper = group.create_task(_stop_after(node, clock, args.duration))
            await node.run()
            if stopper is not None:
                stopper.cancel()
        return 0

    try:
        return run_until_signalled(main, node.stop)
    finally:
        if log is not None:
            log.close()


async def _stop_after(node: ConductorNode, clock: MonotonicClock, seconds: float) -> None:
    await clock.sleep_until(clock.now() + seconds)
    node.stop()
