"""docs/security.md tells the truth: its golden envelope, reason codes and ACL are the code's."""

from __future__ import annotations

from pathlib import Path

from controller.protocols.signing import Reason
from controller.runtime.credentials import OPERATOR_KINDS
from controller.runtime.deployment import acl_text
from tests.security.test_signing import GOLDEN

DOC = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text(encoding="utf-8")


def test_the_envelope_example_is_the_golden_vector() -> None:
    assert f"```json\n{GOLDEN.decode()}\n```" in DOC


def test_every_reason_code_is_documented() -> None:
    for reason in Reason:
        assert f"| `{reason.value}` |" in DOC, reason


def test_the_operator_kinds_are_documented() -> None:
    assert f"(`{' '.join(OPERATOR_KINDS)}`)" in DOC


def test_the_role_table_matches_the_acl() -> None:
    acl = acl_text("s", ["v"])
    rows = {
        "conductor": "`state`, `cmd/submit`, `cmd/exec`, `cmd/result`, `time/resp/#`, "
        "`conductor/online`",
        "operator": "`cmd/submit`",
        "venue-v": "`status/v`, `time/req/v`, `look/v`",
    }
    for user, writes in rows.items():
        block = acl.split(f"user {user}\n")[1].split("\n\n")[0]
        written = [
            line.removeprefix("topic write citypulse/v1/s/")
            for line in block.splitlines()
            if line.startswith("topic write ")
        ]
        assert ", ".join(f"`{t}`" for t in written) == writes
        role = "venue-<id>" if user == "venue-v" else user
        shown = writes.replace("/v`", "/<id>`")
        assert f"| `{role}` | {shown} | the whole show |" in DOC
