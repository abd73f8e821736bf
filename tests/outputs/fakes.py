"""A recording `DatagramSink` (a hand-written fake of the Protocol)."""

from __future__ import annotations

__all__ = ["RecordingSink"]


class RecordingSink:
    """Keeps every datagram; `take()` returns those since the last take."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, tuple[str, int]]] = []
        self._taken = 0

    def sendto(self, data: bytes, address: tuple[str, int]) -> None:
        self.sent.append((bytes(data), address))

    def take(self) -> list[tuple[bytes, tuple[str, int]]]:
        new, self._taken = self.sent[self._taken :], len(self.sent)
        return new
