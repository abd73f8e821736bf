"""L8 `citypulse render SHOW --venue V -o out.fseq`: render a venue to an FSEQ v2 file."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from controller import __version__
from controller.cli import validators
from controller.cli.common import load_venue, resolve_time
from controller.clock import MonotonicClock
from controller.compile.plan import VenuePlan
from controller.fseq import FseqWriter
from controller.patch.patcher import Patch
from controller.runtime.render_pool import CHUNK, RenderPool, render_frames

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
    p.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1,
        help="processes rendering frames in parallel (default: every core); the file is "
        "byte for byte the same whatever the number",
    )  # fmt: skip
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    validators.input_file(args.show, "SHOW")
    validators.output_file(args.output, "--output", suffixes=(".fseq",))
    validators.number(args.master, "--master", lo=0.0, hi=1.0)
    validators.compression_level(args.level, args.compression, "--level")
    if args.duration is not None:
        validators.duration(args.duration, "--duration")
    validators.integer(args.jobs, "--jobs", lo=1, hi=256)
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
    channels = len(patch.universes) * 512
    master = args.master * plan.intensity
    clock = MonotonicClock()
    started = clock.now()
    pool = None
    if args.jobs > 1 and frames > CHUNK:  # fork before any thread (the progress bar's) starts
        pool = RenderPool(plan, patch, first=first, count=frames, master=master,
                          workers=args.jobs, chunk=CHUNK)  # fmt: skip
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeRemainingColumn(),
        transient=True,
        disable=not sys.stderr.isatty(),
    )
    with (
        contextlib.ExitStack() as stack,
        progress,
        FseqWriter.open(
            args.output,
            channel_count=channels,
            frame_count=frames,
            step_ms=step_ms,
            compression=args.compression,
            level=args.level,
            variable_headers={"sp": f"citypulse {__version__}", "cp": json.dumps(meta)},
        ) as writer,
    ):
        task = progress.add_task(f"render {plan.venue} ({args.jobs} jobs)", total=frames)
        if pool is not None:
            stack.enter_context(pool)
            blocks: Iterator[NDArray[np.uint8]] = pool.chunks()
        else:
            blocks = _serial(plan, patch, first, frames, master)
        for block in blocks:
            for row in block:
                writer.write_frame(row)
            progress.advance(task, len(block))
    elapsed = clock.now() - started
    size = args.output.stat().st_size
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    sys.stderr.write(
        f"wrote {args.output}: {frames} frames x {channels} channels ({len(patch.universes)} "
        f"universes) at {plan.fps} fps, {size / 1e6:.2f} MB, {elapsed:.1f} s "
        f"({frames / max(elapsed, 1e-9):.0f} frames/s, "
        f"{frames / plan.fps / max(elapsed, 1e-9):.0f}x real time), {args.jobs} jobs, "
        f"peak memory {peak:.0f} MiB\n"
    )
    return 0


def _serial(
    plan: VenuePlan, patch: Patch, first: int, frames: int, master: float
) -> Iterator[NDArray[np.uint8]]:
    """The one-process path: chunks of frames rendered here, in order."""
    block = np.zeros((CHUNK, len(patch.universes) * 512), np.uint8)
    for start in range(0, frames, CHUNK):
        n = min(CHUNK, frames - start)
        render_frames(plan, patch, first + start, block[:n], master)
        yield block[:n]
