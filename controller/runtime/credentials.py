"""L7 credential files: who a node is on the bus, how it logs in, and whose commands it trusts.

`citypulse bus init` writes one TOML file per role into `DIR/credentials/<role>.toml`; every
node and `citypulse cmd` read theirs with `load_credentials` (`--credentials FILE`):

    role = "venue-lhasa"            # conductor, operator or venue-<id>
    node = "lhasa"                  # name on the bus (a venue: its id)
    show = "digital-night"          # topics live under citypulse/v1/<show>/
    broker = "mqtts://127.0.0.1:8883"
    username = "venue-lhasa"
    password = "..."
    tls_ca = "../tls/ca.crt"        # optional; relative to this file
    signing_key = "..."             # conductor and operator only: base64 Ed25519 private key

    [trusted_keys]                  # issuer -> base64 Ed25519 public key
    conductor = "..."

    [acl]                           # issuer -> command kinds it may send
    conductor = ["arm", "go", ...]

Errors are located (`path:line:col: error[K1xx]: message`) and collected:
K101 unreadable file, K102 TOML syntax, K103 permissions too open, K104 missing, unknown or
mistyped key, K105 bad value, K106 signing key where it does not belong (or missing).

Permissions: every credential file holds a password, and some a signing key, so a file that
its group or other users may read or write is refused (like OpenSSH's "unprotected private
key file"), not merely warned about: a warning in a show-day log is easily missed, and a
leaked operator key lets anyone on the bus start the show.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from controller.errors import Diagnostic, ShowValidationError, SourceSpan
from controller.protocols.bus_topics import Topics
from controller.protocols.signing import (
    Verifier,
    decode_private_key,
    decode_public_key,
    encode_private_key,
    encode_public_key,
)
from controller.runtime.commands import CommandKind
from controller.runtime.toml_text import (
    KeyPosition,
    locate_keys,
    syntax_position,
    toml_key,
    toml_string,
)
from controller.show.source import InputFileError, display_path, read_input_file
from controller.transports.bus_address import BrokerAddress, BrokerUrlError, parse_broker_url

__all__ = [
    "ALL_KINDS",
    "NAME",
    "OPERATOR_KINDS",
    "SIGNING_ROLES",
    "Credentials",
    "CredentialsError",
    "load_credentials",
    "venue_role",
]

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # a topic level, user name and file stem
SIGNING_ROLES = frozenset({"conductor", "operator"})
ALL_KINDS = tuple(k.value for k in CommandKind)
# What `bus init` lets operators send: the operator commands, not the conductor's own
# (such as `adopt`, which hands a late venue the conductor's state).
OPERATOR_KINDS = ("arm", "go", "resume", "hold", "goto", "seek", "blackout", "master")
MAX_FILE_BYTES = 64 * 1024
_PRIVATE_MODE_MASK = 0o077  # any access for group or others
_STRINGS = ("role", "node", "show", "broker", "username", "password")
_OPTIONAL = ("tls_ca", "signing_key")
_TABLES = ("trusted_keys", "acl")


def venue_role(venue: str) -> str:
    return f"venue-{venue}"


def _role_ok(role: str) -> bool:
    return role in SIGNING_ROLES or (
        role.startswith("venue-") and NAME.fullmatch(role.removeprefix("venue-")) is not None
    )


class CredentialsError(ShowValidationError):
    """A credential file that cannot be used; every problem, located."""


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Credentials:
    """One role's credentials. Secrets stay out of `repr`."""

    role: str
    node: str
    show: str
    broker: str
    username: str
    password: str = field(repr=False)
    tls_ca: Path | None = None
    signing_key: Ed25519PrivateKey | None = field(default=None, repr=False)
    trusted_keys: Mapping[str, Ed25519PublicKey] = field(default_factory=dict)
    acl: Mapping[str, frozenset[str]] = field(default_factory=dict)
    path: Path | None = None  # the file it was loaded from

    @property
    def broker_address(self) -> BrokerAddress:
        """Host, port and TLS of `broker` (checked when the file was loaded)."""
        return parse_broker_url(self.broker)

    @property
    def topics(self) -> Topics:
        """The topic names of this file's show."""
        return Topics(self.show)

    def verifier(self, *, max_skew_s: float = 2.0, replay_window_s: float = 60.0) -> Verifier:
        """A verifier trusting this file's keys and ACL."""
        return Verifier(
            public_keys=self.trusted_keys,
            acl=self.acl,
            max_skew_s=max_skew_s,
            replay_window_s=replay_window_s,
        )

    def to_toml(self, *, header: str = "") -> str:
        """The file text `load_credentials` reads back (`header`: comment lines to lead it)."""
        lines = [f"# {line}".rstrip() for line in header.splitlines()]
        for name in _STRINGS:
            lines.append(f"{name} = {toml_string(getattr(self, name))}")
        if self.tls_ca is not None:
            lines.append(f"tls_ca = {toml_string(str(self.tls_ca))}")
        if self.signing_key is not None:
            lines.append(f"signing_key = {toml_string(encode_private_key(self.signing_key))}")
        lines += ["", "[trusted_keys]  # issuer -> Ed25519 public key (base64)"]
        for issuer, key in sorted(self.trusted_keys.items()):
            lines.append(f"{toml_key(issuer)} = {toml_string(encode_public_key(key))}")
        lines += ["", "[acl]  # issuer -> command kinds it may send"]
        for issuer, kinds in sorted(self.acl.items()):
            ordered = [k for k in ALL_KINDS if k in kinds]
            lines.append(f"{toml_key(issuer)} = [{', '.join(toml_string(k) for k in ordered)}]")
        return "\n".join(lines) + "\n"


