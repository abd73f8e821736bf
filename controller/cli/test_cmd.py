"""L8 `citypulse test SHOW --expect FILE.yaml`: play a show into the simulator, check it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from controller.cli import validators
from controller.cli.common import ArgumentError, load_venue
from controller.errors import Diagnostic, ShowValidationError, SourceSpan
from controller.show.diagnostics import DiagnosticSink, validate_model
from controller.show.source import read_yaml

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "test",
        help="play a show into the simulator in virtual time and check expectations",
        description="Play one venue of a show, in virtual time, through the real outputs into "
        "the wire-level simulator, and check what the simulator received against an "
        "expectations file (see docs/show-tests.md). Exit 0 if every check passes, 1 if any "
        "fails, 2 for bad input.",
    )
    p.add_argument(
        "show", type=Path, nargs="?", metavar="SHOW", help="show file (default: 'show:' in FILE)"
    )
    p.add_argument("--expect", type=Path, required=True, metavar="FILE.yaml")
    p.add_argument("--venue", help="venue (default: 'venue:' in FILE)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from simulator.expect import ExpectFile
    from simulator.showtest import load_spec_path, run_show_test

    validators.input_file(args.expect, "--expect")
    if args.show is not None:
        validators.input_file(args.show, "SHOW")
    sink = DiagnosticSink()
    doc = read_yaml(args.expect)
    spec = validate_model(ExpectFile, doc, sink)
    sink.raise_if_errors()
    assert spec is not None
    try:
        show = load_spec_path(args.show, args.expect, spec)
    except ValueError as exc:
        raise ArgumentError("SHOW", str(exc)) from exc
    job = load_venue(show, args.venue or spec.venue)
    try:
        report = run_show_test(job, spec)
    except ValueError as exc:  # a time or colour in the file that does not resolve
        span = doc.span(("checks",)) if "checks" in str(exc) else SourceSpan(path=doc.path)
        raise ShowValidationError([Diagnostic(code="T301", message=str(exc), span=span)]) from exc
    except ArgumentError as exc:
        raise ShowValidationError(
            [Diagnostic(code="T301", message=str(exc), span=_span_for(doc, exc.option))]
        ) from exc
    results = [*report.checks, *report.stream]
    if args.json:
        json.dump(
            {
                "passed": report.passed,
                "venue": report.venue,
                "frames": report.frames,
                "checks": [
                    {"name": r.name, "passed": r.passed and r.reached, "detail": r.detail}
                    for r in results
                ],
                "simulator": report.simulator,
            },
            sys.stdout,
            indent=2,
            default=str,
        )
        sys.stdout.write("\n")
    else:
        out = sys.stdout
        out.write(
            f"{show}: venue {report.venue}, {report.frames} frames to {report.position:.2f} s\n"
        )
        for r in results:
            mark = "PASS" if r.passed and r.reached else "FAIL"
            out.write(f"  {mark}  {r.name}: {r.detail}\n")
        failed = sum(1 for r in results if not (r.passed and r.reached))
        out.write(f"{len(results) - failed} passed, {failed} failed\n")
    return 0 if report.passed else 1


def _span_for(doc: Any, option: str) -> SourceSpan:
    if option.startswith("checks["):
        index = int(option[len("checks[") : option.index("]")])
        key = option.rsplit(".", maxsplit=1)[-1]
        return doc.span(("checks", index, key))  # type: ignore[no-any-return]
    return doc.span((option,))  # type: ignore[no-any-return]
