"""Helpers shared by the simulator tests: universes, the mini venue path, a warning collector."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol as TypingProtocol

from controller.show.rig import Protocol
from simulator.core import LOGGER_NAME, LatchCallback, SimulatorCore

MINI = Path(__file__).resolve().parents[1] / "data" / "venue" / "shows" / "mini.yaml"
SOURCE = ("127.0.0.1", 6454)


class MakeCore(TypingProtocol):
    def __call__(
        self,
        protocol: Protocol | None = ...,
        *,
        fps: float = ...,
        sync_timeout_s: float = ...,
        on_latch: LatchCallback | None = ...,
    ) -> SimulatorCore: ...


def level(value: int) -> bytes:
    """A 512-slot universe at one level."""
    return bytes([value]) * 512


class Warnings:
    """WARNING lines logged on the simulator logger while collecting."""

    def __init__(self) -> None:
        self.records: list[logging.LogRecord] = []

    @property
    def count(self) -> int:
        return len(self.records)


@contextmanager
def collect_warnings() -> Iterator[Warnings]:
    """Like caplog, but usable inside a hypothesis example."""
    found = Warnings()

    class _Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING:
                found.records.append(record)

    handler = _Handler()
    logger = logging.getLogger(LOGGER_NAME)
    logger.addHandler(handler)
    try:
        yield found
    finally:
        logger.removeHandler(handler)
