"""L8 `citypulse bench sync`: lockstep across simulated cities, measured on the wire."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from controller.cli import validators
from controller.errors import ArgumentError

__all__ = ["register_sync"]

MODES = {"both": ("rt", "normal"), "rt": ("rt",), "normal": ("normal",)}


def register_sync(bsub: Any) -> None:
    s = bsub.add_parser(
        "sync",
        help="venues in lockstep over MQTT behind WAN links: estimator error, wire skew, "
        "late join, broker outage",
        description="Run the show's venues as real processes (a private mosquitto, the "
        "conductor, venues behind impaired links on simulated clock offsets and drifts) and "
        "measure, from the packets on the wire in a separate capture process: convergence, "
        "estimator error against the known simulated clocks, cross-venue frame skew (with and "
        "without SCHED_FIFO), a late join and a broker outage. Prints a table, then JSON.",
    )
    s.add_argument("--show", type=Path, default=Path("shows/digital-night.yaml"))
    s.add_argument("--rtt-ms", type=float, default=100.0, help="round trip of the WAN links")
    s.add_argument("--jitter-ms", type=float, default=20.0, help="one-sided jitter (mean)")
    s.add_argument("--offset-ms", type=float, default=500.0, help="largest simulated clock offset")
    s.add_argument("--drift-ppm", type=float, default=50.0, help="simulated clock drift")
    s.add_argument("--seconds", type=float, default=30.0, help="wire-skew measurement window")
    s.add_argument("--outage", type=float, default=60.0, help="broker outage seconds (0: none)")
    s.add_argument("--modes", choices=tuple(MODES), default="both", help="priority modes to run")
    s.add_argument("--json", action="store_true", help="print only JSON")
    s.set_defaults(handler=run_sync)


def _finite(value: float, option: str, lo: float, hi: float) -> float:
    if not math.isfinite(value) or not lo <= value <= hi:
        raise ArgumentError(option, f"{value!r} out of range {lo:g}..{hi:g}")
    return value


def run_sync(args: argparse.Namespace) -> int:
    from controller.bench.sync_bench import SyncBenchOptions, bench_sync, default_venues, sync_table

    validators.input_file(args.show, "--show")
    opts = SyncBenchOptions(
        show=args.show,
        venues=tuple(default_venues(args.show)),
        rtt_ms=_finite(args.rtt_ms, "--rtt-ms", 0.0, 2000.0),
        jitter_ms=_finite(args.jitter_ms, "--jitter-ms", 0.0, 1000.0),
        offset_ms=_finite(args.offset_ms, "--offset-ms", 0.0, 60000.0),
        drift_ppm=_finite(args.drift_ppm, "--drift-ppm", 0.0, 1000.0),
        seconds=_finite(args.seconds, "--seconds", 1.0, 3600.0),
        outage_s=_finite(args.outage, "--outage", 0.0, 3600.0),
        modes=MODES[args.modes],
    )
    if len(opts.venues) < 2:
        raise ArgumentError(
            "--show", f"{args.show} has {len(opts.venues)} venue; lockstep needs two"
        )
    result: dict[str, Any] = bench_sync(opts)
    if not args.json:
        sys.stdout.write(sync_table(result))
    json.dump(result, sys.stdout, indent=None if not args.json else 2, default=str)
    sys.stdout.write("\n")
    return 0
