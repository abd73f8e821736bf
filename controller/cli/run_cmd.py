"""L8 `citypulse run`: play a venue in real time (or virtual time) onto its outputs.

Keys while playing in a terminal: g or space GO, h HOLD, b BLACKOUT on/off, n GOTO the
next cue, p GOTO the previous cue, + / - grand master, q quit.
"""

from __future__ import annotations

import argparse
import json
import select
import sys
import termios
import tty
from pathlib import Path
from typing import Any

from controller.cli import validators
from controller.cli.common import ArgumentError, load_venue, resolve_time
from controller.cli.play_options import (
    OUTPUTS,
    add_shards_argument,
    add_tap_argument,
    check_shards,
    tap_target,
)
from controller.cli.run_session import RunOptions, open_session, summary
from controller.cli.shard_worker import run_sharded
from controller.runtime.heap import freeze_heap
from controller.runtime.session import SessionOptions, VenueSession

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="play a show for one venue in real time onto its outputs (or the simulator)",
        description="Play a show for one venue: frames on absolute deadlines in an output "
        "thread, to the rig's outputs, to one protocol (--output), or to the in-process "
        "simulator (--output sim). In a terminal: g/space GO, h HOLD, b BLACKOUT, n/p next/"
        "previous cue, +/- grand master, q quit.",
    )
    p.add_argument("show", type=Path, metavar="SHOW")
    p.add_argument("--venue", help="venue id (required when the show has several)")
    p.add_argument(
        "--output",
        choices=OUTPUTS,
        default="rig",
        help="where frames go (default: the rig's outputs)",
    )
    p.add_argument(
        "--target", help="override destination: host[:port] (network) or a device path (serial)"
    )
    p.add_argument("--interface", help="IPv4 address of the interface multicast leaves by")
    p.add_argument("--go", action="store_true", help="GO at once (otherwise wait for the operator)")
    p.add_argument("--auto-go", action="store_true", help="continue past hold cues by themselves")
    p.add_argument(
        "--hold-wait", type=float, default=2.0, help="seconds at a hold before --auto-go"
    )
    p.add_argument(
        "--from", dest="start", help="start at this cue or time (e.g. 'pulse', 'finale-5')"
    )
    p.add_argument("--duration", type=float, help="stop after this many seconds of playing")
    p.add_argument(
        "--end",
        choices=("blackout", "hold"),
        default="blackout",
        help="at the end: black, or hold the last look",
    )
    p.add_argument("--master", type=float, default=1.0, help="grand master 0..1")
    p.add_argument("--rt", action="store_true", help="ask for SCHED_FIFO real-time priority")
    p.add_argument(
        "--virtual", action="store_true", help="virtual time: as fast as possible (tests, CI)"
    )
    p.add_argument(
        "--record", type=Path, help="(sim) record what the simulator latched to this file"
    )
    p.add_argument(
        "--preview", type=Path, help="(sim) draw what the simulator received at the end (PNG)"
    )
    p.add_argument(
        "--osc-in",
        type=int,
        metavar="PORT",
        help="accept operator commands over OSC on this UDP port: /citypulse[/VENUE]/go, "
        "/hold, /resume (no arguments), /blackout [0|1|T|F] (none: on), /master 0..1, /goto CUE",
    )
    add_tap_argument(p)
    add_shards_argument(p)
    p.add_argument("--json", action="store_true", help="print the final statistics as JSON")
    p.set_defaults(handler=run)


def _options(args: argparse.Namespace) -> RunOptions:
    """Every option checked before anything loads or plays (a recording is never lost)."""
    validators.input_file(args.show, "SHOW")
    validators.number(args.master, "--master", lo=0.0, hi=1.0)
    if args.duration is not None:
        validators.duration(args.duration, "--duration")
    validators.number(args.hold_wait, "--hold-wait", lo=0.0, hi=3600.0, unit="s")
    if (args.record or args.preview) and args.output != "sim":
        raise ArgumentError("--record" if args.record else "--preview", "needs --output sim")
    if args.record is not None:
        validators.output_file(args.record, "--record")
    if args.preview is not None:
        validators.output_file(args.preview, "--preview", suffixes=(".png",))
    if args.osc_in is not None:
        validators.port(args.osc_in, "--osc-in")
    interface = (
        None if args.interface is None else validators.interface(args.interface, "--interface")
    )
    if args.virtual and not args.go:
        raise ArgumentError("--virtual", "needs --go (nobody can press GO in virtual time)")
    return RunOptions(
        output=args.output,
        target=args.target,
        interface=interface,
        virtual=args.virtual,
        record=args.record,
        preview=args.preview,
        osc_in=args.osc_in,
        tap=tap_target(args.tap),
        session=SessionOptions(
            go=args.go,
            auto_go=args.auto_go,
            hold_wait=args.hold_wait,
            duration=args.duration,
            end_action=args.end,
            master=args.master,
            realtime=args.rt,
        ),
    )


def run(args: argparse.Namespace) -> int:
    options = _options(args)
    if check_shards(args) > 1:  # processes on one frame grid: controller.runtime.shards
        return _report(args, run_sharded(args, options.session), options)
    job = load_venue(args.show, args.venue)
    start = resolve_time(args.start, job.loaded, "--from") if args.start else None
    holds = [c.name for c in job.plan.cues if c.hold and (start is None or c.t > start)]
    if (
        options.virtual
        and holds
        and not options.session.auto_go
        and options.session.duration is None
    ):
        raise ArgumentError(
            "--virtual",
            f"the show holds at {holds[0]!r} and nobody can press GO in virtual time: "
            "add --auto-go or --duration",
        )
    interactive = sys.stdin.isatty() and sys.stderr.isatty() and not options.virtual
    with open_session(job, options, start=start) as (session, sim_stats):
        osc = None
        if options.osc_in is not None:
            from controller.cli.osc_listener import OscListener

            osc = OscListener(session, options.osc_in)
        if options.virtual:
            session.run_inline()
        else:
            freeze_heap()  # no full garbage collection of the loaded show while playing
            session.start()
            if osc is not None:
                osc.start()
            try:
                _drive(session, interactive)
            finally:
                if not session.finish():
                    sys.stderr.write("citypulse run: the output thread did not stop in time\n")
                if osc is not None:
                    osc.stop()
    report = session.report()
    if sim_stats:
        report["simulator"] = sim_stats
    if osc is not None:
        report["osc_in"] = osc.summary()
    return _report(args, report, options)


def _report(args: argparse.Namespace, report: dict[str, Any], options: RunOptions) -> int:
    if args.json:
        json.dump(report, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        sys.stderr.write(summary(report, options))
    return 1 if report.get("error") else 0


def _drive(session: VenueSession, interactive: bool) -> None:
    """Main thread: status line and keys while the output thread plays."""
    from rich.live import Live

    if not interactive:
        while session.wait(0.25):
            pass
        return
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    try:
        with Live(session.status_text(), refresh_per_second=8, transient=False) as live:
            while session.wait(0.0):
                ready, _, _ = select.select([sys.stdin], [], [], 0.125)
                if ready and not session.key(sys.stdin.read(1)):
                    break
                live.update(session.status_text())
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
