"""L8 `citypulse fixtures ...`: fixture-profile tools (Open Fixture Library import)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from controller.cli import validators

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "fixtures", help="fixture-profile tools", description="Fixture-profile tools."
    )
    fsub = p.add_subparsers(dest="fixtures_command", metavar="ACTION", required=True)
    imp = fsub.add_parser(
        "import-ofl",
        help="convert an Open Fixture Library fixture (JSON, schema 12.x) into a profile",
        description="Convert an Open Fixture Library fixture (JSON, schema 12.x) into a "
        "citypulse profile. Prints the profile, or writes it with -o.",
    )
    imp.add_argument("file", type=Path, metavar="FILE.json")
    imp.add_argument("-o", "--output", type=Path, help="write the profile here (atomically)")
    imp.set_defaults(handler=run_import)


def run_import(args: argparse.Namespace) -> int:
    from controller.files import write_atomic
    from controller.show.ofl import import_ofl

    validators.input_file(args.file, "FILE.json")
    if args.output is not None:
        validators.output_file(args.output, "--output", what="profiles")
    result = import_ofl(args.file)
    for w in result.warnings:
        sys.stderr.write(f"{w}\n")
    if args.output is None:
        sys.stdout.write(result.yaml_text)
    else:
        write_atomic(args.output, result.yaml_text)
        sys.stderr.write(
            f"wrote {args.output} ({result.profile.name}, {len(result.profile.modes)} modes)\n"
        )
    return 0
