"""L8 `citypulse check SHOW...`: validate shows and their rigs, print a summary."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from controller.errors import Diagnostic, Severity, ShowValidationError
from controller.render.effects import default_registry
from controller.show.load import LoadedShow, load_show

__all__ = ["register", "show_summary"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "check",
        help="validate shows and every rig and profile they use; print a summary",
        description="Validate shows and every rig and profile they use, then print a summary. "
        "Problems print as path:line:col: error[CODE]: message; exit code 2 if any.",
    )
    p.add_argument("shows", nargs="+", type=Path, metavar="SHOW", help="show file(s)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--strict", action="store_true", help="treat warnings as errors")
    p.set_defaults(handler=run)


def show_summary(loaded: LoadedShow) -> dict[str, Any]:
    show = loaded.show
    venues: dict[str, dict[str, Any]] = {}
    for vid, twin in loaded.venues.items():
        venues[vid] = {
            "name": twin.venue.name,
            "city": twin.venue.city,
            "rig": twin.path,
            "fixtures": len(twin.fixtures),
            "elements": twin.n_elements,
            "pixels": twin.n_pixels,
            "universes": len(twin.universes),
            "channels": twin.n_channels,
            "outputs": len(twin.outputs),
        }
    totals = {
        k: sum(v[k] for v in venues.values())
        for k in ("fixtures", "pixels", "universes", "channels")
    }
    timed = sorted(
        (loaded.cue_times[c.name], c.name, c.hold) for c in show.cues if c.name in loaded.cue_times
    )
    cues = [{"name": name, "at": at, "hold": hold} for at, name, hold in timed]
    return {
        "show": loaded.path,
        "name": show.name,
        "fps": show.fps,
        "duration_s": show.duration,
        "frames": round(show.duration * show.fps),
        "venues": venues,
        "totals": totals,
        "cues": cues,
        "tracks": len(show.tracks),
        "clips": len(loaded.clips),
        "warnings": [str(w) for w in loaded.warnings],
    }


def _print_table(summary: dict[str, Any]) -> None:
    out = sys.stdout
    holds = sum(1 for c in summary["cues"] if c["hold"])
    out.write(
        f"{summary['show']}: ok - {summary['name']!r}, {summary['duration_s']:g} s at "
        f"{summary['fps']} fps ({summary['frames']} frames), {summary['tracks']} tracks, "
        f"{summary['clips']} clips, {len(summary['cues'])} cues ({holds} hold)\n"
    )
    cols = ("fixtures", "pixels", "universes", "channels", "outputs")
    out.write(f"  {'venue':<12}{'city':<12}" + "".join(f"{c:>11}" for c in cols) + "\n")
    for vid, v in summary["venues"].items():
        out.write(f"  {vid:<12}{v['city']:<12}" + "".join(f"{v[c]:>11}" for c in cols) + "\n")
    t = summary["totals"]
    out.write(f"  {'total':<24}" + "".join(f"{t.get(c, ''):>11}" for c in cols[:-1]) + "\n")
    cue_text = ", ".join(
        f"{c['name']} {c['at']:g}s{' (hold)' if c['hold'] else ''}" for c in summary["cues"]
    )
    out.write(f"  cues: {cue_text or 'none'}\n")


def run(args: argparse.Namespace) -> int:
    effects = default_registry()
    failed: list[Diagnostic] = []
    summaries = []
    for path in args.shows:
        try:
            loaded = load_show(path, effects)
        except ShowValidationError as exc:
            failed.extend(exc.diagnostics)
            continue
        if args.strict and loaded.warnings:  # printed once, as errors, by the caller
            failed.extend(replace(w, severity=Severity.ERROR) for w in loaded.warnings)
            continue
        for w in loaded.warnings:
            sys.stderr.write(f"{w}\n")
        summary = show_summary(loaded)
        summaries.append(summary)
        if not args.json:
            _print_table(summary)
    if args.json and summaries:
        json.dump(summaries if len(summaries) > 1 else summaries[0], sys.stdout, indent=2)
        sys.stdout.write("\n")
    if failed:
        raise ShowValidationError(failed)
    return 0
