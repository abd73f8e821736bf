"""`python -m simulator.capture`: measure cross-venue frame skew from the wire.

Exit codes: 0 ok, 2 usage or a value that does not fit (printed as
`capture: error[CODE]: --option: message`, never a traceback).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import math
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from simulator.capture import CaptureError, capture, default_names

__all__ = ["main"]

PROG = "capture"


class _UsageError(Exception):
    def __init__(self, message: str, usage: str) -> None:
        super().__init__(message)
        self.usage = usage


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(message, self.format_usage())


class OptionError(Exception):
    """A value given for `option` that does not fit."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")


def _parser() -> _Parser:
    p = _Parser(
        prog="python -m simulator.capture",
        description="Listen on one UDP port per venue (127.0.0.1), stamp every datagram in the "
        "kernel (SO_TIMESTAMPNS), time each venue's frames by its ArtSync / sACN sync packets "
        "(or the first data packet of a frame without sync), and report cross-venue skew "
        "p50/p99/max, missing and bunched frames.",
    )
    p.add_argument("--ports", required=True, help="one UDP port per venue, comma separated")
    p.add_argument(
        "--seconds", type=float, required=True, help="how long to capture (Ctrl-C ends early)"
    )
    p.add_argument("--names", help="venue names, one per port (default: the port numbers)")
    p.add_argument("--reference", help="the venue others are compared with (default: the first)")
    p.add_argument("--fps", type=float, help="frame rate (default: measured on the reference)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--series", action="store_true", help="include every frame time in the JSON")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    return p


def _ports(text: str) -> list[int]:
    ports = []
    for item in text.split(","):
        item = item.strip()
        if not (item.isascii() and item.isdigit() and 0 <= int(item) <= 65535):
            raise OptionError("--ports", f"{item!r} is not a port number 0..65535")
        ports.append(int(item))
    used = [p for p in ports if p]
    if len(set(used)) != len(used):
        raise OptionError("--ports", f"{text!r} names a port twice")
    return ports


def _options(args: argparse.Namespace) -> dict[str, Any]:
    ports = _ports(args.ports)
    if not (math.isfinite(args.seconds) and 0 < args.seconds <= 86400):
        raise OptionError("--seconds", f"{args.seconds!r} out of range (0, 86400]")
    names = [n.strip() for n in args.names.split(",")] if args.names else list(default_names(ports))
    if len(names) != len(ports) or not all(names) or len(set(names)) != len(names):
        raise OptionError(
            "--names", f"{args.names!r}: give {len(ports)} distinct names, one per port"
        )
    if args.reference is not None and args.reference not in names:
        raise OptionError("--reference", f"{args.reference!r} is not one of {', '.join(names)}")
    try:
        ipaddress.IPv4Address(args.host)
    except ValueError as exc:
        raise OptionError("--host", f"{args.host!r} is not an IPv4 address") from exc
    if args.fps is not None and not (math.isfinite(args.fps) and 1 <= args.fps <= 1000):
        raise OptionError("--fps", f"{args.fps!r} out of range 1..1000")
    return {
        "ports": ports, "seconds": args.seconds, "names": names, "host": args.host,
        "period_s": None if args.fps is None else 1.0 / args.fps,
        "reference": args.reference, "keep_series": args.series,
    }  # fmt: skip


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def table(result: dict[str, Any]) -> str:
    """The report as a plain-text table."""
    lines = [f"period {_fmt(result['period_ms'])} ms, captured {result['seconds']} s"]
    skew = result["skew"]
    lines.append(f"{'venue':<14}{'port':>6}{'source':>11}{'frames':>8}{'missing':>9}{'bunched':>9}")
    for name, venue in result["venues"].items():
        summary = skew["venues"][name] if skew else {"missing": "-", "bunched": "-"}
        lines.append(
            f"{name:<14}{venue['port']:>6}{venue['source']:>11}{venue['frames']:>8}"
            f"{summary['missing']:>9}{summary['bunched']:>9}"
        )
    if not skew:
        lines.append("no frame skew: no frames, or the period is unknown")
        return "\n".join(lines)
    lines.append(
        f"skew vs {skew['reference']} (ms){'mean':>9}{'p50':>9}{'p99':>9}{'max':>9}{'frames':>8}"
    )
    rows = [(p["venue"], p["mean_signed_ms"], p["skew_ms"], p["frames"]) for p in skew["pairs"]]
    overall = skew["overall"]
    rows.append(("all |skew|", None, overall["skew_ms"], overall["frames"]))
    rows.append(("spread", None, overall["spread_ms"], overall["frames_complete"]))
    for label, mean, stats, frames in rows:
        lines.append(
            f"{label:<22}{_fmt(mean):>9}{_fmt(stats['p50']):>9}{_fmt(stats['p99']):>9}"
            f"{_fmt(stats['max']):>9}{frames:>8}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        sys.stderr.write(exc.usage)
        sys.stderr.write(f"{PROG}: error[A001]: {exc}\n")
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    try:
        options = _options(args)

        def ready(ports: tuple[int, ...]) -> None:
            where = ", ".join(
                f"{n}={args.host}:{p}" for n, p in zip(options["names"], ports, strict=True)
            )
            sys.stderr.write(f"{PROG}: listening on {where} for {args.seconds:g} s\n")

        result = capture(on_ready=ready, **options)
    except OptionError as exc:
        sys.stderr.write(f"{PROG}: error[A002]: {exc}\n")
        return 2
    except CaptureError as exc:
        sys.stderr.write(f"{PROG}: error[A002]: --ports: {exc}\n")
        return 2
    sys.stdout.write(json.dumps(result, indent=2) + "\n" if args.json else table(result) + "\n")
    return 0