@dataclass(slots=True)
class _Reader:
    """Checks one parsed file, collecting located diagnostics."""

    shown: str
    positions: dict[tuple[str, ...], KeyPosition]
    problems: list[Diagnostic] = field(default_factory=list)

    def span(self, path: tuple[str, ...], *, at_value: bool = True) -> SourceSpan:
        while path and path not in self.positions:
            path = path[:-1]
        pos = self.positions.get(path)
        if pos is None:
            return SourceSpan(path=self.shown)
        column = pos.value_column if at_value else pos.key_column
        return SourceSpan(path=self.shown, line=pos.line, column=column)

    def error(
        self, code: str, message: str, path: tuple[str, ...] = (), *, at_value: bool = True
    ) -> None:
        span = self.span(path, at_value=at_value)
        self.problems.append(Diagnostic(code=code, message=message, span=span))

    def string(self, data: dict[str, object], key: str, *, required: bool) -> str | None:
        value = data.get(key)
        if value is None:
            if required:
                self.error("K104", f"missing key {key!r}")
            return None
        if not isinstance(value, str):
            self.error("K104", f"{key!r} must be a string, got {_type_name(value)}", (key,))
            return None
        return value


def _type_name(value: object) -> str:
    names = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array"}
    return "table" if isinstance(value, dict) else names.get(type(value), type(value).__name__)


