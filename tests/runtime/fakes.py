"""A recording fake of `controller.outputs.base.Output` (hand-written, no unittest.mock).

It keeps every call with the time it was made and a copy of the bytes staged, and
models what a sync-capable receiver shows: at `commit` the most recently staged frame
latches. Hooks let a test fail an operation or run code inside `stage` (a slow render,
an operator command arriving between stage and delivery).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from controller.outputs.base import Output, OutputStats

__all__ = ["MINI", "Call", "Op", "RecordingOutput"]

MINI = Path(__file__).resolve().parents[1] / "data" / "venue" / "shows" / "mini.yaml"

Op = Literal["open", "stage", "commit", "poll", "close"]
U8 = NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Call:
    op: Op
    now: float
    dmx: U8 | None = None  # a copy, for "stage"; the latched frame, for "commit"


class RecordingOutput:
    """Records open/stage/commit/poll/close; `fail` names operations that raise OSError."""

    def __init__(
        self,
        name: str = "fake",
        *,
        fail: Collection[Op] = (),
        on_stage: Callable[[int, float], None] | None = None,
        commits_wanted: int | None = None,
        pause: bool = False,
    ) -> None:
        self.name = name
        self.fail = frozenset(fail)
        self.on_stage = on_stage  # called with (stage count, now) after recording a stage
        self.calls: list[Call] = []
        self._stats = OutputStats(name=name)
        self._staged: U8 | None = None
        self.stages = 0
        self.commits_wanted = commits_wanted
        self.enough = threading.Event()  # set once `commits_wanted` commits happened
        self.pause = pause  # then block that commit until `release` (at most 10 s)
        self.release = threading.Event()

    def _enter(self, op: Op) -> None:
        if op in self.fail:
            msg = f"{self.name}: {op} failed"
            raise OSError(msg)

    def open(self, now: float) -> None:
        self._enter("open")
        self.calls.append(Call("open", now))

    def stage(self, now: float, dmx: U8, *, deadline: float | None = None) -> None:
        self._enter("stage")
        self._staged = dmx.copy()
        self.calls.append(Call("stage", now, self._staged))
        self.stages += 1
        if self.on_stage is not None:
            self.on_stage(self.stages, now)

    def commit(self, now: float) -> None:
        self._enter("commit")
        self.calls.append(Call("commit", now, self._staged))
        self._stats.frames += 1
        if self.commits_wanted is not None and self._stats.frames >= self.commits_wanted:
            self.enough.set()
            if self.pause and self._stats.frames == self.commits_wanted:
                self.release.wait(10)

    def send_frame(self, now: float, dmx: U8) -> None:
        self.stage(now, dmx)
        self.commit(now)

    def poll(self, now: float) -> None:
        self._enter("poll")
        self.calls.append(Call("poll", now))

    def close(self, now: float) -> None:
        self._enter("close")
        self.calls.append(Call("close", now))

    def note_error(self, message: str) -> None:
        self._stats.errors += 1
        self._stats.last_error = message

    def stats(self) -> OutputStats:
        return self._stats

    # -- views -------------------------------------------------------------------------
    def of(self, op: Op) -> list[Call]:
        return [c for c in self.calls if c.op == op]

    @property
    def commits(self) -> list[Call]:
        return self.of("commit")

    @property
    def last_staged(self) -> U8:
        """The bytes of the most recent stage."""
        last = self.of("stage")[-1].dmx
        assert last is not None
        return last

    @property
    def latched(self) -> U8:
        """What a receiver shows now: the frame of the last commit."""
        last = self.commits[-1].dmx
        assert last is not None
        return last


def _conforms(output: RecordingOutput) -> Output:
    return output  # mypy checks that the fake satisfies the real Protocol
