"""L8 `citypulse bus init SHOW DIR`: write what a deployment's broker and nodes need.

Into DIR (created if missing, but only inside an existing directory): `mosquitto.conf`,
`passwd` (hashed by the real `mosquitto_passwd`), `acl`, `credentials/<role>.toml` for
`conductor`, `operator` and `venue-<id>` per venue of the show, with `--tls` a private CA
and the broker's certificate in `tls/`, and `data/` for the broker's persistence.

Nothing is half-written: every file is written and fsynced in a private staging directory
inside DIR, then renamed over its final name (an atomic replace on POSIX). An existing
deployment is refused unless `--force`, which writes a new one (new passwords and keys) and
removes the credential files and TLS files of the old one that the new one does not have.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import shutil
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

from controller.clock import UtcClock
from controller.errors import ArgumentError, Diagnostic, ShowValidationError
from controller.render.effects import default_registry
from controller.runtime.credentials import NAME
from controller.runtime.deployment import Deployment, hash_passwords, plan_deployment
from controller.show.load import load_show

__all__ = ["register"]

# What makes DIR a deployment (so `bus init` will not overwrite it without --force).
_MARKERS = ("mosquitto.conf", "passwd", "acl", "credentials")
_WILDCARDS = ("0.0.0.0", "::")
_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def register(sub: Any) -> None:
    bus = sub.add_parser(
        "bus",
        help="set up the MQTT bus that links the venues (bus init)",
        description="Set up the MQTT bus that links the venues of a show.",
    )
    actions = bus.add_subparsers(dest="bus_command", metavar="ACTION", required=True)
    p = actions.add_parser(
        "init",
        help="write a mosquitto config, ACL, passwords, keys and per-role credential files",
        description="Write into DIR what a deployment needs: mosquitto.conf, a password file "
        "(made with mosquitto_passwd), an ACL, optional TLS material, Ed25519 signing keys "
        "and one credentials file per role (conductor, operator, venue-<id>). "
        "Start the broker with: mosquitto -c DIR/mosquitto.conf. See docs/security.md.",
    )
    p.add_argument("show", type=Path, metavar="SHOW", help="the show file (its venues get roles)")
    p.add_argument("dir", type=Path, metavar="DIR", help="deployment directory to write")
    p.add_argument(
        "--listen",
        default="127.0.0.1:1883",
        metavar="HOST:PORT",
        help="the broker's listener (default 127.0.0.1:1883; 0.0.0.0:PORT for every interface)",
    )
    p.add_argument("--tls", action="store_true", help="TLS listener with a private CA (mqtts://)")
    p.add_argument("--force", action="store_true", help="replace an existing deployment in DIR")
    p.set_defaults(handler=run)


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT` or `[V6]:PORT` -> (host, port); ArgumentError on --listen otherwise."""
    host, sep, port_text = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port_text.isdigit() or not port_text.isascii():
        raise ArgumentError("--listen", f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:1883)")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise ArgumentError("--listen", f"port {port} out of range 1..65535")
    if any(ch.isspace() or ord(ch) < 0x20 or ch in "#[]" for ch in host):
        raise ArgumentError("--listen", f"host {host!r} is not a host name or address")
    return host, port


def _broker_hosts(host: str) -> list[str]:
    """Names clients use for a broker listening on `host` (the first goes in credentials)."""
    if host in _WILDCARDS:
        return [socket.getfqdn(), "localhost", "127.0.0.1", "::1"]
    if host in _LOOPBACK:
        return [host, *(h for h in _LOOPBACK if h != host)]
    return [host]


def _check_dir(directory: Path, force: bool) -> Path:
    """DIR as an absolute path; refuses a missing parent, a non-directory, a deployment."""
    target = directory.absolute()
    text = str(target)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ArgumentError(
            "DIR", f"{text!r} is not UTF-8; mosquitto.conf cannot name it"
        ) from None
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        raise ArgumentError(
            "DIR", f"{text!r} holds a control character; mosquitto.conf cannot name it"
        )
    if not target.parent.is_dir():
        raise ArgumentError("DIR", f"parent directory {str(target.parent)!r} does not exist")
    if target.exists() and not target.is_dir():
        raise ArgumentError("DIR", f"{str(directory)!r} exists and is not a directory")
    found = [m for m in _MARKERS if (target / m).exists()]
    if found and not force:
        raise ArgumentError(
            "DIR",
            f"{str(directory)!r} already holds a deployment ({found[0]}); --force replaces it "
            "with new passwords and keys (every node then needs its new credentials file)",
        )
    return target


