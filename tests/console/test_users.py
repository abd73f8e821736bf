"""Console users: scrypt hashes in a private file, one-time logins, sessions, the login guard."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from controller.console.sessions import LoginGuard, Sessions, same_token
from controller.console.users import (
    OneTimeLogins,
    UsersError,
    UsersFile,
    hash_password,
    verify_password,
)


def test_a_password_verifies_against_its_hash_and_nothing_else() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("scrypt$16384$8$1$")
    assert "correct horse" not in stored
    assert verify_password("correct horse battery", stored)
    assert not verify_password("correct horse batterY", stored)
    assert not verify_password("x", "scrypt$garbage")
    assert hash_password("correct horse battery") != stored  # a fresh salt every time


def test_short_passwords_and_bad_names_are_refused() -> None:
    with pytest.raises(UsersError, match="8 to 1024 characters"):
        hash_password("short")
    users = UsersFile(Path("unused"))
    with pytest.raises(UsersError, match="user name 'a b'"):
        users.set_password("a b", "long enough password")


def test_the_file_round_trips_private_and_refuses_to_be_readable_by_others(tmp_path: Path) -> None:
    path = tmp_path / "console-users.toml"
    users = UsersFile.load(path)
    assert users.users == {}
    users.set_password("ada", "correct horse battery")
    users.save()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = UsersFile.load(path)
    assert again.check("ada", "correct horse battery")
    assert not again.check("ada", "wrong password!")
    assert not again.check("bob", "correct horse battery")
    os.chmod(path, 0o644)
    with pytest.raises(UsersError, match=r"permissions 0644 are too open; run: chmod 600"):
        UsersFile.load(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [("[users]\nada = 3\n", "expected a scrypt"), ("x = 1\n", "one \\[users\\] table"),
     ("[users\n", "not a users file"), ('[users]\n"a b" = "scrypt$x"\n', "user name 'a b'")],
)  # fmt: skip
def test_a_broken_file_says_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "users.toml"
    path.write_text(text)
    path.chmod(0o600)
    with pytest.raises(UsersError, match=message):
        UsersFile.load(path)


def test_a_one_time_login_works_once() -> None:
    logins = OneTimeLogins()
    password = logins.issue("operator")
    assert not logins.use("operator", password + "x")
    assert not logins.use("ada", password)
    assert logins.use("operator", password)
    assert not logins.use("operator", password)


def test_sessions_end_when_idle_too_long_or_too_old() -> None:
    sessions = Sessions(idle_s=10.0, lifetime_s=25.0)
    s = sessions.create("ada", 0.0)
    assert s.csrf != s.token
    assert sessions.get(s.token, 9.0) is s
    assert sessions.get(s.token, 18.0) is s  # seen at 9: still live
    assert sessions.get(s.token, 26.0) is None  # over its lifetime
    t = sessions.create("ada", 30.0)
    assert sessions.get(t.token, 41.0) is None  # idle
    assert sessions.get(None, 0.0) is None
    assert len(sessions) == 0


def test_the_guard_locks_an_address_out_after_five_failures_and_doubles() -> None:
    guard = LoginGuard(max_failures=5, window_s=300.0, lockout_s=30.0)
    for k in range(4):
        assert guard.failed("10.0.0.1", float(k)) is None
    assert guard.failed("10.0.0.1", 4.0) == 30.0
    assert guard.retry_after("10.0.0.1", 10.0) == pytest.approx(24.0)
    assert guard.retry_after("10.0.0.2", 10.0) is None  # only that address
    assert guard.retry_after("10.0.0.1", 34.0) is None
    for k in range(5):
        lockout = guard.failed("10.0.0.1", 40.0 + k)
    assert lockout == 60.0
    guard.succeeded("10.0.0.1")
    assert guard.retry_after("10.0.0.1", 45.0) is None


def test_failures_outside_the_window_do_not_count() -> None:
    guard = LoginGuard(max_failures=3, window_s=10.0)
    assert [guard.failed("a", t) for t in (0.0, 5.0, 11.0, 12.0)] == [None, None, None, 30.0]


def test_tokens_compare_in_constant_time_and_missing_ones_never_match() -> None:
    assert same_token("abc", "abc")
    assert not same_token("abc", "abd")
    assert not same_token(None, None)
    assert not same_token("", "")
