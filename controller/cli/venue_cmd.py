"""L8 `citypulse venue SHOW --venue V`: play one venue in lockstep with the conductor.

The venue renders and outputs its own rig (every `run` output choice applies) on the shared
frame grid: its timebase follows the conductor's shared time over the bus, it joins the show
where the conductor's retained state says it is, and executes the conductor's signed
commands on the same frame as every other venue.

Start-up is a measured figure (a late join counts from the process start): this module
imports only the bus side; the render stack is imported, the show loaded and the outputs
opened in the node's loading thread while the bus connects and the timebase locks.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
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
from controller.cli.play_options import (
    OUTPUTS,
    add_shards_argument,
    add_tap_argument,
    check_shards,
    tap_target,
)
from controller.clock import Clock, MonotonicClock, SkewedClock, process_age, utc_anchor
from controller.errors import ArgumentError, ControllerError
from controller.protocols import bus
from controller.runtime.credentials import venue_role
from controller.runtime.shared_grid import TrustedClockMap
from controller.runtime.venue_core import VenueCore
from controller.runtime.venue_node import VenueNode, VenueNodeOptions, VenueRefused, VenueStage
from controller.sync.timebase import Timebase
from controller.transports.mqtt import Will

__all__ = ["register"]

MAX_OFFSET_MS = 3_600_000.0
MAX_DRIFT_PPM = 1_000.0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "venue",
        help="play one venue in lockstep with the conductor over MQTT",
        description="Play one venue of a show in lockstep with the other cities: shared time "
        "from the conductor over MQTT, the conductor's show state and signed commands, status "
        "published for the operators. Outputs as for `citypulse run`.",
    )
    p.add_argument("show", type=Path, metavar="SHOW")
    p.add_argument("--venue", required=True, help="venue id")
    add_bus_arguments(p)
    p.add_argument("--output", choices=OUTPUTS, default="rig", help="where frames go")
    p.add_argument("--target", help="override destination: host[:port] or a serial device")
    p.add_argument("--interface", help="IPv4 address of the interface multicast leaves by")
    p.add_argument("--rt", action="store_true", help="ask for SCHED_FIFO real-time priority")
    p.add_argument("--record", type=Path, help="(sim) record what the simulator latched")
    p.add_argument("--preview", type=Path, help="(sim) draw what the simulator received (PNG)")
    p.add_argument("--duration", type=float, help="stop after this many seconds of playing")
    p.add_argument("--audit", type=Path, metavar="FILE", help="append-only audit log (JSON lines)")
    p.add_argument(
        "--trust-os-clock", action="store_true",
        help="use this host's (chrony-disciplined) clock as shared time; the bus estimate "
        "becomes a cross-check that raises an alarm when they disagree",
    )  # fmt: skip
    p.add_argument(
        "--clock-offset-ms", type=float, default=0.0,
        help="TEST AND BENCHMARK ONLY: pretend this host's clock is off by this much",
    )  # fmt: skip
    p.add_argument(
        "--clock-drift-ppm", type=float, default=0.0,
        help="TEST AND BENCHMARK ONLY: pretend this host's clock runs fast (+) or slow (-)",
    )  # fmt: skip
    p.add_argument("--ready-timeout", type=float, default=60.0, help="seconds to wait for the "
                   "conductor's state and a locked timebase before giving up")  # fmt: skip
    add_tap_argument(p)
    add_shards_argument(p)
    p.add_argument("--json", action="store_true", help="print the final report as JSON")
    p.set_defaults(handler=run)


def _check(args: argparse.Namespace) -> int:
    """Every option checked before anything connects or loads; returns the shard count."""
    validators.input_file(args.show, "SHOW")
    for name, value, limit in (
        ("--clock-offset-ms", args.clock_offset_ms, MAX_OFFSET_MS),
        ("--clock-drift-ppm", args.clock_drift_ppm, MAX_DRIFT_PPM),
    ):
        if not math.isfinite(value) or abs(value) > limit:
            raise ArgumentError(name, f"{value!r} out of range -{limit:g}..{limit:g}")
    if args.trust_os_clock and (args.clock_offset_ms or args.clock_drift_ppm):
        raise ArgumentError(
            "--trust-os-clock", "cannot be combined with a simulated clock offset or drift"
        )
    if args.duration is not None:
        validators.duration(args.duration, "--duration")
    validators.duration(args.ready_timeout, "--ready-timeout")
    if (args.record or args.preview) and args.output != "sim":
        raise ArgumentError("--record" if args.record else "--preview", "needs --output sim")
    for opt, path in (
        ("--record", args.record),
        ("--preview", args.preview),
        ("--audit", args.audit),
    ):
        if path is not None:
            validators.output_file(path, opt, suffixes=(".png",) if opt == "--preview" else ())
    tap_target(args.tap)
    return check_shards(args)


def _clock(args: argparse.Namespace) -> Clock:
    base = MonotonicClock()
    if not (args.clock_offset_ms or args.clock_drift_ppm):
        return base
    return SkewedClock(base, offset_s=args.clock_offset_ms / 1e3, drift_ppm=args.clock_drift_ppm)


class _Loader:
    """The node's `load`: the show compiled, the outputs opened (on `stack`, closed by the
    command when the node ends). Runs in the node's loading thread."""

    def __init__(
        self, args: argparse.Namespace, clock: Clock, stack: contextlib.ExitStack, shards: int
    ) -> None:
        self.args, self.clock, self.stack, self.shards = args, clock, stack, shards
        self.sim_stats: dict[str, Any] = {}

    def __call__(self) -> VenueStage:
        from controller.cli.run_session import RunOptions, open_outputs
        from controller.cli.shard_worker import venue_shards
        from controller.runtime.content import show_content
        from controller.runtime.job import load_venue
        from controller.runtime.session import SessionOptions

        args = self.args
        job = load_venue(args.show, args.venue)
        options = RunOptions(
            output=args.output, target=args.target, interface=args.interface,
            record=args.record, preview=args.preview, tap=tap_target(args.tap),
            session=SessionOptions(arm=False, realtime=args.rt),
        )  # fmt: skip
        outputs, self.sim_stats = self.stack.enter_context(open_outputs(job, options, self.clock))
        return VenueStage(
            job=job, content=show_content(job.loaded), outputs=outputs,
            session_options=options.session,
            session_factory=venue_shards(args) if self.shards > 1 else None,
        )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    entered = process_age()
    shards = _check(args)
    configure_logging(args.verbose)
    creds = credentials_for(args, role_prefix="venue-")
    if creds.role != venue_role(args.venue):
        raise ArgumentError(
            "--credentials", f"these are {creds.role!r}'s, not venue {args.venue!r}'s"
        )
    show_id = args.show.stem
    if show_id != creds.show:
        raise ArgumentError("--credentials", f"made for show {creds.show!r}, not {show_id!r}")
    audit, log = audit_function(args.audit, args.venue)
    clock = _clock(args)
    truth = None
    if isinstance(clock, SkewedClock):  # simulated: the true shared time is known here
        anchor = utc_anchor()
        truth = lambda local: clock.to_base(local) + anchor  # noqa: E731
    trusted = TrustedClockMap(offset_s=utc_anchor()) if args.trust_os_clock else None
    core = VenueCore(
        venue=args.venue, show_id=show_id, content=None, verifier=creds.verifier(),
        timebase=Timebase(), trust_os_clock=trusted, audit=audit,
    )  # fmt: skip
    topics = bus.Topics(show_id)
    will = Will(topics.status(args.venue), bus.encode(bus.VenueStatus.offline(args.venue)), 1, True)
    client = bus_client(args, creds, client_id=f"venue-{args.venue}", will=will)
    options = VenueNodeOptions(duration=args.duration, ready_timeout_s=args.ready_timeout,
                               realtime=args.rt, truth=truth)  # fmt: skip
    report: dict[str, Any] = {}
    try:
        with contextlib.ExitStack() as stack:
            loader = _Loader(args, clock, stack, shards)
            node = VenueNode(load=loader, core=core, client=client, clock=clock, options=options)
            _play(node, args.venue)
            if node.session is not None:
                report = node.session.report()
        if loader.sim_stats:
            report["simulator"] = loader.sim_stats
    finally:
        if log is not None:
            log.close()
    report["timebase"] = _timebase(core, clock)
    report["join"] = {"process_s": entered, "load_s": node.load_s, **node.milestones}
    if node.truth is not None:
        report["timebase"]["truth"] = _truth(node)
    _print(args, report)
    return 1 if report.get("error") else 0


