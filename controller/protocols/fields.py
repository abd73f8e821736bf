"""L5 field checks shared by the codecs: one range check, one local-to-remote error rule."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from controller.errors import LocalProtocolError, RemoteProtocolError

__all__ = ["check_range", "from_peer"]

_T = TypeVar("_T")


def check_range(name: str, value: int, hi: int, *, lo: int = 0, why: str = "") -> None:
    """`name=value` must lie in lo..hi, else LocalProtocolError naming both."""
    if not lo <= value <= hi:
        msg = f"{name}={value!r} out of range {lo}..{hi}{why}"
        raise LocalProtocolError(msg)


def from_peer(build: Callable[[], _T]) -> _T:
    """Build a packet from peer bytes: a field-range failure is the peer's fault."""
    try:
        return build()
    except LocalProtocolError as exc:
        raise RemoteProtocolError(str(exc)) from exc
