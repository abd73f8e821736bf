"""L8 `citypulse render SHOW --venue V -o out.fseq`: render a venue to an FSEQ v2 file."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from controller import __version__
from controller.cli import validators
from controller.cli.common import load_venue, resolve_time
from controller.clock import MonotonicClock
from controller.fseq import FseqWriter
from controller.render.renderer import render

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "render",
        help="render a venue of a show to an FSEQ v2 file (FPP / xLights)",
        description="Render every frame of one venue to an FSEQ v2 sequence (zstd blocks). "
        "Channels are the venue's universes in ascending order, 512 each; the universe list "
        "is stored in the file's 'cp' variable header.",
    )
    p.add_argument("show", type=Path, metavar="SHOW")
    p.add_argument("--venue", help="venue id (required when the show has several)")
    p.add_argument("-o", "--output", type=Path, required=True, help="the .fseq file to write")
    p.add_argument("--compression", choices=("zstd", "zlib", "none"), default="zstd")
    p.add_argument("--level", type=int, help="compression level (default: zstd 2, zlib 3)")
    p.add_argument("--master", type=float, default=1.0, help="grand master 0..1 (default 1)")
    p.add_argument(
        "--from",
        dest="start",
        help="render a section from this cue or time (e.g. 'pulse', 'finale-5'); "
        "the file's frame 0 is that show frame",
    )
    p.add_argument("--duration", type=float, help="render a section this many seconds long")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    validators.input_file(args.show, "SHOW")
    validators.output_file(args.output, "--output", suffixes=(".fseq",))
    validators.number(args.master, "--master", lo=0.0, hi=1.0)
    validators.compression_level(args.level, args.compression, "--level")
    if args.duration is not None:
        validators.duration(args.duration, "--duration")
    job = load_venue(args.show, args.venue)
    plan, patch = job.plan, job.patch
    first = (
        0
        if args.start is None
        else round(resolve_time(args.start, job.loaded, "--from") * plan.fps)
    )
    first = min(first, plan.frame_count - 1)
    frames = plan.frame_count - first
    if args.duration is not None:
        frames = max(1, min(frames, round(args.duration * plan.fps)))
    step_ms = round(1000 / plan.fps)
    try:  # the show's path as seen from the .fseq file, so renders match from any directory
        show_ref = os.path.relpath(Path(job.loaded.path).resolve(), args.output.resolve().parent)
    except ValueError:  # another drive (Windows)
        show_ref = str(Path(job.loaded.path).resolve())
    if abs(1000 / plan.fps - step_ms) > 1e-9:
        sys.stderr.write(
            f"citypulse render: warning: FSEQ stores whole-millisecond steps; {plan.fps} fps is "
            f"written as {step_ms} ms ({1000 / step_ms:.2f} fps), so players run "
            f"{abs(step_ms * plan.fps / 1000 - 1):.1%} {'slow' if step_ms * plan.fps > 1000 else 'fast'}\n"
        )
    meta = {
        "show": show_ref,
        "name": job.loaded.show.name,
        "venue": plan.venue,
        "fps": plan.fps,
        "first_frame": first,
        "universes": list(patch.universes),
    }
    frame = plan.new_frame()
    driven = plan.new_driven()
    dmx = patch.new_output()
    master = args.master * plan.intensity
    clock = MonotonicClock()
    started = clock.now()
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeRemainingColumn(),
        transient=True,
        disable=not sys.stderr.isatty(),
    )
    with (
        progress,
        FseqWriter.open(
            args.output,
            channel_count=dmx.size,
            frame_count=frames,
            step_ms=step_ms,
            compression=args.compression,
            level=args.level,
            variable_headers={"sp": f"citypulse {__version__}", "cp": json.dumps(meta)},
        ) as writer,
    ):
        task = progress.add_task(f"render {plan.venue}", total=frames)
        for k in range(first, first + frames):
            render(plan, plan.render_time(k), frame, driven)
            writer.write_frame(patch.apply(frame, dmx, master, driven).reshape(-1))
            progress.advance(task)
    elapsed = clock.now() - started
    size = args.output.stat().st_size
    sys.stderr.write(
        f"wrote {args.output}: {frames} frames x {dmx.size} channels ({len(patch.universes)} "
        f"universes) at {plan.fps} fps, {size / 1e6:.2f} MB, {elapsed:.1f} s "
        f"({frames / max(elapsed, 1e-9):.0f} frames/s)\n"
    )
    return 0