def _play(node: VenueNode, venue: str) -> None:
    """Run the node; its refusal and a show that does not load are the user's errors."""
    try:
        run_until_signalled(_runner(node), node.stop)
    except* VenueRefused as group:
        raise ArgumentError("--venue", f"{venue} refuses to play: {group.exceptions[0]}") from None
    except* ControllerError as group:  # raised while loading: a bad show, an unknown venue
        raise group.exceptions[0] from None


def _runner(node: VenueNode) -> Any:
    async def main() -> int:
        await node.run()
        return 0

    return main


def _timebase(core: VenueCore, clock: Clock) -> dict[str, Any]:
    snap = core.timebase.snapshot(clock.now())
    return {
        "state": snap.state.value,
        "offset_ms": None if snap.offset_s is None else round(snap.offset_s * 1e3, 3),
        "error_bound_ms": None
        if snap.map_error_bound_s is None
        else round(snap.map_error_bound_s * 1e3, 3),
        "rtt_ms": None if snap.rtt_s is None else round(snap.rtt_s * 1e3, 3),
        "asymmetry_bound_ms": None
        if snap.asymmetry_bound_s is None
        else round(snap.asymmetry_bound_s * 1e3, 3),
        "samples": snap.samples,
        "steps": snap.steps,
        "alarm": core.alarm,
    }


