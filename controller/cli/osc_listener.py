"""L8 `run --osc-in PORT`: OSC operator commands, received on their own asyncio loop thread.

The receiver only parses and submits `Command`s (timetags become `exec_at` on the venue's
frame grid); the output thread applies them. Its counters, and the engine's outcomes of
commands whose origin is "osc", make the end-of-run summary.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from controller.clock import wall_minus_monotonic
from controller.errors import ArgumentError
from controller.runtime.osc_commands import OscCommands
from controller.runtime.session import VenueSession
from controller.transports.osc_in import OscInput

__all__ = ["OscListener"]

READY_TIMEOUT_S = 5.0
POLL_S = 0.1


class OscListener:
    def __init__(self, session: VenueSession, port: int) -> None:
        self.session = session
        self.port = port
        grid = session.grid
        self.commands = OscCommands(
            submit=session.submit, venue=session.job.plan.venue, to_grid=grid.to_grid
        )
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._input: OscInput | None = None
        self._thread = threading.Thread(target=self._main, name="osc-in", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(READY_TIMEOUT_S)
        if self._error is not None:
            raise ArgumentError("--osc-in", f"port {self.port}: {self._error}")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(READY_TIMEOUT_S)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except OSError as exc:
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        clock = self.session.clock
        async with OscInput(
            handler=self.commands, clock=clock, wall_offset=wall_minus_monotonic(), port=self.port
        ) as rx:
            self._input = rx
            self.port = rx.port
            self._ready.set()
            while not self._stop.is_set():
                await clock.sleep_until(clock.now() + POLL_S)

    def summary(self) -> dict[str, Any]:
        outcomes = [o for o in self.session.engine.outcomes() if o.command.origin == "osc"]
        stats = self._input.statistics() if self._input is not None else None
        return {
            "port": self.port,
            "submitted": self.commands.submitted,
            "accepted": sum(o.accepted for o in outcomes),
            "refused": self.commands.refused + sum(not o.accepted for o in outcomes),
            "ignored": self.commands.ignored,
            "malformed": stats.malformed + stats.oversize if stats else 0,
            "dropped": stats.lost - stats.malformed - stats.oversize if stats else 0,
            "receiver": stats.as_dict() if stats else {},
        }