def _show_names(show: Path) -> tuple[str, list[str]]:
    """The show id (file stem) and its venue ids, checked as bus names."""
    loaded = load_show(show, default_registry())
    show_id = show.stem
    if not NAME.fullmatch(show_id):
        raise ArgumentError(
            "SHOW",
            f"show id {show_id!r} (the file name) must be letters, digits, '_', '.', '-' "
            "(at most 64): it names the bus topics",
        )
    bad = [
        Diagnostic(
            code="K107",
            message=f"venue id {vid!r} cannot be a bus user or topic name (letters, digits, "
            "'_', '.', '-'; at most 64)",
            span=loaded.doc.span(("venues", vid), key=True),
        )
        for vid in loaded.show.venues
        if not NAME.fullmatch(vid)
    ]
    if bad:
        raise ShowValidationError(bad)
    return show_id, list(loaded.show.venues)


def _mosquitto_passwd() -> Path:
    found = shutil.which("mosquitto_passwd")
    if found is None:
        raise ArgumentError(
            "mosquitto_passwd",
            "not found on PATH (Debian package 'mosquitto'); run scripts/setup to install it",
        )
    return Path(found)


def _write_private(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(path, mode)  # the umask may have narrowed it


def _install(target: Path, deployment: Deployment, passwd: bytes) -> None:
    """Stage every file inside `target`, then rename each into place."""
    files = [(f.path, f.data, f.mode) for f in deployment.files]
    files.append(("passwd", passwd, 0o600))
    staging = Path(tempfile.mkdtemp(dir=target, prefix=".bus-init-"))
    try:
        for rel, data, mode in files:
            staged = staging / rel.replace("/", "__")
            _write_private(staged, data, mode)
        for sub, mode in (("credentials", 0o700), ("tls", 0o755), ("data", 0o700)):
            if sub != "tls" or any(rel.startswith("tls/") for rel, _, _ in files):
                (target / sub).mkdir(mode=mode, exist_ok=True)
        for rel, _, _ in files:
            os.replace(staging / rel.replace("/", "__"), target / rel)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _remove_stale(target, {rel for rel, _, _ in files})
    with contextlib.suppress(OSError):  # make the renames durable where the OS allows it
        fd = os.open(target, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove_stale(target: Path, written: set[str]) -> None:
    """Old credential and TLS files the new deployment replaced by nothing."""
    for sub, pattern in (("credentials", "*.toml"), ("tls", "*")):
        for path in sorted((target / sub).glob(pattern)):
            rel = f"{sub}/{path.name}"
            if rel not in written and path.is_file():
                path.unlink()


def _summary(target: Path, show_id: str, deployment: Deployment, venues: list[str]) -> str:
    plural = "s" if len(venues) != 1 else ""
    head = f"wrote {target} for show {show_id!r} ({len(venues)} venue{plural}), broker {deployment.broker}:"
    lines = [head]
    rows = [(f.path, f.what) for f in deployment.files]
    rows.insert(1, ("passwd", f"{len(deployment.roles)} users, hashed by mosquitto_passwd"))
    width = max(len(path) for path, _ in rows)
    lines += [f"  {path:<{width}}  {what}" for path, what in rows]
    lines += [
        f"start the broker:  mosquitto -c {target / 'mosquitto.conf'}",
        "give each node only its own credentials file (--credentials FILE); keep them secret",
    ]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    host, port = parse_listen(args.listen)
    target = _check_dir(args.dir, args.force)
    show_id, venues = _show_names(args.show)
    binary = _mosquitto_passwd()
    created = not target.exists()
    try:
        if created:
            target.mkdir(mode=0o755)
        deployment = plan_deployment(
            directory=target,
            show_id=show_id,
            venues=venues,
            listen_host=host,
            listen_port=port,
            broker_hosts=_broker_hosts(host),
            tls=args.tls,
            run_as=pwd.getpwuid(os.geteuid()).pw_name,
            now=UtcClock().now(),
        )
        passwd = hash_passwords(binary, deployment.passwords, target)
        _install(target, deployment, passwd)
    except BaseException as exc:
        if created:
            shutil.rmtree(target, ignore_errors=True)
        if isinstance(exc, OSError):
            why = exc.strerror or str(exc)
            raise ArgumentError("DIR", f"cannot write {str(args.dir)!r}: {why}") from exc
        raise
    sys.stdout.write(_summary(target, show_id, deployment, venues))
    return 0
