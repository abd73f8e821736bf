"""L8 `citypulse schema show|rig|profile`: JSON Schema (Draft 2020-12) for editors."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pydantic import BaseModel

from controller.show.profile import FixtureProfile
from controller.show.rig import RigFile
from controller.show.timeline import ShowFile

__all__ = ["SCHEMAS", "json_schema", "register"]

SCHEMAS: dict[str, type[BaseModel]] = {"show": ShowFile, "rig": RigFile, "profile": FixtureProfile}


def json_schema(kind: str) -> dict[str, Any]:
    schema = SCHEMAS[kind].model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://citypulse.invalid/schema/{kind}.json",
        **schema,
    }


def register(sub: Any) -> None:
    p = sub.add_parser(
        "schema",
        help="print the JSON Schema of a file format (for editor completion)",
        description="Print the JSON Schema (Draft 2020-12) of the show, rig or profile format.",
    )
    p.add_argument("kind", choices=sorted(SCHEMAS), help="which format")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    json.dump(json_schema(args.kind), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0