def _read_text(path: Path, shown: str) -> str:
    def fail(code: str, message: str) -> CredentialsError:
        return CredentialsError(
            [Diagnostic(code=code, message=message, span=SourceSpan(path=shown))]
        )

    try:
        data = read_input_file(path, MAX_FILE_BYTES)
    except InputFileError as exc:
        raise fail("K101", exc.message) from exc
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if os.name == "posix" and mode & _PRIVATE_MODE_MASK:
        raise fail(
            "K103",
            f"permissions {mode:04o} are too open for a file holding a password or a key "
            f"(group or others may use it); run: chmod 600 {shown}",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail("K102", f"file is not UTF-8 text: byte 0x{data[exc.start]:02x}") from exc


def load_credentials(path: Path) -> Credentials:
    """Read and check a credential file.

    Raises:
        CredentialsError: every problem found, as `path:line:col: error[K1xx]: message`.
    """
    shown = display_path(path)
    text = _read_text(path, shown)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, column, message = syntax_position(exc, text)
        span = SourceSpan(path=shown, line=line, column=column)
        raise CredentialsError([Diagnostic(code="K102", message=message, span=span)]) from exc
    reader = _Reader(shown, locate_keys(text))
    creds = _build(reader, data, path)
    if reader.problems or creds is None:
        raise CredentialsError(reader.problems)
    return creds


def _build(reader: _Reader, data: dict[str, object], path: Path) -> Credentials | None:
    known = (*_STRINGS, *_OPTIONAL, *_TABLES)
    for key in data:
        if key not in known:
            reader.error(
                "K104", f"unknown key {key!r} (known: {', '.join(known)})", (key,), at_value=False
            )
    strings = {key: reader.string(data, key, required=True) for key in _STRINGS}
    tls_text = reader.string(data, "tls_ca", required=False)
    key_text = reader.string(data, "signing_key", required=False)
    role, node, show = strings["role"], strings["node"], strings["show"]
    if role is not None and not _role_ok(role):
        reader.error(
            "K105", f"role={role!r} is not 'conductor', 'operator' or 'venue-<id>'", ("role",)
        )
    for key in ("node", "show", "username"):
        value = strings[key]
        if value is not None and not NAME.fullmatch(value):
            reader.error(
                "K105",
                f"{key}={value!r} is not a name (letters, digits, '_', '.', '-'; at most 64)",
                (key,),
            )
    if (
        role is not None
        and role.startswith("venue-")
        and node is not None
        and node != role.removeprefix("venue-")
    ):
        reader.error("K105", f"node={node!r} does not match role={role!r}", ("node",))
    if strings["password"] == "":
        reader.error("K105", "password must not be empty", ("password",))
    broker = strings["broker"]
    if broker is not None:
        _check_broker(reader, broker, tls_text)
    tls_ca = _tls_path(reader, tls_text, path)
    signing_key = _signing_key(reader, key_text, role)
    trusted = _trusted_keys(reader, data.get("trusted_keys"))
    acl = _acl(reader, data.get("acl"), trusted)
    if reader.problems or None in strings.values():
        return None
    return Credentials(
        role=str(role),
        node=str(node),
        show=str(show),
        broker=str(broker),
        username=str(strings["username"]),
        password=str(strings["password"]),
        tls_ca=tls_ca,
        signing_key=signing_key,
        trusted_keys=trusted,
        acl=acl,
        path=path,
    )


def _check_broker(reader: _Reader, broker: str, tls_text: str | None) -> None:
    try:
        address = parse_broker_url(broker)
    except BrokerUrlError as exc:
        reader.error("K105", str(exc), ("broker",))
        return
    if tls_text is not None and not address.tls:
        reader.error(
            "K105",
            f"tls_ca is set but broker={broker!r} does not use TLS (mqtts://)",
            ("tls_ca",),
        )


def _tls_path(reader: _Reader, text: str | None, path: Path) -> Path | None:
    if text is None:
        return None
    ca = path.parent / text  # an absolute `text` stays absolute
    if not ca.is_file():
        reader.error("K105", f"tls_ca: no such file: {display_path(ca)}", ("tls_ca",))
    return ca


def _signing_key(reader: _Reader, text: str | None, role: str | None) -> Ed25519PrivateKey | None:
    if role is not None and role in SIGNING_ROLES and text is None:
        reader.error("K106", f"role {role!r} signs commands: missing key 'signing_key'")
    if text is None:
        return None
    if role is not None and role not in SIGNING_ROLES:
        reader.error(
            "K106",
            f"role {role!r} does not sign commands; remove 'signing_key'",
            ("signing_key",),
            at_value=False,
        )
        return None
    try:
        return decode_private_key(text)
    except ValueError as exc:
        reader.error("K105", f"signing_key: {exc}", ("signing_key",))
        return None


def _trusted_keys(reader: _Reader, table: object) -> dict[str, Ed25519PublicKey]:
    if table is None:
        reader.error("K104", "missing table [trusted_keys]")
        return {}
    if not isinstance(table, dict):
        reader.error(
            "K104", f"'trusted_keys' must be a table, got {_type_name(table)}", ("trusted_keys",)
        )
        return {}
    keys: dict[str, Ed25519PublicKey] = {}
    for issuer, text in table.items():
        where = ("trusted_keys", issuer)
        if not NAME.fullmatch(issuer):
            reader.error("K105", f"issuer {issuer!r} is not a name", where, at_value=False)
        elif not isinstance(text, str):
            reader.error(
                "K104", f"trusted key {issuer!r} must be a string, got {_type_name(text)}", where
            )
        else:
            try:
                keys[issuer] = decode_public_key(text)
            except ValueError as exc:
                reader.error("K105", f"trusted key {issuer!r}: {exc}", where)
    return keys


def _acl(
    reader: _Reader, table: object, trusted: Mapping[str, object]
) -> dict[str, frozenset[str]]:
    if table is None:
        return {}
    if not isinstance(table, dict):
        reader.error("K104", f"'acl' must be a table, got {_type_name(table)}", ("acl",))
        return {}
    acl: dict[str, frozenset[str]] = {}
    for issuer, kinds in table.items():
        where = ("acl", issuer)
        if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
            reader.error("K104", f"acl {issuer!r} must be an array of command kinds", where)
            continue
        unknown = [k for k in kinds if k not in ALL_KINDS]
        if unknown:
            reader.error(
                "K105",
                f"acl {issuer!r}: unknown command kind {unknown[0]!r} (kinds: {', '.join(ALL_KINDS)})",
                where,
            )
        elif issuer not in trusted:
            reader.error(
                "K105",
                f"acl names issuer {issuer!r}, which has no key in [trusted_keys]",
                where,
                at_value=False,
            )
        else:
            acl[issuer] = frozenset(kinds)
    return acl
