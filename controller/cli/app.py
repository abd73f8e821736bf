"""L8 `citypulse` entry point: parse arguments, dispatch, map errors to exit codes.

Exit codes: 0 ok, 1 runtime failure (a test that failed, an output that died),
2 usage or validation error. Errors print as `where: error[CODE]: message`; no traceback
reaches the user for anything they typed or wrote.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from controller import __version__
from controller.errors import ArgumentError, ControllerError, ShowValidationError

__all__ = ["main"]

Handler = Callable[[argparse.Namespace], int]


class UsageError(Exception):
    def __init__(self, prog: str, message: str, usage: str) -> None:
        super().__init__(message)
        self.prog = prog
        self.message = message
        self.usage = usage


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so `main` owns the exit code."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(self.prog, message, self.format_usage())


# Commands whose start-up time is a measured figure, registered alone when they are the one
# run: importing every other command (the render stack among them) costs most of a second.
# `render`: its end-to-end speed (BENCHMARKS.md); `venue`: a late join is counted from the
# process start, and the venue imports its render stack while it connects (venue_cmd).
SOLO = ("render", "venue")


def build_parser(only: str | None = None) -> Parser:
    """Every command, or just `only` (one of `SOLO`)."""
    parser = Parser(
        prog="citypulse",
        description="Show controller for city-scale lighting ceremonies.",
        epilog="Show format: shows/README.md. Fixture and rig format: fixtures/README.md.",
    )
    parser.add_argument("--version", action="version", version=f"citypulse {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    if only == "render":
        from controller.cli import render_cmd

        render_cmd.register(sub)
        return parser
    if only == "venue":
        from controller.cli import venue_cmd

        venue_cmd.register(sub)
        return parser
    from controller.cli import check_cmd, schema_cmd

    check_cmd.register(sub)
    schema_cmd.register(sub)
    _register_optional(sub)
    return parser


def _register_optional(sub: argparse._SubParsersAction[Parser]) -> None:
    """The other commands. Their imports are not guarded: every dependency is required
    (pyproject.toml), so a broken install fails here, for every command."""
    from controller.cli import (
        bench_cmd,
        bus_cmd,
        conductor_cmd,
        console_cmd,
        demo_cmd,
        discover_cmd,
        fixtures_cmd,
        fseq_cmd,
        operator_cmd,
        preview_cmd,
        render_cmd,
        run_cmd,
        simulate_cmd,
        test_cmd,
        venue_cmd,
    )

    run_cmd.register(sub)
    simulate_cmd.register(sub)
    discover_cmd.register(sub)
    test_cmd.register(sub)
    render_cmd.register(sub)
    preview_cmd.register(sub)
    fseq_cmd.register(sub)
    fixtures_cmd.register(sub)
    bench_cmd.register(sub)
    bus_cmd.register(sub)
    conductor_cmd.register(sub)
    venue_cmd.register(sub)
    operator_cmd.register(sub)
    console_cmd.register(sub)
    demo_cmd.register(sub)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(only=words[0] if words[:1] and words[0] in SOLO else None)
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        sys.stderr.write(exc.usage)
        sys.stderr.write(f"{exc.prog}: error[A001]: {exc.message}\n")
        return 2
    except SystemExit as exc:  # --help / --version
        return int(exc.code or 0)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return handler(args)
    except ShowValidationError as exc:
        for diag in exc.diagnostics:
            sys.stderr.write(f"{diag}\n")
        n = len(exc.errors)
        sys.stderr.write(f"citypulse: {n} error{'s' if n != 1 else ''}\n")
        return 2
    except ArgumentError as exc:
        sys.stderr.write(f"citypulse {args.command}: error[A002]: {exc}\n")
        return 2
    except ControllerError as exc:
        sys.stderr.write(f"citypulse: error: {exc}\n")
        return 2
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as a process killed by SIGPIPE
        # would; stdout goes to /dev/null so the interpreter's final flush cannot fail.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except KeyboardInterrupt:
        sys.stderr.write("citypulse: interrupted\n")
        return 130
