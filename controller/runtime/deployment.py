"""L7 what `citypulse bus init` writes: broker config, ACL, password file, keys, credentials.

`plan_deployment` returns every file (path relative to the deployment directory, bytes,
mode) without touching the disk, except that the password file is hashed by the real
`mosquitto_passwd` (`hash_passwords`). The CLI writes the plan atomically.

Topic rights (mosquitto.conf(5), "acl_file": `user` blocks, `topic read|write FILTER`; a
client may do what any of its lines allow, and nothing else):
- conductor: writes `state`, `cmd/submit`, `cmd/exec`, `cmd/result`, `time/resp/#`,
  `conductor/online`; reads the whole show.
- operator: writes `cmd/submit`; reads the whole show.
- venue-<id>: writes only `status/<id>`, `time/req/<id>` and `look/<id>`; reads the whole
  show.
No `pattern` lines: a venue's user name (`venue-<id>`) is not its topic level (`<id>`), and
`%u` cannot strip the prefix, so each venue gets its own `user` block.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from controller.errors import ControllerError
from controller.protocols.bus_topics import Topics
from controller.runtime.credentials import (
    ALL_KINDS,
    OPERATOR_KINDS,
    Credentials,
    venue_role,
)
from controller.runtime.tls_material import make_tls
from controller.transports.bus_address import BrokerAddress

__all__ = [
    "Deployment",
    "DeploymentError",
    "DeploymentFile",
    "acl_text",
    "hash_passwords",
    "mosquitto_conf",
    "plan_deployment",
]

PRIVATE = 0o600
PUBLIC = 0o644


class DeploymentError(ControllerError):
    """A deployment that cannot be written (mosquitto_passwd failed, say)."""


@dataclass(frozen=True, slots=True)
class DeploymentFile:
    path: str  # relative to the deployment directory, '/'-separated
    data: bytes
    mode: int
    what: str  # one line for the summary


@dataclass(frozen=True, slots=True, kw_only=True)
class Deployment:
    files: tuple[DeploymentFile, ...]
    broker: BrokerAddress
    roles: tuple[str, ...]
    passwords: Mapping[str, str] = field(repr=False)  # user -> plain password


def mosquitto_conf(
    *,
    directory: Path,
    show_id: str,
    listen_host: str,
    listen_port: int,
    tls: bool,
    run_as: str,
) -> str:
    """The broker config; every path absolute (mosquitto resolves them from its cwd)."""
    d = directory
    lines = [
        f"# citypulse broker for show {show_id!r}, written by `citypulse bus init`",
        f"# run: mosquitto -c {d / 'mosquitto.conf'}",
        "per_listener_settings false",
        f"listener {listen_port} {listen_host}",
    ]
    if tls:
        lines += [
            f"cafile {d / 'tls' / 'ca.crt'}",
            f"certfile {d / 'tls' / 'server.crt'}",
            f"keyfile {d / 'tls' / 'server.key'}",
        ]
    lines += [
        "# TCP_NODELAY: no Nagle delay between a PUBACK and the next PUBLISH (~40 ms a hop)",
        "set_tcp_nodelay true",
        "allow_anonymous false",
        f"password_file {d / 'passwd'}",
        f"acl_file {d / 'acl'}",
        "persistence true",
        f"persistence_location {d / 'data'}/",
        f"log_dest file {d / 'mosquitto.log'}",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "log_type information",
        "connection_messages true",
        "# started as root, mosquitto switches to this user (who owns these files)",
        f"user {run_as}",
    ]
    return "\n".join(lines) + "\n"


def acl_text(show_id: str, venues: Sequence[str]) -> str:
    """The ACL file (see the module docstring for who may publish what)."""
    t = Topics(show_id)
    blocks = [
        [
            f"# citypulse topic rights for show {show_id!r}, written by `citypulse bus init`",
            "# roles not listed here (and anonymous clients) may do nothing",
        ],
        [
            "user conductor",
            f"topic read {t.all}",
            *(
                f"topic write {topic}"
                for topic in (
                    t.state,
                    t.cmd_submit,
                    t.cmd_exec,
                    t.cmd_result,
                    f"{t.root}/time/resp/#",
                    t.conductor_online,
                )
            ),
        ],
        ["user operator", f"topic read {t.all}", f"topic write {t.cmd_submit}"],
    ]
    for venue in venues:
        blocks.append(
            [
                f"user {venue_role(venue)}",
                f"topic read {t.all}",
                f"topic write {t.status(venue)}",
                f"topic write {t.time_req(venue)}",
                f"topic write {t.look(venue)}",
            ]
        )
    return "\n\n".join("\n".join(block) for block in blocks) + "\n"


def hash_passwords(binary: Path, passwords: Mapping[str, str], workdir: Path) -> bytes:
    """The mosquitto password file for `passwords`, hashed by `mosquitto_passwd -U`.

    `-U` hashes a plain `user:password` file in place, so no password is ever on a command
    line (where `ps` would show it to every local user, as `-b` would). The plain file lives
    for the call in a fresh 0700 directory under `workdir`.
    """
    with tempfile.TemporaryDirectory(dir=workdir, prefix=".passwd-") as tmp:
        plain = Path(tmp) / "passwd"
        fd = os.open(plain, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.writelines(f"{user}:{pw}\n" for user, pw in passwords.items())
        try:
            done = subprocess.run(
                [str(binary), "-U", str(plain)],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DeploymentError(f"cannot run {binary}: {exc}") from exc
        if done.returncode != 0:
            why = (done.stderr or done.stdout).strip() or f"exit status {done.returncode}"
            raise DeploymentError(f"{binary} -U failed: {why}")
        hashed = plain.read_bytes()
    if any(b":" + pw.encode() + b"\n" in hashed for pw in passwords.values()):
        raise DeploymentError(f"{binary} -U left a password unhashed")
    return hashed


@dataclass(frozen=True, slots=True)
class _Roles:
    """Builds each role's credential file for one show and broker."""

    show_id: str
    broker: BrokerAddress
    tls: bool
    passwords: Mapping[str, str]

    def file(
        self,
        role: str,
        *,
        node: str,
        signing_key: Ed25519PrivateKey | None,
        trusted: Mapping[str, Ed25519PrivateKey],
        acl: Mapping[str, Sequence[str]],
    ) -> DeploymentFile:
        creds = Credentials(
            role=role,
            node=node,
            show=self.show_id,
            broker=str(self.broker),
            username=role,
            password=self.passwords[role],
            tls_ca=Path("../tls/ca.crt") if self.tls else None,
            signing_key=signing_key,
            trusted_keys={issuer: key.public_key() for issuer, key in trusted.items()},
            acl={issuer: frozenset(kinds) for issuer, kinds in acl.items()},
        )
        secret = "a password and a signing key" if signing_key else "a password"
        header = (
            f"citypulse credentials of role {role!r} for show {self.show_id!r} "
            "(`citypulse bus init`).\n"
            f"Secret: it holds {secret}. Keep it mode 0600 and give it only to this role's "
            "nodes (--credentials FILE)."
        )
        what = f"role {role}" + (" (signs commands)" if signing_key else "")
        return DeploymentFile(
            f"credentials/{role}.toml", creds.to_toml(header=header).encode(), PRIVATE, what
        )


