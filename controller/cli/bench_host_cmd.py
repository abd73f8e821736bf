"""L8 `citypulse bench host`: how often this machine as a whole stops, with nothing else running.

The watchdog the demo and the lockstep benchmarks run (`simulator.stalls`: a SCHED_FIFO 99
process per CPU, waking every 2 ms) on its own. A stall of every CPU at once is time in which
no software here can send a frame; measured idle, it is the host's, not the show's. Each
stall's start is also given as its phase within a 100 ms cycle of UTC: stalls that keep one
phase come from a periodic event outside this machine's software.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from controller.errors import ArgumentError

__all__ = ["register_host"]

CYCLE_S = 0.1


def register_host(bsub: Any) -> None:
    s = bsub.add_parser(
        "host",
        help="stalls of the whole machine (every CPU at once), measured with nothing running",
        description="Run the host-stall watchdog (a SCHED_FIFO 99 process per CPU, waking on "
        "absolute 2 ms deadlines) for SECONDS and report the stalls of every CPU at once: "
        "count, longest, and each one's start within a 100 ms cycle of UTC. Prints a table, "
        "then JSON.",
    )
    s.add_argument("--seconds", type=float, default=60.0, help="how long to watch")
    s.add_argument("--json", action="store_true", help="print only JSON")
    s.set_defaults(handler=run_host)


def run_host(args: argparse.Namespace) -> int:
    if not math.isfinite(args.seconds) or not 1.0 <= args.seconds <= 3600.0:
        raise ArgumentError("--seconds", f"{args.seconds!r} out of range 1..3600")
    from controller.clock import MonotonicClock
    from simulator.stalls import HostStalls

    clock = MonotonicClock()
    with HostStalls() as watchdog:
        clock.wait_until(clock.now() + args.seconds)
    report = watchdog.result().as_dict()
    result = {"seconds": args.seconds, **report, "phases_ms": _phases(report["host_stalls"])}
    if not args.json:
        sys.stdout.write(_table(result))
    json.dump(result, sys.stdout, indent=None if not args.json else 2)
    sys.stdout.write("\n")
    return 0


def _phases(stalls: list[list[float]]) -> list[float]:
    """Each stall's start (UTC) within a 100 ms cycle, in ms."""
    return [round(start % CYCLE_S * 1e3, 1) for start, _ in stalls]


def _steal(steal_s: float | None) -> str:
    return "not reported by this kernel" if steal_s is None else f"{steal_s:g} s"


def _table(result: dict[str, Any]) -> str:
    watchdog = result["watchdog"]
    lines = [
        (
            f"host stalls in {result['seconds']:g} s (every CPU stopped at once; watchdog "
            f"{watchdog['priority']} on CPUs {watchdog['cpus']}, {watchdog['cpu_s_per_min']} "
            "CPU-s a minute)"
        ),
        f"  count {result['count']}, total {result['total_ms']} ms, longest {result['max_ms']} ms",
        f"  CPU time the hypervisor took (steal, all CPUs): {_steal(result.get('steal_s'))}",
        "  start within a 100 ms cycle of UTC (ms)   length (ms)",
    ]
    for (_, length), phase in zip(result["host_stalls"], result["phases_ms"], strict=True):
        lines.append(f"  {phase:>40.1f}   {length:>10.1f}")
    return "\n".join(lines) + "\n"
