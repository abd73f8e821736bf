"""L8 the console's users: a private TOML file of names and scrypt password hashes.

    # citypulse console users (`citypulse console SHOW --credentials F --add-user NAME`)
    [users]
    ada = "scrypt$16384$8$1$<salt, base64>$<hash, base64>"

- Passwords are never stored: scrypt (RFC 7914; N=2^14, r=8, p=1, 16-byte random salt,
  32-byte key), compared in constant time. A name is 1-32 letters, digits, `.`, `_`, `-`;
  it goes into every command's origin (`console:<name>`) and the conductor's audit log.
- Like every credentials file, it must not be readable by group or others (refused, with the
  `chmod` to run), and it is written atomically (temporary file, fsync, rename).
- `OneTimeLogins` are passwords that work once, held in memory only: `citypulse console
  --one-time-login NAME` and the demo print one at start.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from controller.errors import ControllerError
from controller.files import write_atomic

__all__ = [
    "OneTimeLogins",
    "UsersError",
    "UsersFile",
    "check_name",
    "hash_password",
    "verify_password",
]

_NAME = re.compile(r"[A-Za-z0-9._-]{1,32}")
_N, _R, _P, _SALT, _KEY = 2**14, 8, 1, 16, 32
MIN_PASSWORD = 8
MAX_PASSWORD = 1024


class UsersError(ControllerError):
    """A users file or a name that cannot be used; the message says which and why."""


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise UsersError(f"user name {name!r}: 1 to 32 letters, digits, '.', '_' or '-'")
    return name


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8", "surrogatepass"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        dklen=_KEY,
        maxmem=64 * 1024 * 1024,
    )


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise UsersError(f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    salt = secrets.token_bytes(_SALT) if salt is None else salt
    key = _scrypt(password, salt, _N, _R, _P)
    b64 = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(key).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches `stored` (a `hash_password` string); False otherwise."""
    try:
        kind, n, r, p, salt, key = stored.split("$")
        if kind != "scrypt" or len(password) > MAX_PASSWORD:
            return False
        want = base64.b64decode(key, validate=True)
        got = _scrypt(password, base64.b64decode(salt, validate=True), int(n), int(r), int(p))
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(got, want)


@dataclass(slots=True)
class UsersFile:
    path: Path
    users: dict[str, str] = field(default_factory=dict)  # name -> scrypt string

    @classmethod
    def load(cls, path: Path) -> UsersFile:
        """Read `path`; a missing file is an empty one. `UsersError` says what is wrong."""
        try:
            info = path.stat()
        except FileNotFoundError:
            return cls(path)
        except OSError as exc:
            raise UsersError(f"{path}: {exc.strerror or exc}") from exc
        if not stat.S_ISREG(info.st_mode):
            raise UsersError(f"{path}: not a regular file")
        if info.st_mode & 0o077:
            mode = stat.S_IMODE(info.st_mode)
            raise UsersError(f"{path}: permissions {mode:04o} are too open; run: chmod 600 {path}")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise UsersError(f"{path}: not a users file: {exc}") from exc
        table = data.get("users", {})
        if set(data) - {"users"} or not isinstance(table, dict):
            raise UsersError(f'{path}: expected one [users] table of name = "scrypt$..."')
        users: dict[str, str] = {}
        for name, stored in table.items():
            check_name(name)
            if not isinstance(stored, str) or not stored.startswith("scrypt$"):
                raise UsersError(f"{path}: user {name!r}: expected a scrypt$... hash")
            users[name] = stored
        return cls(path, users)

    def check(self, name: str, password: str) -> bool:
        stored = self.users.get(name)
        return stored is not None and verify_password(password, stored)

    def set_password(self, name: str, password: str) -> None:
        self.users[check_name(name)] = hash_password(password)

    def save(self) -> None:
        """Write the file atomically, 0600."""
        lines = ["# citypulse console users: name = scrypt hash of the password", "[users]"]
        lines += [f'{name} = "{stored}"' for name, stored in sorted(self.users.items())]
        write_atomic(self.path, "\n".join(lines) + "\n", mode=0o600)


@dataclass(slots=True)
class OneTimeLogins:
    """Passwords that log in once (kept in memory only)."""

    _codes: dict[str, str] = field(default_factory=dict)  # name -> password

    def issue(self, name: str) -> str:
        password = secrets.token_urlsafe(12)
        self._codes[check_name(name)] = password
        return password

    def use(self, name: str, password: str) -> bool:
        """True, and the password is spent, when it is `name`'s one-time password."""
        want = self._codes.get(name)
        given = password.encode("utf-8", "surrogatepass")
        if want is None or not hmac.compare_digest(want.encode(), given):
            return False
        del self._codes[name]
        return True

    def __bool__(self) -> bool:
        return bool(self._codes)
