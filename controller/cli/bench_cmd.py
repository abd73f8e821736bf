"""L8 `citypulse bench render` and `citypulse bench generate-city`."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from controller.bench.render_bench import BenchCase, bench_effects, bench_render
from controller.bench.synthetic import write_city
from controller.cli import validators
from controller.cli.bench_compare_cmd import register_compare
from controller.cli.bench_host_cmd import register_host
from controller.cli.bench_scale_cmd import register_scale
from controller.cli.bench_sync_cmd import register_sync
from controller.cli.common import ArgumentError, load_venue
from controller.clock import MonotonicClock
from controller.render import jit

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser("bench", help="benchmarks (render speed) and synthetic test cities")
    bsub = p.add_subparsers(dest="bench_command", metavar="ACTION", required=True)
    r = bsub.add_parser(
        "render",
        help="frames/s, channels/s and per-frame p50/p99 of render + patch",
        description="Time render + patch frame by frame for the sample show and for "
        "generated synthetic cities. Prints a table, then the figures as JSON.",
    )
    r.add_argument(
        "--show",
        type=Path,
        default=Path("shows/digital-night.yaml"),
        help="sample show ('' to skip)",
    )
    r.add_argument("--venue", default="beijing")
    r.add_argument(
        "--universes",
        default="1024,4035",
        help="synthetic city sizes, comma separated ('' for none)",
    )
    r.add_argument("--runs", type=int, default=1, help="measure every case this many times")
    r.add_argument(
        "--send", action="store_true",
        help="also encode and send each frame as sACN over loopback (timed apart)",
    )  # fmt: skip
    r.add_argument(
        "--kernels", choices=("numba", "numpy"), default="numba",
        help="compiled kernels, or the numpy reference paths",
    )  # fmt: skip
    r.add_argument("--frames", type=int, default=400, help="frames timed per case")
    r.add_argument("--at", type=float, default=40.0, help="show time of the first timed frame")
    r.add_argument("--cpu", type=int, help="pin the process to this CPU core")
    r.add_argument("--json", action="store_true", help="print only JSON")
    r.add_argument("--effects", action="store_true", help="also time each effect")
    r.set_defaults(handler=run_render)
    o = bsub.add_parser(
        "output",
        help="encoder packets/s, and frame timing at 40 fps as a receiver measures it",
        description="Art-Net and sACN packets/s (encode, and encode + loopback send) at the "
        "given universe counts; then a synthetic city played in real time with Art-Net into a "
        "receiver process that timestamps arrivals in the kernel: inter-frame interval "
        "p50/p99/max deviation, bunched frames, rate error (ppm). With --rt both with and "
        "without SCHED_FIFO.",
    )
    o.add_argument("--universes", default="512,2048", help="encoder sizes, comma separated")
    o.add_argument("--frames", type=int, default=200, help="frames per encoder measurement")
    o.add_argument("--timing-universes", type=int, default=512)
    o.add_argument("--seconds", type=float, default=60.0, help="length of each timing run")
    o.add_argument("--rt", action="store_true", help="also run the timing with SCHED_FIFO")
    o.add_argument("--json", action="store_true", help="print only JSON")
    o.set_defaults(handler=run_output)
    g = bsub.add_parser("generate-city", help="write a synthetic city rig + show of N universes")
    g.add_argument("--universes", type=int, required=True)
    g.add_argument("-o", "--output", type=Path, required=True, help="directory to write into")
    g.add_argument(
        "--light", action="store_true",
        help="an hour-long show with one cheap layer (a chase) instead of a minute of five",
    )  # fmt: skip
    g.set_defaults(handler=run_generate)
    register_sync(bsub)
    register_scale(bsub)
    register_compare(bsub)
    register_host(bsub)


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError as exc:
        raise ArgumentError(
            "--universes", f"{text!r} is not a comma-separated list of numbers"
        ) from exc
    bad = [s for s in sizes if not 1 <= s <= 20000]
    if bad:
        raise ArgumentError("--universes", f"{bad[0]} out of range 1..20000")
    return sizes


def _table(results: list[dict[str, Any]]) -> str:
    head = f"{'run':>3} {'case':<28}{'universes':>10}{'elements':>10}{'fps':>9}{'Mch/s':>9}{'render p50/p99':>17}{'patch p50/p99':>16}{'frame p50/p99/max ms':>24}{'send p50/p99':>15}"
    lines = [head, "-" * len(head)]
    for r in results:
        rp, pp, fp, sp = r["render"], r["patch"], r["frame"], r.get("send")
        send = f"{sp['p50_ms']:>8.2f}/{sp['p99_ms']:.2f}" if sp else f"{'-':>9}"
        lines.append(
            f"{r.get('run', 1):>3} {r['case']:<28}{r['universes']:>10}{r['elements']:>10}"
            f"{r['frames_per_s']:>9.0f}"
            f"{r['channels_per_s'] / 1e6:>9.1f}{rp['p50_ms']:>8.2f}/{rp['p99_ms']:<8.2f}"
            f"{pp['p50_ms']:>7.2f}/{pp['p99_ms']:<8.2f}"
            f"{fp['p50_ms']:>9.2f}/{fp['p99_ms']:.2f}/{fp['max_ms']:.2f}{send}"
        )
    return "\n".join(lines)


def run_render(args: argparse.Namespace) -> int:
    validators.integer(args.frames, "--frames", lo=10, hi=1_000_000)
    validators.number(args.at, "--at", lo=0.0, hi=86400.0, unit="s")
    if str(args.show) not in ("", "."):
        validators.input_file(args.show, "--show")
    if args.cpu is not None:
        validators.integer(args.cpu, "--cpu", lo=0, hi=4095)
    sizes = _sizes(args.universes)
    validators.integer(args.runs, "--runs", lo=1, hi=100)
    jit.use(args.kernels == "numba")
    if args.cpu is not None:
        try:
            os.sched_setaffinity(0, {args.cpu})
        except (OSError, ValueError) as exc:
            raise ArgumentError("--cpu", f"cannot pin to CPU {args.cpu}: {exc}") from exc
    clock = MonotonicClock()
    cases: list[BenchCase] = []
    if str(args.show) not in ("", "."):
        t0 = clock.now()
        job = load_venue(args.show, args.venue)
        cases.append(
            BenchCase(
                f"{job.loaded.show.name}/{job.plan.venue}", job.plan, job.patch, clock.now() - t0
            )
        )
    with tempfile.TemporaryDirectory(prefix="citypulse-bench-") as tmp:
        for n in sizes:
            show = write_city(Path(tmp) / f"city{n}", n)
            t0 = clock.now()
            job = load_venue(show, None)
            cases.append(BenchCase(f"synthetic {n}", job.plan, job.patch, clock.now() - t0))
        results = []
        for run in range(args.runs):
            for case in cases:
                start = (
                    min(args.at, case.plan.duration * 0.5)
                    if case.name.startswith("synthetic")
                    else args.at
                )
                row = bench_render(
                    case, frames=args.frames, start=start, clock=clock, send=args.send
                )
                row["run"] = run + 1
                if args.effects:
                    row["effects"] = bench_effects(
                        case, frames=min(args.frames, 100), start=start, clock=clock
                    )
                results.append(row)
                if not args.json:
                    sys.stderr.write(f"  run {run + 1}: measured {case.name}\n")
    if not args.json:
        sys.stdout.write(_table(results) + "\n\n")
        if args.effects:
            for r in results:
                costs = ", ".join(
                    f"{e['effect']} {e['us_per_1000_elements']:.0f}" for e in r["effects"]
                )
                sys.stdout.write(f"{r['case']}: us per 1000 elements per frame: {costs}\n")
            sys.stdout.write("\n")
    json.dump(
        {"benchmark": "render", "cpu_pinned": args.cpu, "results": results}, sys.stdout, indent=2
    )
    sys.stdout.write("\n")
    return 0


def run_output(args: argparse.Namespace) -> int:
    from controller.bench.output_bench import bench_encoders, bench_timing

    sizes = _sizes(args.universes)
    validators.number(args.seconds, "--seconds", lo=1.0, hi=3600.0, unit="s")
    validators.integer(args.frames, "--frames", lo=10, hi=1_000_000)
    validators.integer(args.timing_universes, "--timing-universes", lo=1, hi=20000)
    clock = MonotonicClock()
    encoders = bench_encoders(universes=tuple(sizes), frames=args.frames, clock=clock)
    timing = []
    with tempfile.TemporaryDirectory(prefix="citypulse-bench-") as tmp:
        show = write_city(Path(tmp) / "city", args.timing_universes, fps=40, light=True)
        for realtime in (False, True) if args.rt else (False,):
            if not args.json:
                sys.stderr.write(
                    f"  timing run, {args.seconds:g} s, {'SCHED_FIFO' if realtime else 'normal priority'}\n"
                )
            timing.append(
                bench_timing(show=show, seconds=args.seconds, realtime=realtime, clock=clock)
            )
    if not args.json:
        lines = [
            f"{'protocol':<9}{'universes':>10}{'pkts/frame':>11}{'encode pkt/s':>14}{'enc+send pkt/s':>16}{'max fps':>9}"
        ]
        for e in encoders:
            lines.append(
                f"{e['protocol']:<9}{e['universes']:>10}{e['packets_per_frame']:>11.0f}"
                f"{e['encode_packets_per_s']:>14,}{e['encode_send_packets_per_s']:>16,}{e['max_fps_encode_send']:>9.0f}"
            )
        lines.append("")
        lines.append(
            f"{'timing':<28}{'frames':>8}{'dropped':>9}{'dev p50/p99/max ms':>22}{'bunched':>9}{'rate ppm':>10}{'torn':>6}{'gaps':>6}"
        )
        for t in timing:
            r = t["receiver"]
            lines.append(
                f"{t['universes']} u @ {t['fps']} fps, {t['realtime'][:14]:<14}{t['frames_sent']:>8}{t['frames_dropped']:>9}"
                f"{r['jitter_p50_ms']:>8.3f}/{r['jitter_p99_ms']:.3f}/{r['jitter_max_ms']:.3f}"
                f"{r['bunched']:>9}{r['rate_error_ppm']:>10.2f}{r['torn_frames']:>6}{r['sequence_gaps']:>6}"
            )
        sys.stdout.write("\n".join(lines) + "\n\n")
    json.dump({"benchmark": "output", "encoders": encoders, "timing": timing}, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def run_generate(args: argparse.Namespace) -> int:
    validators.integer(args.universes, "--universes", lo=1, hi=20000)
    validators.output_dir(args.output, "--output")
    show = write_city(args.output, args.universes, light=args.light)
    sys.stderr.write(f"wrote {show} and its rig ({args.universes} universes of 170-pixel strips)\n")
    return 0
