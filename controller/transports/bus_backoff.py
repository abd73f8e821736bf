"""L6 connecting with exponential back-off, waiting on the injected clock (never sleeping itself)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from controller.clock import Clock
from controller.transports.bus_errors import BusConnectError

__all__ = ["Backoff", "Connectable", "RetryHook", "connect_with_backoff"]

_log = logging.getLogger("citypulse.bus")


class Connectable(Protocol):
    """What `connect_with_backoff` needs: a connect that raises `BusConnectError`."""

    async def connect(self) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """Waits between connection attempts: `initial_s`, times `factor` each failure, at most
    `max_s`; `attempts` caps the tries (None: keep trying)."""

    initial_s: float = 0.1
    factor: float = 2.0
    max_s: float = 5.0
    attempts: int | None = None

    def delay_s(self, failures: int) -> float:
        """The wait after `failures` consecutive failed attempts (1, 2, ...)."""
        return min(self.max_s, self.initial_s * self.factor ** max(0, failures - 1))


RetryHook = Callable[[int, BusConnectError, float], None]


async def connect_with_backoff(
    client: Connectable,
    *,
    clock: Clock,
    backoff: Backoff = Backoff(),
    on_retry: RetryHook | None = None,
) -> int:
    """Connect `client`, waiting on `clock` between failed attempts; the number of attempts.

    `on_retry(failures, error, delay_s)` is called before each wait. A permanent refusal
    (bad credentials, not authorised) is raised at once; after `backoff.attempts` failures
    the last error is raised.
    """
    failures = 0
    while True:
        try:
            await client.connect()
        except BusConnectError as exc:
            failures += 1
            if exc.permanent or (backoff.attempts is not None and failures >= backoff.attempts):
                raise
            delay = backoff.delay_s(failures)
            if on_retry is not None:
                on_retry(failures, exc, delay)
            _log.info("%s; retrying in %.2f s", exc, delay)
            await clock.sleep_until(clock.now() + delay)
        else:
            return failures + 1
