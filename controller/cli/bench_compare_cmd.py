"""L8 `citypulse bench compare`: citypulse, the `sacn` library and PyArtNet, side by side."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from controller.cli import validators
from controller.cli.bench_scale_cmd import parse_sizes
from controller.clock import MonotonicClock
from controller.errors import ArgumentError

__all__ = ["register_compare"]

LADDER = "128,512,1024"


def register_compare(bsub: Any) -> None:
    c = bsub.add_parser(
        "compare",
        help="citypulse against the sacn library and PyArtNet: same universes, same fade",
        description="In one run: for each universe count, citypulse (`run --output sacn`), "
        "the sacn library's sender and PyArtNet's fade engine each play the same fade on "
        "every channel, one after the other, into one receiver process that counts what "
        "arrives. Prints a table and the ratios, then JSON. Needs the bench extra "
        "(pip install citypulse[bench]).",
    )
    c.add_argument("--universes", default=LADDER, help=f"universe counts ({LADDER})")
    c.add_argument("--seconds", type=float, default=10.0, help="play time per run (10)")
    c.add_argument("--rt", action="store_true", help="SCHED_FIFO for citypulse and the receiver")
    c.add_argument("--json", action="store_true", help="print only JSON")
    c.set_defaults(handler=run_compare)


def _table(rows: list[dict[str, Any]], ratios: dict[str, Any]) -> str:
    head = (
        f"{'system':<11}{'universes':>10}{'at 44 fps':>10}{'packets/s':>11}{'cpu cores':>10}"
        f"{'ms/frame':>9}{'jitter p99 ms':>14}{'peak MiB':>9}{'sync':>6}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        dev = r["interval_dev_ms"] or {"p99": float("nan")}
        lines.append(
            f"{r['system']:<11}{r['universes']:>10}{r['universes_at_44fps']:>10}"
            f"{r['packets_per_s']:>11,}{r['cpu_cores'] or 0:>10.2f}{r['cpu_ms_per_frame'] or 0:>9.2f}"
            f"{dev['p99']:>14.3f}{r['peak_rss_mib']:>9.0f}{'yes' if r['sync'] else 'no':>6}"
        )
    lines += ["", "ratios (above 1: citypulse does better):"]
    held = ratios["held"]
    for peer, value in ratios["universes_held"].items():
        text = f"{value}x" if value is not None else f"citypulse {held['citypulse']}, {peer} 0"
        lines.append(f"  universes held at 44 fps, citypulse / {peer}: {text}")

    def x(value: float | None) -> str:
        return "n/a" if value is None else f"{value}x"

    for r in ratios["rungs"]:
        lines.append(
            f"  {r['universes']:>5} universes, {r['peer']:<9} packets/s arriving "
            f"{x(r['packets_per_s'])}, CPU per frame {x(r['cpu_per_frame'])}, jitter p99 "
            f"{x(r['jitter_p99'])}, memory {x(r['memory'])}"
        )
    return "\n".join(lines)


def run_compare(args: argparse.Namespace) -> int:
    sizes = parse_sizes(args.universes)
    validators.number(args.seconds, "--seconds", lo=2.0, hi=600.0, unit="s")
    try:
        import psutil  # noqa: F401
        import pyartnet  # noqa: F401
        import sacn  # noqa: F401
    except ImportError as exc:
        raise ArgumentError(
            "compare", f"needs the bench extra: pip install 'citypulse[bench]' ({exc.name} missing)"
        ) from exc
    from controller.bench.compare_bench import compare, ratios

    clock = MonotonicClock()
    with tempfile.TemporaryDirectory(prefix="citypulse-compare-") as tmp:
        if not args.json:
            sys.stderr.write(f"  {len(sizes)} sizes x 3 systems, {args.seconds:g} s each\n")
        rows = compare(sizes, seconds=args.seconds, rt=args.rt, workdir=Path(tmp), clock=clock)
    result = ratios(rows)
    if not args.json:
        sys.stdout.write(_table(rows, result) + "\n\n")
    json.dump({"benchmark": "compare", "cores": os.cpu_count(), "runs": rows, "ratios": result},
              sys.stdout, indent=2)  # fmt: skip
    sys.stdout.write("\n")
    return 0
