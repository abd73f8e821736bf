"""L8 `citypulse fseq info FILE` and `citypulse fseq diff A B`.

Rules:
- A defect in a file prints `PATH: error[F1xx]: message` (codes in `controller.fseq.format`)
  and exits 2; no traceback.
- The 'cp' variable header (what `citypulse render` stores: show, name, venue, fps,
  universes) is data from whoever made the file. It is checked field by field; one that is
  not what render writes is a warning (F107) and the block is ignored. Its text is shown
  escaped (`repr`).
- A file never makes us read another file: the show path in 'cp' is never opened (it may
  name a FIFO, /dev/zero or a private file whose lines an error message would echo).
  `fseq diff` names channels by fixture only from the show given with `--show`, and says so
  when the header names one.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.cli import validators
from controller.cli.common import load_venue
from controller.fseq import FseqDiff, FseqFormatError, FseqReader, diff_fseq, info_fseq
from controller.patch.patcher import slot_owner
from controller.show.rig import MAX_UNIVERSE

__all__ = ["register"]

_VENUE_ID = re.compile(r"[a-z0-9][a-z0-9_-]*")  # rig.Venue.id
_MAX_TEXT = 1024


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
        "they differ. Channels are named by fixture and attribute with --show (and --venue, "
        "by default the venue A's 'cp' header names); the show path stored in a file is "
        "never opened.",
    )
    diff.add_argument("a", type=Path, metavar="A")
    diff.add_argument("b", type=Path, metavar="B")
    diff.add_argument("--show", type=Path, help="show to name channels by")
    diff.add_argument("--venue", help="venue of --show (default: from A's 'cp' header)")
    diff.add_argument("--max", type=int, default=20, help="channels to list (default 20)")
    diff.add_argument("--json", action="store_true")
    diff.set_defaults(handler=run_diff)


@dataclass(frozen=True, slots=True)
class RenderMeta:
    """The 'cp' header `citypulse render` writes, checked."""

    show: str
    name: str
    venue: str
    fps: float
    universes: tuple[int, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "show": self.show,
            "name": self.name,
            "venue": self.venue,
            "fps": self.fps,
            "universes": list(self.universes),
        }


def _text(value: object) -> bool:
    return isinstance(value, str) and len(value) <= _MAX_TEXT


def _problem(meta: dict[str, object]) -> str | None:
    """What is wrong with a decoded 'cp' object, or None."""
    fps, universes = meta.get("fps"), meta.get("universes")
    checks = (
        ("show", _text(meta.get("show")), "a path (text)"),
        ("name", _text(meta.get("name")), "text"),
        ("venue", _text(meta.get("venue")) and _VENUE_ID.fullmatch(str(meta["venue"])), "a venue id"),
        (
            "fps",
            isinstance(fps, int | float) and not isinstance(fps, bool) and math.isfinite(fps)
            and fps > 0,
            "a number > 0",
        ),
        (
            "universes",
            isinstance(universes, list)
            and all(type(u) is int and 1 <= u <= MAX_UNIVERSE for u in universes),
            f"a list of universes 1..{MAX_UNIVERSE}",
        ),
    )  # fmt: skip
    for key, ok, what in checks:
        if not ok:
            got = "missing" if key not in meta else f"got {_short(meta[key])}"
            return f"{key!r} must be {what} ({got})"
    return None


def _short(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def _meta(reader: FseqReader) -> RenderMeta | None:
    """The checked 'cp' header; a warning (F107) on stderr when it is present but wrong."""
    raw = reader.variable_headers.get("cp")
    if raw is None:
        return None
    try:
        meta = json.loads(raw.rstrip(b"\0").decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        problem: str | None = "it is not JSON text"
    else:
        problem = "it is not a JSON object" if not isinstance(meta, dict) else _problem(meta)
    if problem is not None:
        sys.stderr.write(
            f"{reader.path}: warning[F107]: 'cp' header is not what citypulse render writes:"
            f" {problem}; its metadata is ignored\n"
        )
        return None
    return RenderMeta(
        show=meta["show"],
        name=meta["name"],
        venue=meta["venue"],
        fps=float(meta["fps"]),
        universes=tuple(meta["universes"]),
    )


def run_info(args: argparse.Namespace) -> int:
    validators.input_file(args.file, "FILE", max_bytes=None)  # read block by block
    try:
        with FseqReader.open(args.file) as reader:
            info: dict[str, object] = dict(info_fseq(reader))
            meta = _meta(reader)
    except FseqFormatError as exc:
        sys.stderr.write(f"{exc.diagnostic()}\n")
        return 2
    if meta is not None:
        info["citypulse"] = meta.as_dict()
    if args.json:
        json.dump(info, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return 0
    for key, value in info.items():
        if key in ("blocks", "variable_headers", "citypulse"):
            continue
        sys.stdout.write(f"{key:>22}: {value}\n")
    if meta is not None:
        us = meta.universes
        span = f"{us[0]}..{us[-1]}" if us else "-"
        sys.stdout.write(
            f"{'citypulse':>22}: show {meta.name!r}, venue {meta.venue}, "
            f"{len(us)} universes ({span})\n"
        )
    return 0


def run_diff(args: argparse.Namespace) -> int:
    validators.input_file(args.a, "A", max_bytes=None)
    validators.input_file(args.b, "B", max_bytes=None)
    validators.integer(args.max, "--max", lo=0, hi=1_000_000)
    if args.show is not None:
        validators.input_file(args.show, "--show")
    try:
        with FseqReader.open(args.a) as a, FseqReader.open(args.b) as b:
            meta = _meta(a)
            if b.path != a.path:
                _meta(b)  # warn about B's header too
            result = diff_fseq(a, b, max_report=args.max)
            fps = 1000.0 / a.step_ms
    except FseqFormatError as exc:
        sys.stderr.write(f"{exc.diagnostic()}\n")
        return 2
    owners = _owners(args, meta, result)
    if args.json:
        _write_json(result, owners)
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
        for c, owner in zip(result.channels, owners, strict=True):
            named = f"  {owner}" if owner else ""
            sys.stdout.write(
                f"  channel {c.channel:>8}: {c.a:>3} -> {c.b:>3} ({c.delta:+d}){named}\n"
            )
        if args.show is None and meta is not None:
            sys.stdout.write(
                f"channels are not named: pass --show to name them by fixture ({args.a}'s 'cp'"
                f" header says it was rendered from {meta.show!r}; a path in a file is never"
                " opened)\n"
            )
    return 1


def _owners(
    args: argparse.Namespace, meta: RenderMeta | None, result: FseqDiff
) -> list[str | None]:
    """The fixture and attribute of each reported channel, from `--show` only."""
    if args.show is None or not result.channels:
        return [None] * len(result.channels)
    job = load_venue(args.show, args.venue or (meta.venue if meta is not None else None))
    slots = len(job.patch.slot_attr)
    return [
        str(slot_owner(job.patch, job.plan.twin, job.plan.elements, c.channel))
        if c.channel < slots
        else None
        for c in result.channels
    ]


def _write_json(result: FseqDiff, owners: list[str | None]) -> None:
    rows = [
        {"channel": c.channel, "a": c.a, "b": c.b, "delta": c.delta, "owner": owner}
        for c, owner in zip(result.channels, owners, strict=True)
    ]
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
