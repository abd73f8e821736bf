"""The operator's command path shared by `citypulse cmd` and the console: verb -> signed envelope."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from controller.protocols.signing import Verifier
from controller.runtime.commands import CommandError, CommandKind
from controller.runtime.credentials import OPERATOR_KINDS, Credentials
from controller.runtime.operator import TTL_S, command_args, operator_command, sign_command

NOW = 1767225600.0


def operator(key: Ed25519PrivateKey | None) -> Credentials:
    return Credentials(role="operator", node="operator", show="trio",
                       broker="mqtt://127.0.0.1:1883", username="operator", password="x",
                       signing_key=key)  # fmt: skip


@pytest.mark.parametrize(
    ("verb", "arg", "args"),
    [("arm", None, ()), ("blackout", "on", (True,)), ("blackout", "off", (False,)),
     ("goto", "finale", ("finale",)), ("master", "0.5", (0.5,)), ("seek", "12", (12.0,))],
)  # fmt: skip
def test_text_arguments_become_typed_ones(verb: str, arg: str | None, args: tuple[object]) -> None:
    assert command_args(verb, arg) == args


@pytest.mark.parametrize(
    ("verb", "arg", "message"),
    [("go", "now", "go takes no argument, got 'now'"), ("goto", None, "goto needs an argument"),
     ("blackout", "yes", "blackout takes on or off, got 'yes'"),
     ("master", "loud", "master takes a number, got 'loud'"),
     ("master", "2", "master=2.0 out of range 0..1"), ("dance", None, "'dance' is not one of")],
)  # fmt: skip
def test_bad_verbs_and_arguments_say_why(verb: str, arg: str | None, message: str) -> None:
    with pytest.raises(CommandError, match="^" + message.replace("(", r"\(")):
        operator_command(verb, arg, origin="console:ada")


def test_the_envelope_verifies_with_the_operator_key_and_names_the_origin() -> None:
    key = Ed25519PrivateKey.generate()
    command = operator_command("goto", "finale", origin="console:ada", exec_at=NOW + 5)
    envelope = sign_command(operator(key), command, NOW)
    verifier = Verifier(
        public_keys={"operator": key.public_key()}, acl={"operator": OPERATOR_KINDS}
    )
    verified = verifier.verify(envelope, NOW + 1)
    assert verified.command == command.as_dict()
    assert verified.command["origin"] == "console:ada"
    assert command.kind is CommandKind.GOTO
    assert command.id.startswith("op-")
    body = json.loads(envelope)
    assert body["expires_at"] - body["issued_at"] == TTL_S


def test_credentials_without_a_signing_key_cannot_sign() -> None:
    with pytest.raises(CommandError, match="carry no signing key"):
        sign_command(operator(None), operator_command("go", None, origin="cli"), NOW)
