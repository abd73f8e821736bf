"""Hand-written fakes of the output-side Protocols: a datagram sink and a serial line."""

from __future__ import annotations

import threading

from controller.testing import ManualClock

__all__ = ["LinePort", "RecordingSink"]


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


class LinePort:
    """An Open DMX line: records (clock time, operation, value) for every call."""

    def __init__(self, clock: ManualClock, *, packets_wanted: int = 0) -> None:
        self.clock = clock
        self.events: list[tuple[float, str, object]] = []
        self._break = False
        self.packets = 0
        self.packets_wanted = packets_wanted
        self.enough = threading.Event()
        self.threads: set[str] = set()

    @property
    def break_condition(self) -> bool:
        return self._break

    @break_condition.setter
    def break_condition(self, value: bool) -> None:
        self._break = value
        self.events.append((self.clock.now(), "break", value))

    def write(self, data: bytes) -> int:
        self.events.append((self.clock.now(), "write", bytes(data)))
        return len(data)

    def flush(self) -> None:
        self.events.append((self.clock.now(), "flush", None))
        self.threads.add(threading.current_thread().name)
        self.packets += 1
        if self.packets_wanted and self.packets >= self.packets_wanted:
            self.enough.set()

    def close(self) -> None:
        self.events.append((self.clock.now(), "close", None))

    def packet_list(self) -> list[list[tuple[float, str, object]]]:
        ops = [e for e in self.events if e[1] != "close"]
        return [ops[i : i + 4] for i in range(0, len(ops) - len(ops) % 4, 4)]