def plan_deployment(
    *,
    directory: Path,
    show_id: str,
    venues: Sequence[str],
    listen_host: str,
    listen_port: int,
    broker_hosts: Sequence[str],
    tls: bool,
    run_as: str,
    now: float,
) -> Deployment:
    """Every file of a fresh deployment (new passwords and keys), except `passwd`.

    `broker_hosts`: the names clients use to reach the broker; the first goes into the
    credential files, all of them into the TLS certificate. `now`: UTC seconds, for the
    certificates' validity.
    """
    broker = BrokerAddress(broker_hosts[0], listen_port, tls=tls)
    roles = ("conductor", "operator", *(venue_role(v) for v in venues))
    passwords = {role: secrets.token_urlsafe(32) for role in roles}
    conductor, operator = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    make = _Roles(show_id, broker, tls, passwords)
    files = [
        DeploymentFile(
            "mosquitto.conf",
            mosquitto_conf(
                directory=directory,
                show_id=show_id,
                listen_host=listen_host,
                listen_port=listen_port,
                tls=tls,
                run_as=run_as,
            ).encode(),
            PUBLIC,
            f"broker config: listener {listen_host}:{listen_port}"
            + (" (TLS)" if tls else "")
            + ", TCP_NODELAY, persistence in data/",
        ),
        DeploymentFile(
            "acl", acl_text(show_id, venues).encode(), PUBLIC, "topic rights of each role"
        ),
        make.file(
            "conductor",
            node="conductor",
            signing_key=conductor,
            trusted={"conductor": conductor, "operator": operator},
            acl={"conductor": ALL_KINDS, "operator": OPERATOR_KINDS},
        ),
        make.file(
            "operator",
            node="operator",
            signing_key=operator,
            trusted={"conductor": conductor},
            acl={"conductor": ALL_KINDS},
        ),
    ]
    for venue in venues:
        files.append(
            make.file(
                venue_role(venue),
                node=venue,
                signing_key=None,
                trusted={"conductor": conductor},
                acl={"conductor": ALL_KINDS},
            )
        )
    if tls:
        material = make_tls(broker_hosts, show_id=show_id, now=now)
        files += [
            DeploymentFile("tls/ca.crt", material.ca_cert, PUBLIC, "CA certificate (for clients)"),
            DeploymentFile("tls/server.crt", material.server_cert, PUBLIC, "broker certificate"),
            DeploymentFile("tls/server.key", material.server_key, PRIVATE, "broker private key"),
        ]
    return Deployment(files=tuple(files), broker=broker, roles=roles, passwords=passwords)
