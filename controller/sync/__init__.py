"""Shared timebase for venues in lockstep: four-timestamp exchanges → disciplined clock map (L5).

Pure: time enters as arguments; nothing here reads a clock, sleeps or touches the network.
"""

from __future__ import annotations

from controller.sync.discipline import ClockMap, StepEvent
from controller.sync.exchange import Exchange
from controller.sync.timebase import (
    RawEstimate,
    Timebase,
    TimebaseConfig,
    TimebaseSnapshot,
    TimebaseState,
)

__all__ = [
    "ClockMap",
    "Exchange",
    "RawEstimate",
    "StepEvent",
    "Timebase",
    "TimebaseConfig",
    "TimebaseSnapshot",
    "TimebaseState",
]
