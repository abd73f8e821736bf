"""L8 `citypulse demo`: the Digital Night ceremony across three cities, in one command.

Everything runs on this machine with nothing but the project's set-up: a private mosquitto
(from `bus init`) on a free loopback port, the conductor, Beijing, Lhasa and Singapore as
venue processes behind emulated WAN links with simulated clock offsets and drifts, each into
its own simulator. The demo arms, schedules GO, passes the hold, plays about a minute while
showing progress, and ends with a report and a picture of all three cities at one instant.
Dropped frames are always shown; those that fell in a stall of the whole machine (every CPU
stopped at once, as a SCHED_FIFO 99 watchdog saw it) are said to be, and only the others
fail the run (exit code 1).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from controller.cli import validators
from controller.errors import ArgumentError
from controller.files import write_atomic
from controller.transports.bus_address import BrokerUrlError, parse_broker_url
from simulator.stall_intervals import drops_text, host_line

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="the Digital Night ceremony across three cities on this machine (the main job)",
        description="Run the Digital Night ceremony across Beijing, Lhasa and Singapore on "
        "this machine: a private MQTT broker, the conductor, three venues behind emulated WAN "
        "links with simulated clock offsets and drifts, each into its own simulator. Shows "
        "progress, then a report (timebase against the truth, error bound, RTT, frames "
        "dropped, cross-venue skew measured on the wire) and a picture of the three cities. "
        "A SCHED_FIFO 99 watchdog on every CPU tells which drops fell in a stall of the whole "
        "machine; the exit code is 0 only when no venue dropped a frame outside one.",
    )
    p.add_argument("--show", type=Path, default=Path("shows/digital-night.yaml"))
    p.add_argument("--seconds", type=float, default=60.0, help="seconds of playing (default 60)")
    p.add_argument("--out", type=Path, default=Path("out"), help="where recordings, pictures "
                   "and the report go (default out/)")  # fmt: skip
    p.add_argument("--broker", metavar="URL", help="use this broker (needs --deployment)")
    p.add_argument("--deployment", type=Path, help="`bus init` directory made for --broker")
    p.add_argument("--no-rt", action="store_true", help="do not ask for SCHED_FIFO")
    p.add_argument(
        "--console", action="store_true",
        help="also serve the operator console (loopback) and print its URL and a one-time login",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the report as JSON only")
    p.set_defaults(handler=run)


def _check(args: argparse.Namespace) -> tuple[str, int] | None:
    validators.input_file(args.show, "--show")
    validators.number(args.seconds, "--seconds", lo=35.0, hi=3600.0, unit="s")
    validators.output_dir(args.out, "--out")
    if (args.broker is None) != (args.deployment is None):
        raise ArgumentError(
            "--broker", "an existing broker needs --deployment (its `bus init` DIR)"
        )
    if args.broker is None:
        return None
    try:
        address = parse_broker_url(args.broker)
    except BrokerUrlError as exc:
        raise ArgumentError("--broker", str(exc)) from exc
    if address.tls:
        raise ArgumentError("--broker", "the demo's emulated links carry plain MQTT: use mqtt://")
    return address.host, address.port


def run(args: argparse.Namespace) -> int:
    broker = _check(args)
    from rich.console import Console
    from rich.live import Live

    from simulator.ceremony import CeremonyOptions, cities_picture, run_ceremony

    args.out.mkdir(parents=True, exist_ok=True)
    console = Console(stderr=True)
    served: list[Any] = []

    def serve(cluster: Any) -> None:
        from controller.console.server import serve_console

        served.append(serve_console(args.show, cluster.deployment, broker=cluster.broker_url))
        console.print(served[0].banner())

    opts = CeremonyOptions(show=args.show, out=args.out.resolve(), seconds=args.seconds,
                           rt=not args.no_rt, broker=broker, deployment=args.deployment,
                           on_started=serve if args.console else None)  # fmt: skip
    with Live(console=console, refresh_per_second=4, transient=True) as live:

        def progress(phase: str, status: dict[str, Any]) -> None:
            live.update(_progress_table(phase, status))

        try:
            with tempfile.TemporaryDirectory(prefix="citypulse-demo-") as tmp:
                result = run_ceremony(opts, progress, Path(tmp))
                picture = cities_picture(args.show, opts.out, tuple(v.venue for v in opts.venues))
        finally:
            for running in served:
                running.close()
    if picture is not None:
        result["picture"] = {"path": str(picture[0]), "host_time_s": picture[1]}
    report = args.out / "demo-report.json"
    write_atomic(report, json.dumps(result, indent=2, default=str))
    if args.json:
        json.dump(result, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(_summary(result, report))
    return exit_code(result)


def exit_code(result: dict[str, Any]) -> int:
    """0 when no venue dropped a frame outside a host stall (and every venue reported)."""
    unexplained = [v.get("drops_unexplained") for v in result["venues"].values()]
    return 0 if all(u == 0 for u in unexplained) else 1


def _progress_table(phase: str, status: dict[str, Any]) -> Any:
    from rich.table import Table

    state = status.get("state") or {}
    table = Table(title=f"Digital Night: {phase}  |  show {state.get('state', '-')}", expand=False)
    for col in ("venue", "online", "timebase", "bound ms", "rtt ms", "position s", "dropped"):
        table.add_column(col)
    for name, v in sorted(status.get("venues", {}).items()):
        table.add_row(
            name, "yes" if v.get("online") else "NO", str(v.get("timebase_state") or "-"),
            _num(v.get("error_bound_ms")), _num(v.get("rtt_ms")), _num(v.get("position_s")),
            str(v.get("frames_dropped", "-")),
        )  # fmt: skip
    return table


def _num(value: float | None, places: int = 2) -> str:
    return "-" if value is None else f"{value:.{places}f}"


def _summary(result: dict[str, Any], report: Path) -> str:
    lines = ["Digital Night across three cities: done", ""]
    lines.append(
        "  venue       link                    clock offset / drift   estimator error p50/p99 ms"
        "   bound ms   rtt ms   frames sent / dropped"
    )
    for name, v in result["venues"].items():
        setup, rep = v["setup"], v["report"]
        tb = rep.get("timebase") or {}
        truth = (tb.get("truth") or {}).get("estimate_error_ms") or {}
        lines.append(
            f"  {name:<11} {setup['link']:<23} {setup['clock_offset_ms']:+7.0f} ms / "
            f"{setup['clock_drift_ppm']:+4.0f} ppm   {_num(truth.get('p50'), 3):>6} / "
            f"{_num(truth.get('p99'), 3):>6}            {_num(tb.get('error_bound_ms')):>8} "
            f"{_num(tb.get('rtt_ms')):>8}   {rep.get('frames_sent', '-')} / "
            f"{drops_text(rep.get('frames_dropped'), v)}"
        )
    wire = (result.get("wire") or {}).get("overall", {})
    skew = wire.get("skew_ms") or {}
    lines.append("")
    lines.append(
        f"  cross-venue skew on the wire (kernel timestamps, {wire.get('frames', 0)} frames): "
        f"p50 {skew.get('p50', float('nan')):.3f} / p99 {skew.get('p99', float('nan')):.3f} / "
        f"max {skew.get('max', float('nan')):.3f} ms"
    )
    lines += _host_lines(result)
    if "picture" in result:
        lines.append(f"  all three cities at one instant: {result['picture']['path']}")
    lines.append(f"  report: {report}")
    return "\n".join(lines) + "\n"


def _host_lines(result: dict[str, Any]) -> list[str]:
    """The host-stall line, and the dropped frames said plainly (explained ones too)."""
    lines = [host_line(result.get("host") or {})]
    venues = result["venues"].values()
    dropped = sum(v["report"].get("frames_dropped") or 0 for v in venues)
    unexplained = sum(v.get("drops_unexplained") or 0 for v in venues)
    if dropped and not unexplained:
        lines.append(
            f"  {dropped} frames dropped, all during host stalls (the whole machine stood "
            "still; no software sends a frame then)"
        )
    elif dropped:
        lines.append(f"  {dropped} frames dropped, {unexplained} of them NOT during a host stall")
    return lines
