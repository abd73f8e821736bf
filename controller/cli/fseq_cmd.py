"""L8 `citypulse fseq info FILE` and `citypulse fseq diff A B`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from controller.cli.common import load_venue
from controller.fseq import FseqReader, diff_fseq, info_fseq
from controller.patch.patcher import slot_owner

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser("fseq", help="inspect and compare FSEQ files", description="FSEQ tools.")
    fsub = p.add_subparsers(dest="fseq_command", metavar="ACTION", required=True)
    info = fsub.add_parser("info", help="print an FSEQ file's header, blocks and metadata")
    info.add_argument("file", type=Path, metavar="FILE")
    info.add_argument("--json", action="store_true")
    info.set_defaults(handler=run_info)
    diff = fsub.add_parser(
        "diff",
        help="compare two FSEQ files: first differing frame, which fixtures and channels",
        description="Compare two FSEQ files frame by frame. Exit 0 when identical, 1 when "
        "they differ. Channels are named by fixture and attribute when the show that made "
        "the file can be loaded (from the file's 'cp' header, or --show/--venue).",
    )
    diff.add_argument("a", type=Path, metavar="A")
    diff.add_argument("b", type=Path, metavar="B")
    diff.add_argument("--show", type=Path, help="show to name channels by (default: from A)")
    diff.add_argument("--venue", help="venue of --show")
    diff.add_argument("--max", type=int, default=20, help="channels to list (default 20)")
    diff.add_argument("--json", action="store_true")
    diff.set_defaults(handler=run_diff)


def _meta(reader: FseqReader) -> dict[str, Any]:
    raw = reader.variable_headers.get("cp")
    if raw is None:
        return {}
    try:
        meta = json.loads(raw.rstrip(b"\0").decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return meta if isinstance(meta, dict) else {}


def run_info(args: argparse.Namespace) -> int:
    with FseqReader.open(args.file) as reader:
        info = dict(info_fseq(reader))
        meta = _meta(reader)
    if meta:
        info["citypulse"] = meta
    if args.json:
        json.dump(info, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return 0
    for key, value in info.items():
        if key in ("blocks", "variable_headers", "citypulse"):
            continue
        sys.stdout.write(f"{key:>22}: {value}\n")
    if meta:
        us = meta.get("universes", [])
        span = f"{us[0]}..{us[-1]}" if us else "-"
        sys.stdout.write(
            f"{'citypulse':>22}: show {meta.get('name')!r}, venue {meta.get('venue')}, "
            f"{len(us)} universes ({span})\n"
        )
    return 0


def run_diff(args: argparse.Namespace) -> int:
    with FseqReader.open(args.a) as a, FseqReader.open(args.b) as b:
        result = diff_fseq(a, b, max_report=args.max)
        meta = _meta(a)
        fps = 1000.0 / max(a.step_ms, 1)
    namer = None
    show = args.show or (args.a.parent / meta["show"] if meta.get("show") else None)
    venue = args.venue or meta.get("venue")
    if show is not None and show.is_file():
        job = load_venue(show, venue)
        namer = lambda ch: str(slot_owner(job.patch, job.plan.twin, job.plan.elements, ch))  # noqa: E731
    rows = [
        {
            "channel": c.channel,
            "a": c.a,
            "b": c.b,
            "delta": c.delta,
            "owner": namer(c.channel) if namer and c.channel < len(job.patch.slot_attr) else None,
        }
        for c in result.channels
    ]
    if args.json:
        json.dump(
            {
                "identical": result.identical,
                "first_differing_frame": result.first_differing_frame,
                "differing_frames": result.differing_frames,
                "max_abs_delta": result.max_abs_delta,
                "header_differences": [str(h) for h in result.header_differences],
                "channels": rows,
            },
            sys.stdout,
            indent=2,
        )
        sys.stdout.write("\n")
        return 0 if result.identical else 1
    if result.identical:
        sys.stdout.write(
            f"identical: {result.frames_compared} frames x {result.channels_compared} channels\n"
        )
        return 0
    for h in result.header_differences:
        sys.stdout.write(f"header differs: {h}\n")
    first = result.first_differing_frame
    if first is not None:
        sys.stdout.write(
            f"first differing frame {first} (t = {first / fps:.3f} s): "
            f"{result.differing_channel_count} channels differ; {result.differing_frames} frames "
            f"differ in all; max |delta| {result.max_abs_delta}\n"
        )
        for r in rows:
            owner = f"  {r['owner']}" if r["owner"] else ""
            sys.stdout.write(
                f"  channel {r['channel']:>8}: {r['a']:>3} -> {r['b']:>3} ({r['delta']:+d}){owner}\n"
            )
    return 1
