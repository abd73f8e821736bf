"""L8 `citypulse console SHOW --credentials operator.toml`: the operator console, a live web page.

It connects to the bus as the operator, serves one page (from the package, no CDN) on
`--listen` (127.0.0.1:8080 by default) and sends the operators' commands through the same
signed path as `citypulse cmd`, each under the logged-in user's name. Logins are the users
of `--users` (scrypt hashes; `--add-user NAME` adds one, reading the password from standard
input) or a one-time password printed at start (`--one-time-login NAME`). A non-loopback
address is refused without TLS (`--tls-cert`, `--tls-key`). See docs/console.md.
"""

from __future__ import annotations

import argparse
import getpass
import ssl
import sys
from pathlib import Path
from typing import Any

from controller.cli import validators
from controller.cli.node_options import (
    add_bus_arguments,
    audit_function,
    bus_client,
    configure_logging,
    credentials_for,
    run_until_signalled,
)
from controller.clock import MonotonicClock, utc_anchor
from controller.console.server import ConsoleOptions, ConsoleServer, is_loopback
from controller.console.show_view import ShowView
from controller.console.users import OneTimeLogins, UsersError, UsersFile, check_name
from controller.errors import ArgumentError
from controller.protocols.signing import new_nonce
from controller.render.effects import default_registry
from controller.show.load import load_show

__all__ = ["register"]

DEFAULT_LISTEN = "127.0.0.1:8080"


