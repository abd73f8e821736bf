"""Credential files: round trip, located errors with exact messages, permissions, TOML text."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.errors import ShowValidationError
from controller.protocols.signing import encode_public_key, sign
from controller.runtime.credentials import (
    ALL_KINDS,
    Credentials,
    CredentialsError,
    load_credentials,
)
from controller.runtime.toml_text import locate_keys, toml_key, toml_string
from controller.transports.bus_address import BrokerAddress

FAST = settings(max_examples=min(100, settings().max_examples), deadline=None)
CONDUCTOR = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OPERATOR = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
CPUB = encode_public_key(CONDUCTOR.public_key())
OPUB = encode_public_key(OPERATOR.public_key())

VENUE = f"""\
role = "venue-lhasa"
node = "lhasa"
show = "digital-night"
broker = "mqtt://127.0.0.1:1883"
username = "venue-lhasa"
password = "pw"

[trusted_keys]
conductor = "{CPUB}"

[acl]
conductor = ["go", "hold"]
"""


def write(tmp_path: Path, text: str, mode: int = 0o600, name: str = "c.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def errors(path: Path) -> list[str]:
    with pytest.raises(CredentialsError) as info:
        load_credentials(path)
    return str(info.value).splitlines()


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # diagnostics name files relative to the working directory


def test_a_venue_file_loads(tmp_path: Path) -> None:
    creds = load_credentials(write(tmp_path, VENUE))
    assert (creds.role, creds.node, creds.show, creds.username) == (
        "venue-lhasa",
        "lhasa",
        "digital-night",
        "venue-lhasa",
    )
    assert creds.broker_address == BrokerAddress("127.0.0.1", 1883, tls=False)
    assert creds.topics.cmd_exec == "citypulse/v1/digital-night/cmd/exec"
    assert creds.signing_key is None
    assert creds.tls_ca is None
    assert creds.acl == {"conductor": frozenset({"go", "hold"})}
    assert "pw" not in repr(creds)
    # its verifier trusts the conductor for the kinds in the file, and no one else
    go: dict[str, object] = {"kind": "go", "args": [], "id": "c1", "origin": "x", "exec_at": None}
    envelope = sign(go, "conductor", CONDUCTOR, 100.0, 10.0, "0" * 32)
    assert creds.verifier().verify(envelope, 101.0).kind == "go"


def test_round_trip_through_to_toml(tmp_path: Path) -> None:
    (tmp_path / "tls").mkdir()
    (tmp_path / "tls" / "ca.crt").write_text("x")
    (tmp_path / "credentials").mkdir()
    creds = Credentials(
        role="operator",
        node="operator",
        show="digital-night",
        broker="mqtts://[::1]:8883",
        username="operator",
        password='p"w\\\n\u00e9',
        tls_ca=Path("../tls/ca.crt"),
        signing_key=OPERATOR,
        trusted_keys={"conductor": CONDUCTOR.public_key()},
        acl={"conductor": frozenset(ALL_KINDS)},
    )
    text = creds.to_toml(header="citypulse credentials\nkeep secret")
    assert text.startswith('# citypulse credentials\n# keep secret\nrole = "operator"\n')
    path = write(tmp_path / "credentials", text, name="operator.toml")
    back = load_credentials(path)
    assert back.password == creds.password
    assert back.tls_ca == tmp_path / "credentials" / "../tls/ca.crt"
    assert back.signing_key is not None
    assert back.signing_key.private_bytes_raw() == OPERATOR.private_bytes_raw()
    assert back.trusted_keys == {"conductor": CONDUCTOR.public_key()}
    assert back.acl == {"conductor": frozenset(ALL_KINDS)}
    assert back.broker_address == BrokerAddress("::1", 8883, tls=True)


def test_group_readable_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, VENUE, mode=0o640)
    assert errors(path) == [
        (
            "c.toml:1:1: error[K103]: permissions 0640 are too open for a file holding a password "
            "or a key (group or others may use it); run: chmod 600 c.toml"
        )
    ]


def test_missing_file(tmp_path: Path) -> None:
    assert errors(tmp_path / "nope.toml") == ["nope.toml:1:1: error[K101]: file not found"]
    assert errors(tmp_path) == [".:1:1: error[K101]: not a regular file (a directory)"]


def test_syntax_error_is_located(tmp_path: Path) -> None:
    path = write(tmp_path, VENUE.replace('node = "lhasa"', 'node = "lhasa'))
    assert errors(path) == ["c.toml:2:14: error[K102]: Illegal character '\\n'"]
    path = write(tmp_path, VENUE + "x = ")
    assert errors(path) == ["c.toml:13:5: error[K102]: Invalid value"]


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_bytes(b'role = "\xff"\n')
    path.chmod(0o600)
    assert errors(path) == ["c.toml:1:1: error[K102]: file is not UTF-8 text: byte 0xff"]


def test_every_problem_is_reported_at_its_place(tmp_path: Path) -> None:
    text = (
        VENUE.replace('"venue-lhasa"\nnode', '"venue-lhasa"\ncolour = 1\nnode')
        .replace('node = "lhasa"', 'node = "beijing"')
        .replace('username = "venue-lhasa"', "username = 7")
        .replace('broker = "mqtt://127.0.0.1:1883"', 'broker = "http://x"')
        .replace('password = "pw"', 'password = "pw"\nsigning_key = "AAAA"')
        .replace('["go", "hold"]', '["go", "jump"]')
        + 'mallory = "AAAA"\n'
    )
    assert errors(write(tmp_path, text)) == [
        (
            "c.toml:2:1: error[K104]: unknown key 'colour' (known: role, node, show, broker, "
            "username, password, tls_ca, signing_key, trusted_keys, acl)"
        ),
        "c.toml:3:8: error[K105]: node='beijing' does not match role='venue-lhasa'",
        (
            "c.toml:5:10: error[K105]: broker URL 'http://x' must start with mqtt:// or mqtts:// "
            "(e.g. mqtt://127.0.0.1:1883)"
        ),
        "c.toml:6:12: error[K104]: 'username' must be a string, got integer",
        "c.toml:8:1: error[K106]: role 'venue-lhasa' does not sign commands; remove 'signing_key'",
        "c.toml:14:13: error[K105]: acl 'conductor': unknown command kind 'jump' (kinds: "
        + ", ".join(ALL_KINDS)
        + ")",
        "c.toml:15:11: error[K104]: acl 'mallory' must be an array of command kinds",
    ]


def test_missing_keys_and_tables(tmp_path: Path) -> None:
    assert errors(write(tmp_path, 'role = "operator"\n')) == [
        "c.toml:1:1: error[K104]: missing key 'broker'",
        "c.toml:1:1: error[K104]: missing key 'node'",
        "c.toml:1:1: error[K104]: missing key 'password'",
        "c.toml:1:1: error[K104]: missing key 'show'",
        "c.toml:1:1: error[K104]: missing key 'username'",
        "c.toml:1:1: error[K104]: missing table [trusted_keys]",
        "c.toml:1:1: error[K106]: role 'operator' signs commands: missing key 'signing_key'",
    ]


def test_bad_values(tmp_path: Path) -> None:
    text = (
        VENUE.replace('role = "venue-lhasa"', 'role = "admin"')
        .replace('show = "digital-night"', 'show = "a/b"')
        .replace('password = "pw"', 'password = ""\ntls_ca = "missing.crt"')
        .replace(f'conductor = "{CPUB}"', 'conductor = "AAAA"\nop = 1\n"x y" = "z"')
    )
    assert errors(write(tmp_path, text)) == [
        "c.toml:1:8: error[K105]: role='admin' is not 'conductor', 'operator' or 'venue-<id>'",
        (
            "c.toml:3:8: error[K105]: show='a/b' is not a name (letters, digits, '_', '.', '-'; at "
            "most 64)"
        ),
        "c.toml:6:12: error[K105]: password must not be empty",
        (
            "c.toml:7:10: error[K105]: tls_ca is set but broker='mqtt://127.0.0.1:1883' does not use "
            "TLS (mqtts://)"
        ),
        "c.toml:7:10: error[K105]: tls_ca: no such file: missing.crt",
        "c.toml:10:13: error[K105]: trusted key 'conductor': public key is 3 bytes, expected 32",
        "c.toml:11:6: error[K104]: trusted key 'op' must be a string, got integer",
        "c.toml:12:1: error[K105]: issuer 'x y' is not a name",
        (
            "c.toml:15:1: error[K105]: acl names issuer 'conductor', which has no key in "
            "[trusted_keys]"
        ),
    ]


def test_credentials_error_is_what_the_cli_prints_as_located_diagnostics(tmp_path: Path) -> None:
    """`citypulse` prints a ShowValidationError one diagnostic a line and exits 2."""
    path = write(tmp_path, VENUE, mode=0o644)
    with pytest.raises(ShowValidationError) as info:
        load_credentials(path)
    assert isinstance(info.value, CredentialsError)
    assert [d.code for d in info.value.diagnostics] == ["K103"]


# --- TOML text ------------------------------------------------------------------------------

scalar_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)


@FAST
@given(scalar_text, scalar_text)
def test_toml_strings_and_keys_round_trip(key: str, value: str) -> None:
    text = f"{toml_key(key)} = {toml_string(value)}\n"
    assert tomllib.loads(text) == {key: value}
    assert list(locate_keys(text)) == [(key,)]


def test_toml_string_refuses_a_lone_surrogate() -> None:
    with pytest.raises(ValueError, match="is not Unicode text"):
        toml_string("a\udcffb")


def test_locate_keys_reads_tables_and_quoted_keys() -> None:
    text = 'a = 1\n  "b c" = 2\n[t]  # table\nx=3\n'
    got = {k: (p.line, p.key_column, p.value_column) for k, p in locate_keys(text).items()}
    assert got == {
        ("a",): (1, 1, 5),
        ("b c",): (2, 3, 11),
        ("t",): (3, 1, 1),
        ("t", "x"): (4, 1, 3),
    }