CONVERGED_MS = 1.0  # benchmark: the estimate has converged once its error stays within this
CONVERGED_HOLD_S = 20.0  # ... for this long
CONVERGENCE_BUDGET_S = 10.0  # and the accuracy figures count from this long after the lock


def _truth(node: VenueNode) -> dict[str, Any]:
    """Benchmark figures of the estimator against the known simulated clock.

    `converged_after_s`: node start to the first time from which the raw estimate stays
    within `CONVERGED_MS` for `CONVERGED_HOLD_S`. `estimate_error_ms` and `map_error_ms`
    count from `CONVERGENCE_BUDGET_S` after the lock (the issue's convergence budget);
    `*_from_lock_ms` from the lock itself.
    """
    import numpy as np

    log = node.truth
    assert log is not None
    at = np.asarray(log.at) - node.started_at
    estimate, clock_map = np.abs(log.estimate_ms), np.abs(log.map_ms)
    locked = None if log.locked_at is None else log.locked_at - node.started_at
    out: dict[str, Any] = {
        "locked_after_s": None if locked is None else round(locked, 3),
        "converged_after_s": _converged(at, estimate),
        "samples": int(at.size),
    }
    # One sample a second of (seconds after start, estimate error, map error) to look into.
    out["series_ms"] = [
        [
            round(float(a), 1),
            round(float(e), 3),
            None if not math.isfinite(m) else round(float(m), 3),
        ]
        for a, e, m in zip(at[::10], log.estimate_ms[::10], log.map_ms[::10], strict=True)
    ]
    start = math.inf if locked is None else locked
    for suffix, since in (("", start + CONVERGENCE_BUDGET_S), ("_from_lock", start)):
        keep = at >= since
        for name, values in (("estimate_error", estimate), ("map_error", clock_map)):
            out[f"{name}{suffix}_ms"] = _percentiles(values[keep])
    return out


def _converged(at: Any, error: Any) -> float | None:
    """The first sample time from which the error stays within `CONVERGED_MS` for
    `CONVERGED_HOLD_S` (or to the end of the run, if that comes first); None if never."""
    import numpy as np

    outside = np.flatnonzero(error > CONVERGED_MS)
    starts = np.concatenate(([0], outside + 1))  # each candidate start: just after a miss
    ends = np.concatenate((at[outside], [np.inf]))  # ... held until the next miss
    last = at[-1] if at.size else 0.0
    for start, end in zip(starts, ends, strict=True):
        if start >= at.size or error[start] > CONVERGED_MS:
            continue
        if min(end, last + 1e-9) - at[start] >= min(CONVERGED_HOLD_S, last - at[start]):
            return round(float(at[start]), 3)
    return None


def _percentiles(values_ms: Any) -> dict[str, float | None]:
    """p50 / p99 / max of the finite values (ms), as the session reports lateness."""
    import numpy as np

    finite = values_ms[np.isfinite(values_ms)]
    if not finite.size:
        return {"p50": None, "p99": None, "max": None}
    from controller.runtime.session import lateness_summary

    return {**lateness_summary((finite / 1e3).tolist())}


def _print(args: argparse.Namespace, report: dict[str, Any]) -> None:
    if args.json:
        json.dump(report, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return
    if "lateness_ms" in report:
        from controller.cli.run_session import RunOptions, summary

        sys.stderr.write(summary(report, RunOptions(record=args.record, preview=args.preview)))
    tb = report["timebase"]
    sys.stderr.write(
        f"  timebase: {tb['state']}, offset {tb['offset_ms']} ms, bound {tb['error_bound_ms']} ms,"
        f" rtt {tb['rtt_ms']} ms, {tb['samples']} samples\n"
    )
