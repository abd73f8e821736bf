"""L6 the one interface every output implements, and where outputs send bytes.

Outputs are driven by the engine from its frame thread: `open` once; for each frame
`stage` ahead of its deadline (outputs with a sync packet send their data then) and
`commit` at the deadline (the sync packet, or the whole frame for outputs without one);
`poll` after each frame for keep-alives and whatever the output answers (Art-Net ArtPoll);
`close` to end streams cleanly. `send_frame` is `stage` then `commit` at once, for tests
and tools. Outputs hold no show logic; bytes come from the sans-IO senders in
`controller.protocols`. Sinks are the I/O: a real socket or serial port in production,
the in-process simulator in tests and rehearsals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

__all__ = ["ByteSink", "DatagramSink", "Output", "OutputStats"]


class DatagramSink(Protocol):
    def sendto(self, data: bytes, address: tuple[str, int]) -> None: ...


class ByteSink(Protocol):
    def write(self, data: bytes) -> None: ...


@dataclass(slots=True)
class OutputStats:
    name: str
    frames: int = 0
    packets: int = 0
    bytes: int = 0
    errors: int = 0
    reopens: int = 0
    last_error: str | None = None
    up: bool = True
    extra: dict[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()  # conditions the operator should know (a port in use)


class Output(Protocol):
    """A destination for a venue's universes."""

    name: str

    def open(self, now: float) -> None: ...

    def stage(self, now: float, dmx: NDArray[np.uint8], *, deadline: float | None = None) -> None:
        """Get the frame due at `deadline` ready; outputs with a sync packet send its data now.

        `dmx` has one row per universe of the venue's patch. `deadline` is when the frame is
        due on the output's clock (OSC timetags its bundles with it); None means "at commit".
        Staging again before `commit` replaces the staged frame.
        """

    def commit(self, now: float) -> None:
        """At the frame deadline: the sync packet, or the whole frame for outputs without one."""

    def send_frame(self, now: float, dmx: NDArray[np.uint8]) -> None:
        """`stage(now, dmx, deadline=now)` then `commit(now)`."""

    def poll(self, now: float) -> None:
        """Keep-alives and retries due by `now`."""

    def close(self, now: float) -> None:
        """End streams cleanly (sACN stream-terminated, final frames)."""

    def stats(self) -> OutputStats: ...

    def note_error(self, message: str) -> None:
        """Count a failure the caller caught while driving this output."""
