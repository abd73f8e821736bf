"""L7 append-only audit log of commands: one JSON line per event, written whole and fsynced.

Every node keeps one. A line records what became of a command at this node:

    {"v":1,"event":"rejected","node":"lhasa","local_time":5.25,"shared_time":1767225601.5,
     "issuer":"operator","id":"op-1","kind":"go","reason":"forged","detail":"...","exec_at":null}

- `event` is `received`, `accepted`, `rejected` (with `reason`, a `signing.Reason` code, and
  `detail`) or `executed` (with the shared and the local time it took effect).
- `local_time` is the node's own clock (`Clock.now()`), `shared_time` the bus time (UTC
  seconds) when the node knows it; either may be null. Both are passed in: this module
  never reads a clock.
- Issuer, id and kind of a rejected envelope are what it *claims* (unverified, clipped to
  200 characters); JSON escaping keeps any text on its one line.
- `origin`, last and only when known, is who asked, as the command says (`cli`,
  `console:<user>`): the conductor writes it, so its log names the operator.

Durability: the file is opened `O_APPEND` (never truncated, each write lands at the end even
with several writers), a line is handed to the kernel in a single `write` call (so a killed
process leaves no half line, and concurrent writers do not interleave), then `fsync`ed
before the call returns (so an accepted command is on disk before it executes).
"""

from __future__ import annotations

import json
import math
import os
import threading
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

from controller.errors import ControllerError

__all__ = ["AuditError", "AuditEvent", "AuditLog"]

AuditEvent = Literal["received", "accepted", "rejected", "executed"]
_EVENTS = frozenset({"received", "accepted", "rejected", "executed"})
_TEXT_CHARS = 200  # issuer, id, kind, reason: enough for any honest value
_DETAIL_CHARS = 1000


class AuditError(ControllerError):
    """The audit log cannot be opened or written (a node must not execute unlogged)."""


def _clip(value: str | None, limit: int) -> str | None:
    return None if value is None else value[:limit]


def _time(value: float | None) -> float | None:
    return value if value is None or math.isfinite(value) else None


class AuditLog:
    """An open audit log; build with `AuditLog.open(path, node=...)`, close with `close()`."""

    def __init__(self, fd: int, *, path: Path, node: str) -> None:
        """Wrap an already open descriptor; use `AuditLog.open` instead."""
        self._fd: int | None = fd
        self.path = path
        self.node = node
        self._lock = threading.Lock()  # one writer at a time within this process

    @classmethod
    def open(cls, path: Path, *, node: str) -> Self:
        """Open `path` for appending (created 0600 if missing; its directory must exist)."""
        # O_NONBLOCK only for the open: a FIFO nobody reads fails (ENXIO) instead of hanging
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NONBLOCK
        try:
            fd = os.open(path, flags, 0o600)
        except OSError as exc:
            raise AuditError(f"{path}: cannot open audit log: {exc.strerror or exc}") from exc
        os.set_blocking(fd, True)
        return cls(fd, path=path, node=node)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def record(
        self,
        event: AuditEvent,
        *,
        local_time: float | None,
        shared_time: float | None = None,
        issuer: str | None = None,
        command_id: str | None = None,
        kind: str | None = None,
        reason: str | None = None,
        detail: str | None = None,
        exec_at: float | None = None,
        origin: str | None = None,
    ) -> None:
        """Append one line and fsync it.

        Raises:
            AuditError: the log is closed or the disk refused the line.
        """
        if event not in _EVENTS:
            raise ValueError(f"event={event!r} is not one of {sorted(_EVENTS)}")
        line = {
            "v": 1,
            "event": event,
            "node": self.node,
            "local_time": _time(local_time),
            "shared_time": _time(shared_time),
            "issuer": _clip(issuer, _TEXT_CHARS),
            "id": _clip(command_id, _TEXT_CHARS),
            "kind": _clip(kind, _TEXT_CHARS),
            "reason": _clip(reason, _TEXT_CHARS),
            "detail": _clip(detail, _DETAIL_CHARS),
            "exec_at": _time(exec_at),
        }
        if origin is not None:
            line["origin"] = _clip(origin, _TEXT_CHARS)
        data = (json.dumps(line, ensure_ascii=True, separators=(",", ":")) + "\n").encode()
        with self._lock:
            if self._fd is None:
                raise AuditError(f"{self.path}: audit log is closed")
            self._append(self._fd, data)

    def _append(self, fd: int, data: bytes) -> None:
        try:
            written = os.write(fd, data)  # one call: the line is whole or absent
            while written < len(data):  # only on a full disk or a signal mid-write
                written += os.write(fd, data[written:])
            os.fsync(fd)
        except OSError as exc:
            raise AuditError(f"{self.path}: cannot write audit log: {exc.strerror or exc}") from exc

    def received(
        self,
        *,
        local_time: float | None,
        shared_time: float | None,
        issuer: str | None,
        command_id: str | None,
        kind: str | None,
    ) -> None:
        self.record(
            "received",
            local_time=local_time,
            shared_time=shared_time,
            issuer=issuer,
            command_id=command_id,
            kind=kind,
        )

    def accepted(
        self,
        *,
        local_time: float | None,
        shared_time: float | None,
        issuer: str,
        command_id: str,
        kind: str,
        exec_at: float | None,
    ) -> None:
        self.record(
            "accepted",
            local_time=local_time,
            shared_time=shared_time,
            issuer=issuer,
            command_id=command_id,
            kind=kind,
            exec_at=exec_at,
        )

    def rejected(
        self,
        *,
        local_time: float | None,
        shared_time: float | None,
        issuer: str | None,
        command_id: str | None,
        kind: str | None,
        reason: str,
        detail: str,
    ) -> None:
        self.record(
            "rejected",
            local_time=local_time,
            shared_time=shared_time,
            issuer=issuer,
            command_id=command_id,
            kind=kind,
            reason=reason,
            detail=detail,
        )

    def executed(
        self,
        *,
        local_time: float,
        shared_time: float | None,
        issuer: str | None,
        command_id: str,
        kind: str,
        exec_at: float | None,
    ) -> None:
        self.record(
            "executed",
            local_time=local_time,
            shared_time=shared_time,
            issuer=issuer,
            command_id=command_id,
            kind=kind,
            exec_at=exec_at,
        )
