"""L8 `citypulse bench scale`: the scale ladder, 128 to 4,035 universes live over loopback.

Table columns: `dropped` frames the sender skipped as too late (latest frame wins); `gaps`
jumps in the sync sequence at the receiver (a frame dropped after its data was staged
leaves one, so they mostly count the same frames); `incompl` syncs with a universe
missing; `ooo` universes out of sequence; `stalls` stalls of the whole machine while the rung
played (every CPU stopped at once, as a SCHED_FIFO 99 watchdog saw it); `in st` frames
missing at the receiver (its sync gaps) that fell in one of them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from controller.cli import validators
from controller.clock import MonotonicClock
from controller.errors import ArgumentError

__all__ = ["parse_sizes", "register_scale"]

RUNGS = "128,1024,2048,4035"
MAX_UNIVERSES = 63999  # E1.31 universes 1..63999


def register_scale(bsub: Any) -> None:
    s = bsub.add_parser(
        "scale",
        help="the scale ladder: cities of 128..4,035 universes sent live as sACN at 44 fps",
        description="For each size: a synthetic city with the five full-city layers of "
        "`bench render`, played by `citypulse run --output sacn` over loopback into a "
        "receiver process that checks every universe of every frame arrives complete and "
        "in order. Prints a table, then the figures as JSON.",
    )
    s.add_argument("--universes", default=RUNGS, help=f"rungs, comma separated ({RUNGS})")
    s.add_argument("--seconds", type=float, default=60.0, help="play time per rung (60)")
    s.add_argument(
        "--shards", default="auto",
        help="processes per rung: a number, or 'auto' (one per 1,024 universes, at most one "
        "per core)",
    )  # fmt: skip
    s.add_argument("--rt", action="store_true", help="SCHED_FIFO for the output threads")
    s.add_argument("--json", action="store_true", help="print only JSON")
    s.set_defaults(handler=run_scale)


def parse_sizes(text: str, option: str = "--universes") -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError as exc:
        raise ArgumentError(option, f"{text!r} is not a comma-separated list of numbers") from exc
    if not sizes:
        raise ArgumentError(option, "name at least one size")
    bad = [s for s in sizes if not 1 <= s <= MAX_UNIVERSES]
    if bad:
        raise ArgumentError(option, f"{bad[0]} out of range 1..{MAX_UNIVERSES}")
    return sizes


def _shards(text: str, universes: int) -> int:
    if text == "auto":
        return max(1, min(os.cpu_count() or 1, -(-universes // 2048)))
    try:
        n = int(text)
    except ValueError as exc:
        raise ArgumentError("--shards", f"{text!r}: a number or 'auto'") from exc
    return validators.integer(n, "--shards", lo=1, hi=64)


def _table(rows: list[dict[str, Any]]) -> str:
    head = (
        f"{'universes':>9}{'shards':>7}{'fps':>7}{'expected':>9}{'sent':>7}{'dropped':>8}"
        f"{'gaps':>5}{'incompl':>8}{'ooo':>5}{'dev p99 ms':>11}{'late p99':>9}{'send cores':>11}"
        f"{'ms/frame':>9}{'recv cpu s':>11}{'peak MiB':>9}{'pkt/s':>9}{'stalls':>7}{'in st':>6}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        dropped = r["frames_dropped_sender"]
        dev = r["interval_dev_ms"] or {"p99": float("nan")}
        late = (r["lateness_ms"] or {}).get("p99", float("nan"))
        lines.append(
            f"{r['universes']:>9}{r['shards']:>7}{r['fps_achieved']:>7.2f}{r['frames_expected']:>9}"
            f"{r['frames_sent']:>7}{dropped:>8}{r['frames_skipped_wire']:>5}"
            f"{r['frames_incomplete']:>8}{r['out_of_order']:>5}"
            f"{dev['p99']:>11.3f}{late:>9.3f}{r['sender_cpu_cores'] or 0:>11.2f}"
            f"{r['sender_cpu_ms_per_frame'] or 0:>9.2f}{r['receiver_cpu_s']:>11.1f}"
            f"{r['sender_peak_rss_mib'] or 0:>9.0f}{r['packets_per_s']:>9,}"
            f"{r['host']['count']:>7}{r['wire_missing']['missing_during_host_stalls']:>6}"
        )
    return "\n".join(lines)


def run_scale(args: argparse.Namespace) -> int:
    from controller.bench.scale_bench import run_rung

    sizes = parse_sizes(args.universes)
    validators.number(args.seconds, "--seconds", lo=1.0, hi=3600.0, unit="s")
    plan = [(n, _shards(args.shards, n)) for n in sizes]
    clock = MonotonicClock()
    rows = []
    with tempfile.TemporaryDirectory(prefix="citypulse-scale-") as tmp:
        for n, shards in plan:
            if not args.json:
                sys.stderr.write(f"  {n} universes, {shards} shard(s), {args.seconds:g} s\n")
            rows.append(run_rung(n, seconds=args.seconds, shards=shards, rt=args.rt,
                                 workdir=Path(tmp), clock=clock))  # fmt: skip
    if not args.json:
        sys.stdout.write(_table(rows) + "\n\n")
    json.dump({"benchmark": "scale", "cores": os.cpu_count(), "rungs": rows}, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0
