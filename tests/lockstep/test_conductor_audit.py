"""The conductor's audit log names who asked: the command's origin (`console:<user>`, `cli`)."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from controller.runtime.audit import AuditLog
from controller.runtime.commands import Command, CommandKind
from tests.lockstep.test_conductor_core import NOW, Audit, conductor, signed


def test_every_line_of_an_operators_command_names_its_origin() -> None:
    keys = tuple(Ed25519PrivateKey.generate() for _ in range(3))
    audit = Audit()
    core = conductor(keys, audit)
    core.submit(signed(keys[0], Command(kind=CommandKind.ARM, id="a1", origin="console:ada")), NOW)
    core.advance(NOW + 1.0)
    assert [(e, f.get("origin")) for e, f in audit.events] == [
        ("received", "console:ada"),
        ("accepted", "console:ada"),
        ("executed", "console:ada"),
    ]


def test_the_origin_is_written_after_the_other_fields_and_only_when_known(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog.open(path, node="conductor") as log:
        log.record("accepted", local_time=None, shared_time=5.0, issuer="operator",
                   command_id="a1", kind="arm", exec_at=5.1, origin="console:ada")  # fmt: skip
        log.record("received", local_time=None, issuer="operator", command_id="a2", kind="go")
    first, second = (json.loads(line) for line in path.read_text().splitlines())
    assert list(first)[-2:] == ["exec_at", "origin"]
    assert first["origin"] == "console:ada"
    assert "origin" not in second
