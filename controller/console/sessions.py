"""L8 console sessions and the login guard (pure: times are arguments).

- A session is a random 256-bit token in an HttpOnly, SameSite=Strict cookie, with its own
  CSRF token (sent back in the `X-CSRF-Token` header of every state-changing request). It
  ends on logout, after `idle_s` without a request, or `lifetime_s` after login.
- Before login, a pre-session token plays the same part for the login form itself.
- `LoginGuard`: after `max_failures` failed logins from one address within `window_s`, that
  address may not try again for `lockout_s` (doubling with each lockout, up to
  `max_lockout_s`). A success clears its record. Only the address is counted: counting user
  names would let anyone lock an operator out on the night.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field

__all__ = ["LoginGuard", "Session", "Sessions", "same_token"]


def same_token(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two tokens; False when either is missing."""
    if not a or not b:
        return False
    return hmac.compare_digest(
        a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass")
    )


@dataclass(slots=True)
class Session:
    token: str
    user: str
    csrf: str
    started: float
    seen: float


@dataclass(slots=True)
class Sessions:
    idle_s: float = 8 * 3600.0
    lifetime_s: float = 24 * 3600.0
    _by_token: dict[str, Session] = field(default_factory=dict)

    def create(self, user: str, now: float) -> Session:
        session = Session(secrets.token_urlsafe(32), user, secrets.token_urlsafe(32), now, now)
        self._by_token[session.token] = session
        return session

    def get(self, token: str | None, now: float) -> Session | None:
        """The live session of `token` (its idle clock restarted), or None."""
        session = self._by_token.get(token or "")
        if session is None:
            return None
        if now - session.seen > self.idle_s or now - session.started > self.lifetime_s:
            del self._by_token[session.token]
            return None
        session.seen = now
        return session

    def end(self, token: str | None) -> None:
        self._by_token.pop(token or "", None)

    def __len__(self) -> int:
        return len(self._by_token)


@dataclass(slots=True)
class _Record:
    failures: list[float] = field(default_factory=list)
    lockouts: int = 0
    until: float = float("-inf")


@dataclass(slots=True)
class LoginGuard:
    max_failures: int = 5
    window_s: float = 300.0
    lockout_s: float = 30.0
    max_lockout_s: float = 900.0
    _records: dict[str, _Record] = field(default_factory=dict)

    def retry_after(self, address: str, now: float) -> float | None:
        """Seconds until `address` may try again, or None when it may try now."""
        record = self._records.get(address)
        if record is None or now >= record.until:
            return None
        return record.until - now

    def failed(self, address: str, now: float) -> float | None:
        """Count a failure; the lockout it starts (seconds), or None."""
        record = self._records.setdefault(address, _Record())
        record.failures = [t for t in record.failures if now - t < self.window_s] + [now]
        if len(record.failures) < self.max_failures:
            return None
        lockout = min(self.lockout_s * 2.0**record.lockouts, self.max_lockout_s)
        record.lockouts += 1
        record.until = now + lockout
        record.failures.clear()
        return lockout

    def succeeded(self, address: str) -> None:
        self._records.pop(address, None)
