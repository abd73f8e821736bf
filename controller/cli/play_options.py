"""L8 the playing options `run` and `venue` share: where frames go, the tap, the shards.

Kept free of the render stack: `citypulse venue` parses and checks them before it imports
what it plays with (it loads the show while it connects to the bus, `venue_cmd`).
"""

from __future__ import annotations

import argparse

from controller.cli import validators
from controller.errors import ArgumentError

__all__ = ["OUTPUTS", "add_shards_argument", "add_tap_argument", "check_shards", "tap_target"]

OUTPUTS = ("rig", "sim", "artnet", "sacn", "enttec", "opendmx", "osc")


def add_tap_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tap", metavar="HOST:PORT",
        help="also send the first universe and an ArtSync every frame to HOST:PORT (Art-Net): "
        "a monitoring tap to measure when frames leave, e.g. for `python -m simulator.capture`",
    )  # fmt: skip


def tap_target(text: str | None) -> tuple[str, int] | None:
    """`--tap HOST:PORT` checked: an IPv4 host and a port 1..65535."""
    if text is None:
        return None
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ArgumentError("--tap", f"{text!r}: use HOST:PORT, e.g. 127.0.0.1:5001")
    return validators.host(host, "--tap"), validators.port(int(port), "--tap", allow_zero=False)


def add_shards_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--shards", type=int, default=1, metavar="N",
        help="split the venue into N processes, each compiling, rendering and sending a "
        "share of its universes on the one frame grid (default 1: one process)",
    )  # fmt: skip


def check_shards(args: argparse.Namespace) -> int:
    """`--shards` checked: 1..64; more than one needs real outputs in real time."""
    n = args.shards
    if n == 1 and isinstance(n, int):
        return 1  # the default: nothing of the shards' machinery is imported
    from controller.runtime.shards import MAX_SHARDS

    if not isinstance(n, int) or not 1 <= n <= MAX_SHARDS:
        raise ArgumentError("--shards", f"{n!r} out of range 1..{MAX_SHARDS}")
    if getattr(args, "virtual", False):
        raise ArgumentError("--shards", "shards play in real time (not with --virtual)")
    if args.output == "sim":
        raise ArgumentError("--shards", "the simulator takes one process (--output sim)")
    for option in ("osc_in", "record", "preview"):
        if getattr(args, option, None) is not None:
            flag = "--" + option.replace("_", "-")
            raise ArgumentError("--shards", f"cannot be combined with {flag}")
    return n
