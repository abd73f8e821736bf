"""`citypulse bus init`: the files, their modes and keys, refusals with exact messages, TLS."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from controller.protocols.signing import CommandRejected, sign
from tests.security.deployments import (
    DIGITAL_NIGHT,
    MINI,
    client,
    credentials,
    free_port,
    init,
    running_broker,
)

ROLES = ["conductor", "operator", "venue-beijing", "venue-lhasa", "venue-singapore"]
GO: dict[str, object] = {"kind": "go", "args": [], "id": "c1", "origin": "op", "exec_at": None}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_writes_a_deployment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "deploy"
    code, out, err = init(capsys, str(DIGITAL_NIGHT), "deploy")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"wrote {d} for show 'digital-night' (3 venues), broker mqtt://127.0.0.1:1883:",
        (
            "  mosquitto.conf                    broker config: listener 127.0.0.1:1883, "
            "TCP_NODELAY, persistence in data/"
        ),
        "  passwd                            5 users, hashed by mosquitto_passwd",
        "  acl                               topic rights of each role",
        "  credentials/conductor.toml        role conductor (signs commands)",
        "  credentials/operator.toml         role operator (signs commands)",
        "  credentials/venue-beijing.toml    role venue-beijing",
        "  credentials/venue-lhasa.toml      role venue-lhasa",
        "  credentials/venue-singapore.toml  role venue-singapore",
        f"start the broker:  mosquitto -c {d}/mosquitto.conf",
        "give each node only its own credentials file (--credentials FILE); keep them secret",
    ]
    assert sorted(snapshot(d)) == sorted(
        ["mosquitto.conf", "passwd", "acl", *(f"credentials/{r}.toml" for r in ROLES)]
    )
    assert (mode(d / "passwd"), mode(d / "credentials"), mode(d / "data")) == (0o600, 0o700, 0o700)
    assert {mode(d / "credentials" / f"{r}.toml") for r in ROLES} == {0o600}
    conf = (d / "mosquitto.conf").read_text()
    for line in (
        "listener 1883 127.0.0.1",
        "set_tcp_nodelay true",
        "allow_anonymous false",
        "persistence true",
        f"persistence_location {d}/data/",
        f"password_file {d}/passwd",
        f"acl_file {d}/acl",
        f"log_dest file {d}/mosquitto.log",
    ):
        assert line in conf.splitlines()


def test_passwords_are_hashed_random_and_match_the_credentials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert init(capsys, str(DIGITAL_NIGHT), "deploy")[0] == 0
    d = tmp_path / "deploy"
    creds = {role: credentials(d, role) for role in ROLES}
    users = [line.split(":", 1) for line in (d / "passwd").read_text().splitlines()]
    assert [u for u, _ in users] == ROLES
    assert all(h.startswith("$7$") for _, h in users)  # mosquitto's PBKDF2-SHA512 hashes
    passwords = {c.password for c in creds.values()}
    assert len(passwords) == len(ROLES)
    assert all(len(p) >= 40 for p in passwords)
    assert not any(p in (d / "passwd").read_text() for p in passwords)
    assert [(c.role, c.username, c.node) for c in creds.values()] == [
        ("conductor", "conductor", "conductor"),
        ("operator", "operator", "operator"),
        ("venue-beijing", "venue-beijing", "beijing"),
        ("venue-lhasa", "venue-lhasa", "lhasa"),
        ("venue-singapore", "venue-singapore", "singapore"),
    ]


def test_keys_pair_up_across_roles(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert init(capsys, str(DIGITAL_NIGHT), "deploy")[0] == 0
    d = tmp_path / "deploy"
    conductor, operator = credentials(d, "conductor"), credentials(d, "operator")
    lhasa = credentials(d, "venue-lhasa")
    assert conductor.signing_key is not None
    assert operator.signing_key is not None
    assert lhasa.signing_key is None
    by_operator = sign(GO, "operator", operator.signing_key, 100.0, 10.0, "1" * 32)
    by_conductor = sign(GO, "conductor", conductor.signing_key, 100.0, 10.0, "2" * 32)
    # the conductor takes operators' submissions; venues take only the conductor's commands
    assert conductor.verifier().verify(by_operator, 101.0).issuer == "operator"
    assert lhasa.verifier().verify(by_conductor, 101.0).issuer == "conductor"
    with pytest.raises(CommandRejected, match=r"^unknown-issuer: "):
        lhasa.verifier().verify(by_operator, 101.0)
    adopt = {**GO, "kind": "adopt"}
    with pytest.raises(CommandRejected, match=r"^not-allowed: issuer 'operator' may not send"):
        conductor.verifier().verify(
            sign(adopt, "operator", operator.signing_key, 100.0, 10.0, "3" * 32), 101.0
        )


def test_an_existing_deployment_is_kept_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert init(capsys, str(MINI), "deploy")[0] == 0
    before = snapshot(tmp_path / "deploy")
    code, out, err = init(capsys, str(MINI), "deploy")
    assert (code, out) == (2, "")
    assert err == (
        "citypulse bus: error[A002]: DIR: 'deploy' already holds a deployment (mosquitto.conf); "
        "--force replaces it with new passwords and keys (every node then needs its new "
        "credentials file)\n"
    )
    assert snapshot(tmp_path / "deploy") == before


def test_force_replaces_and_drops_what_the_new_one_lacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = tmp_path / "deploy"
    assert init(capsys, str(DIGITAL_NIGHT), "deploy", "--tls")[0] == 0
    old = credentials(d, "conductor").password
    (d / "data" / "mosquitto.db").write_bytes(b"retained")  # the broker's: kept
    assert init(capsys, str(MINI), "deploy", "--force")[0] == 0
    assert sorted(snapshot(d)) == [
        "acl",
        "credentials/conductor.toml",
        "credentials/operator.toml",
        "credentials/venue-mini.toml",
        "data/mosquitto.db",
        "mosquitto.conf",
        "passwd",
    ]
    assert credentials(d, "conductor").password != old
    assert not any(p.name.startswith(".") for p in d.iterdir())  # no staging left behind


def test_a_failing_mosquitto_passwd_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert init(capsys, str(MINI), "deploy")[0] == 0
    before = snapshot(tmp_path / "deploy")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "mosquitto_passwd"
    fake.write_text("#!/bin/sh\necho 'Error: disk on fire' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    code, _, err = init(capsys, str(MINI), "deploy", "--force")
    assert code == 2
    assert err == f"citypulse: error: {fake} -U failed: Error: disk on fire\n"
    assert snapshot(tmp_path / "deploy") == before
    code, _, err = init(capsys, str(MINI), "new")  # a directory it made is removed again
    assert code == 2
    assert not (tmp_path / "new").exists()


def test_missing_mosquitto_passwd_says_to_run_setup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    code, _, err = init(capsys, str(MINI), "deploy")
    assert code == 2
    assert err == (
        "citypulse bus: error[A002]: mosquitto_passwd: not found on PATH (Debian package "
        "'mosquitto'); run scripts/setup to install it\n"
    )
    assert not (tmp_path / "deploy").exists()


@pytest.mark.parametrize(
    ("listen", "message"),
    [
        ("1883", "--listen: '1883' is not HOST:PORT (e.g. 127.0.0.1:1883)"),
        ("localhost:", "--listen: 'localhost:' is not HOST:PORT (e.g. 127.0.0.1:1883)"),
        (":1883", "--listen: ':1883' is not HOST:PORT (e.g. 127.0.0.1:1883)"),
        ("h:+5", "--listen: 'h:+5' is not HOST:PORT (e.g. 127.0.0.1:1883)"),
        ("h:٣", "--listen: 'h:٣' is not HOST:PORT (e.g. 127.0.0.1:1883)"),
        ("h:0", "--listen: port 0 out of range 1..65535"),
        ("h:65536", "--listen: port 65536 out of range 1..65535"),
        ("a b:1883", "--listen: host 'a b' is not a host name or address"),
        ("a\nb:1883", "--listen: host 'a\\nb' is not a host name or address"),
    ],
)
def test_bad_listen(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], listen: str, message: str
) -> None:
    code, _, err = init(capsys, str(MINI), "deploy", "--listen", listen)
    assert (code, err) == (2, f"citypulse bus: error[A002]: {message}\n")
    assert not (tmp_path / "deploy").exists()


def test_ipv6_listen_and_wildcards(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert init(capsys, str(MINI), "v6", "--listen", "[::1]:1884")[0] == 0
    assert "listener 1884 ::1" in (tmp_path / "v6" / "mosquitto.conf").read_text().splitlines()
    assert credentials(tmp_path / "v6", "operator").broker == "mqtt://[::1]:1884"


def test_bad_directories(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = init(capsys, str(MINI), "no/such/deploy")
    assert (code, err) == (
        2,
        f"citypulse bus: error[A002]: DIR: parent directory '{tmp_path}/no/such' does not exist\n",
    )
    (tmp_path / "file").write_text("x")
    code, _, err = init(capsys, str(MINI), "file")
    assert err == "citypulse bus: error[A002]: DIR: 'file' exists and is not a directory\n"
    code, _, err = init(capsys, str(MINI), "/proc/citypulse-deploy")
    assert err == (
        "citypulse bus: error[A002]: DIR: cannot write '/proc/citypulse-deploy': "
        "No such file or directory\n"
    )
    code, _, err = init(capsys, str(MINI), "a\nb")
    assert err == (
        f"citypulse bus: error[A002]: DIR: '{tmp_path}/a\\nb' holds a control character; "
        "mosquitto.conf cannot name it\n"
    )


def test_show_errors_are_located(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = init(capsys, str(tmp_path / "absent.yaml"), "deploy")
    assert (code, err) == (2, "absent.yaml:1:1: error[Y003]: file not found\ncitypulse: 1 error\n")
    rig = MINI.parent.parent / "rigs" / "mini.yaml"
    show = tmp_path / "bad.yaml"
    show.write_text(
        MINI.read_text().replace(
            "  mini: {rig: ../rigs/mini.yaml}", f"  'mini venue': {{rig: {rig}}}"
        )
    )
    code, _, err = init(capsys, str(show), "deploy")
    assert (code, err) == (
        2,
        (
            "bad.yaml:5:3: error[K107]: venue id 'mini venue' cannot be a bus user or topic name "
            "(letters, digits, '_', '.', '-'; at most 64)\ncitypulse: 1 error\n"
        ),
    )
    renamed = tmp_path / "my show.yaml"
    renamed.write_text(MINI.read_text().replace("../rigs/mini.yaml", str(rig)))
    code, _, err = init(capsys, str(renamed), "deploy")
    assert err == (
        "citypulse bus: error[A002]: SHOW: show id 'my show' (the file name) must be letters, "
        "digits, '_', '.', '-' (at most 64): it names the bus topics\n"
    )
    assert not (tmp_path / "deploy").exists()


def test_tls_material(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "deploy"
    assert init(capsys, str(MINI), "deploy", "--tls", "--listen", "127.0.0.1:8883")[0] == 0
    assert (mode(d / "tls" / "server.key"), mode(d / "tls" / "ca.crt")) == (0o600, 0o644)
    ca = x509.load_pem_x509_certificate((d / "tls" / "ca.crt").read_bytes())
    server = x509.load_pem_x509_certificate((d / "tls" / "server.crt").read_bytes())
    server.verify_directly_issued_by(ca)
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert isinstance(server.public_key(), ec.EllipticCurvePublicKey)
    conf = (d / "mosquitto.conf").read_text().splitlines()
    for name in ("cafile", "certfile", "keyfile"):
        assert any(line.startswith(f"{name} {d}/tls/") for line in conf)
    creds = credentials(d, "venue-mini")
    assert creds.broker == "mqtts://127.0.0.1:8883"
    assert creds.tls_ca == d / "credentials" / "../tls/ca.crt"


@pytest.mark.network
async def test_a_tls_deployment_runs_on_a_real_broker(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = tmp_path / "deploy"
    port = free_port()
    assert init(capsys, str(MINI), "deploy", "--tls", "--listen", f"127.0.0.1:{port}")[0] == 0
    conductor, venue = credentials(d, "conductor"), credentials(d, "venue-mini")
    with running_broker(d, port):
        async with client(venue, "mini") as listener:
            await listener.subscribe("citypulse/v1/mini/#", qos=1)
            async with client(conductor, "conductor") as sender:
                await sender.publish("citypulse/v1/mini/state", b"{}", qos=1)
            async with asyncio.timeout(10.0):
                message = await anext(aiter(listener.messages))
    assert str(message.topic) == "citypulse/v1/mini/state"