def register(sub: Any) -> None:
    p = sub.add_parser(
        "console",
        help="serve the operator console: a live web page to run the show across cities",
        description="Serve the operator console for SHOW: show clock and state, cues, every "
        "venue's health and sync, a live top-down look of each city, the audit log, and the "
        "controls (ARM, GO, HOLD, RESUME, GOTO, grand master, BLACKOUT), sent signed as the "
        "operator. Binds 127.0.0.1 unless TLS is configured.",
    )
    p.add_argument("show", type=Path, metavar="SHOW")
    add_bus_arguments(p)
    p.add_argument("--listen", default=DEFAULT_LISTEN, metavar="HOST:PORT",
                   help=f"where the page is served (default {DEFAULT_LISTEN}; port 0: any)")  # fmt: skip
    p.add_argument("--tls-cert", type=Path, metavar="FILE", help="TLS certificate chain (PEM)")
    p.add_argument("--tls-key", type=Path, metavar="FILE", help="its private key (PEM)")
    p.add_argument("--users", type=Path, metavar="FILE", help="console users (default: "
                   "console-users.toml beside the deployment's credentials/ directory)")  # fmt: skip
    p.add_argument("--add-user", metavar="NAME", help="add or change a user (the password is "
                   "read from standard input), then exit")  # fmt: skip
    p.add_argument("--one-time-login", metavar="NAME",
                   help="print a password that logs NAME in once (this run only)")  # fmt: skip
    p.add_argument("--audit", type=Path, metavar="FILE", help="append-only audit log (JSON lines)")
    p.set_defaults(handler=run)


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT` or `[V6]:PORT`, port 0..65535 (0: any free port)."""
    host, sep, port_text = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port_text.isascii() or not port_text.isdigit():
        raise ArgumentError("--listen", f"{text!r} is not HOST:PORT (e.g. {DEFAULT_LISTEN})")
    port = validators.port(int(port_text), "--listen")
    if any(ch.isspace() or ord(ch) < 0x20 or ch in "#[]/@" for ch in host):
        raise ArgumentError("--listen", f"host {host!r} is not a host name or address")
    return host, port


def _users_path(args: argparse.Namespace) -> Path:
    if args.users is not None:
        return Path(args.users)
    return Path(args.credentials).resolve().parent.parent / "console-users.toml"


def _tls(args: argparse.Namespace) -> ssl.SSLContext | None:
    if (args.tls_cert is None) != (args.tls_key is None):
        raise ArgumentError("--tls-cert" if args.tls_cert is None else "--tls-key",
                            "TLS needs both --tls-cert and --tls-key")  # fmt: skip
    if args.tls_cert is None:
        return None
    validators.input_file(args.tls_cert, "--tls-cert")
    validators.input_file(args.tls_key, "--tls-key")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(args.tls_cert, args.tls_key)
    except (ssl.SSLError, OSError) as exc:
        raise ArgumentError("--tls-cert", f"{args.tls_cert}: cannot use it: {exc}") from exc
    return context


def _check(args: argparse.Namespace) -> tuple[str, int]:
    validators.input_file(args.show, "SHOW")
    host, port = parse_listen(args.listen)
    for option, name in (("--add-user", args.add_user), ("--one-time-login", args.one_time_login)):
        if name is not None:
            try:
                check_name(name)
            except UsersError as exc:
                raise ArgumentError(option, str(exc)) from exc
    if args.users is not None:
        validators.output_file(args.users, "--users")
    if args.audit is not None:
        validators.output_file(args.audit, "--audit")
    if not is_loopback(host) and (args.tls_cert is None or args.tls_key is None):
        raise ArgumentError("--listen", f"{host} is not a loopback address: the console is "
                            "served beyond this host only over TLS (--tls-cert, --tls-key)")  # fmt: skip
    return host, port


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise ArgumentError("--add-user", "the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _add_user(args: argparse.Namespace) -> int:
    path = _users_path(args)
    try:
        users = UsersFile.load(path)
        users.set_password(args.add_user, _read_password())
        users.save()
    except UsersError as exc:
        raise ArgumentError("--add-user", str(exc)) from exc
    except OSError as exc:
        raise ArgumentError("--users", f"{path}: {exc.strerror or exc}") from exc
    sys.stderr.write(f"console user {args.add_user!r} saved in {path}\n")
    return 0


def run(args: argparse.Namespace) -> int:
    host, port = _check(args)
    if args.add_user is not None:
        return _add_user(args)
    tls = _tls(args)
    configure_logging(args.verbose)
    creds = credentials_for(args, role_prefix="operator")
    if creds.signing_key is None:
        raise ArgumentError("--credentials", "the operator's credentials carry no signing key")
    path = _users_path(args)
    try:
        users = UsersFile.load(path)
    except UsersError as exc:
        raise ArgumentError("--users", str(exc)) from exc
    if not users.users and args.one_time_login is None:
        raise ArgumentError("--users", f"no console users in {path}: add one with --add-user "
                            "NAME, or start with --one-time-login NAME")  # fmt: skip
    view = ShowView.of(load_show(args.show, default_registry()))
    if view.show_id != creds.show:
        raise ArgumentError("--credentials", f"made for show {creds.show!r}, not {view.show_id!r}")
    one_time = OneTimeLogins()
    password = None if args.one_time_login is None else one_time.issue(args.one_time_login)
    _, log = audit_function(args.audit, "console")
    client = bus_client(args, creds, client_id=f"console-{new_nonce()[:8]}", will=None)
    server = ConsoleServer(
        show=view, creds=creds, client=client, clock=MonotonicClock(), shared_offset=utc_anchor(),
        users=users, one_time=one_time, options=ConsoleOptions(host=host, port=port, tls=tls),
        audit=log,
    )  # fmt: skip
    try:
        return run_until_signalled(
            lambda: _serve(server, args.one_time_login, password), server.stop
        )
    except OSError as exc:
        raise ArgumentError("--listen", f"{args.listen}: {exc.strerror or exc}") from exc
    finally:
        if log is not None:
            log.close()


async def _serve(server: ConsoleServer, user: str | None, password: str | None) -> int:
    def announce(url: str) -> None:
        line = f"console: {url}"
        if user is not None:
            line += f"  one-time login: {user} / {password}"
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    await server.run(on_ready=announce)
    return 0
