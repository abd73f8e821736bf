"""L8 `citypulse preview`: pictures of the digital twin (PNG still, GIF, cue sheet)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from PIL import Image

from controller.cli import validators
from controller.cli.common import ArgumentError, load_venue, resolve_time
from controller.files import replace_atomic
from controller.preview.render_preview import PlanPreview

__all__ = ["register", "save_atomic"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "preview",
        help="draw the venue from above as the show lights it (PNG, GIF, or a cue sheet)",
        description="Draw the venue's digital twin from above: buildings, and every light in "
        "the colour and level it shows. -o x.png with --at: one frame; -o x.gif with "
        "--from/--to: an animation; --sheet: one picture per cue. Times are seconds or cue "
        "references such as 'ignition+2'.",
    )
    p.add_argument("show", type=Path, metavar="SHOW")
    p.add_argument("--venue", help="venue id (required when the show has several)")
    p.add_argument("-o", "--output", type=Path, required=True, help="PNG or GIF file")
    p.add_argument("--at", default="0", help="time of a still (seconds or cue[+s])")
    p.add_argument("--from", dest="start", help="animation start (default 0)")
    p.add_argument("--to", dest="end", help="animation end (default: start + 10 s)")
    p.add_argument("--fps", type=float, default=10.0, help="animation frames per second")
    p.add_argument("--sheet", action="store_true", help="one picture per cue, in a grid")
    p.add_argument("--width", type=int, default=1400, help="picture width in pixels")
    p.set_defaults(handler=run)


def save_atomic(images: list[Image.Image], out: Path, *, duration_ms: int = 100) -> None:
    """Write a PNG or GIF without ever leaving a half-written file at `out`."""

    def save(tmp: Path) -> None:  # Pillow picks the format from the suffix, kept on `tmp`
        if len(images) == 1:
            images[0].save(tmp)
        else:
            images[0].save(
                tmp, save_all=True, append_images=images[1:], duration=duration_ms, loop=0
            )

    replace_atomic(out, save)


def run(args: argparse.Namespace) -> int:
    validators.input_file(args.show, "SHOW")
    validators.output_file(args.output, "--output", suffixes=(".png", ".gif"))
    suffix = args.output.suffix.lower()
    validators.integer(args.width, "--width", lo=200, hi=8000)
    validators.number(args.fps, "--fps", lo=0.5, hi=50.0)
    job = load_venue(args.show, args.venue)
    preview = PlanPreview(job.plan, show_name=job.loaded.show.name, width=args.width)
    if args.sheet:
        images = [preview.sheet()]
    elif suffix == ".gif":
        start = resolve_time(args.start or "0", job.loaded, "--from")
        end = (
            resolve_time(args.end, job.loaded, "--to")
            if args.end
            else min(start + 10.0, job.plan.duration)
        )
        if end <= start:
            raise ArgumentError("--to", f"end {end:g} s is not after start {start:g} s")
        if (end - start) * args.fps > 2000:
            raise ArgumentError("--to", "more than 2000 frames; shorten the range or lower --fps")
        images = preview.animation(start, end, args.fps)
    else:
        images = [preview.still(resolve_time(args.at, job.loaded, "--at"))]
    save_atomic(images, args.output, duration_ms=round(1000 / args.fps))
    sys.stderr.write(
        f"wrote {args.output} ({len(images)} frame{'s' if len(images) != 1 else ''})\n"
    )
    return 0
