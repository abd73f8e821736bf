"""L8 the simulator as a real receiver: `citypulse simulate` in its own process on loopback.

`run --output sim` in real time sends every route of the rig over real sockets to this
child process (Art-Net and sACN unicast and OSC to its loopback ports, ENTTEC to its pty),
so the simulator never competes with the player for the interpreter, as a real receiver
would not. The child reports where it listens in a ready file and its statistics as JSON
on stdout when it is interrupted.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any, Self

from controller.clock import Clock, MonotonicClock
from controller.errors import ArgumentError
from controller.outputs.routing import Route
from controller.show.rig import Protocol

__all__ = ["SimulatorProcess"]

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0  # a simulator that does not end on SIGINT by then is killed


class SimulatorProcess:
    """`with SimulatorProcess(...) as sim:` starts `citypulse simulate`; exit stops it."""

    def __init__(
        self,
        *,
        show: Path,
        venue: str,
        record: Path | None = None,
        preview: Path | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.show, self.venue = show, venue
        self.record, self.preview = record, preview
        self.clock = clock or MonotonicClock()
        self.ports: dict[str, Any] = {}
        self.stats: dict[str, Any] = {}
        self.stderr = ""
        self._proc: subprocess.Popen[str] | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="citypulse-sim-")

    def __enter__(self) -> Self:
        ready = Path(self._dir.name) / "ready.json"
        cmd = [
            sys.executable, "-m", "controller", "simulate", str(self.show), "--venue", self.venue,
            "--listen", "artnet,sacn,osc,enttec", "--artnet-port", "0", "--sacn-port", "0",
            "--osc-port", "0", "--ready-file", str(ready), "--json",
        ]  # fmt: skip
        if self.record is not None:
            cmd += ["--record", str(self.record)]
        if self.preview is not None:
            cmd += ["--preview", str(self.preview)]
        self._proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True
        )
        deadline = self.clock.now() + READY_TIMEOUT_S
        while not ready.exists():
            if self._proc.poll() is not None or self.clock.now() > deadline:
                self._stop()
                raise ArgumentError(
                    "--output", f"the simulator process did not start: {self.stderr.strip()}"
                )
            self.clock.wait_until(self.clock.now() + 0.02)
        self.ports = json.loads(ready.read_text())
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()
        self._dir.cleanup()

    def _stop(self) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        self.stderr = err
        try:
            self.stats = json.loads(out) if out.strip() else {}
        except json.JSONDecodeError:
            self.stats = {}
        self._proc = None

    def retarget(self, routes: list[Route]) -> list[Route]:
        """The rig's routes sent to this process instead of the venue's devices."""
        host, p = "127.0.0.1", self.ports
        out = []
        for r in routes:
            if r.protocol is Protocol.ARTNET:
                out.append(replace(r, host=host, port=p["artnet"], broadcast=None))
            elif r.protocol is Protocol.SACN:
                out.append(replace(r, host=host, port=p["sacn"], multicast=False))
            elif r.protocol is Protocol.OSC:
                out.append(replace(r, host=host, port=p["osc"]))
            elif r.protocol is Protocol.ENTTEC:
                out.append(replace(r, device=p["enttec"]))
            else:
                raise ArgumentError(
                    "--output",
                    f"sim: the simulator process has no {r.protocol.value} input; "
                    "use --virtual for an in-process simulator",
                )
        return out
