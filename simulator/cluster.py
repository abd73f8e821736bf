"""A multi-city rehearsal on one machine: broker, conductor, venues behind WAN links, a wire capture.

`Cluster` starts real processes, as a deployment would run them:
- a private mosquitto from `citypulse bus init` on a free loopback port;
- `citypulse conductor` (and a `--standby` one when asked);
- one `citypulse venue` per venue, each reaching the broker through its own impaired link
  (`simulator.links`: delay, one-sided jitter, spikes, cuts) and running on a simulated
  clock offset and drift, so that the processes disagree about time the way cities do;
- each venue's monitoring tap (`--tap`) into one capture process that timestamps every
  frame on the wire with the kernel's clock (`simulator.capture`), so skew is measured from
  the packets, never from what the nodes say about themselves.
Operators' commands go through the real `citypulse cmd`. Every process logs to the work
directory; stopping them (SIGINT) collects each venue's JSON report.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from controller.clock import MonotonicClock
from simulator.capture import CaptureProcess
from simulator.links import LinksProcess

__all__ = ["Cluster", "ClusterError", "VenueSetup"]

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0
_clock = MonotonicClock()


class ClusterError(RuntimeError):
    """A process of the rehearsal did not start or answer; the message says which and why."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueSetup:
    venue: str
    link: str = ""  # simulator.pathmodel spec ("rtt=60ms,jitter=10ms"); "" is a clean path
    clock_offset_ms: float = 0.0
    clock_drift_ppm: float = 0.0
    output: str = (
        "sim"  # any `citypulse run --output`, or "null": Art-Net into a socket that never reads
    )
    extra: tuple[str, ...] = ()  # more `citypulse venue` arguments


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


NETWORK_PRIORITY = 30  # the emulated network and the broker with `rt`: above every venue's
# rendering (10), below its bus thread (40) and output thread (50), which a burst of theirs
# must never preempt (see controller.runtime.conductor_node.TIME_SERVICE_PRIORITY)


def _citypulse(*argv: str) -> list[str]:
    return [sys.executable, "-m", "controller", *argv]


class Cluster:
    def __init__(
        self,
        *,
        show: Path,
        workdir: Path,
        venues: Sequence[VenueSetup],
        capture_seconds: float = 3600.0,
        standby: bool = False,
        verbose: bool = False,
        broker: tuple[str, int] | None = None,
        deployment: Path | None = None,
        rt: bool = False,
    ) -> None:
        """`broker` and `deployment`: use a running broker (host, port) whose users are those
        of `deployment` (made by `citypulse bus init` for it) instead of a private one."""
        self.show = show.resolve()
        self.dir = workdir
        self.venues = {v.venue: v for v in venues}
        self.capture_seconds = capture_seconds
        self.want_standby = standby
        # `conductor --rt`, and the broker and the emulated links at SCHED_FIFO `NETWORK_PRIORITY`:
        # on this one machine they stand for other hosts and the network between the cities,
        # which no venue's show slows down. At normal priority the venues' real-time rendering
        # delays them, by how much depending on what the show plays: the delay floors move
        # when the show starts, and a floor that moves looks like a clock rate to every venue.
        self.rt = rt
        self.verbose = verbose
        if (broker is None) != (deployment is None):
            msg = "an external broker needs its deployment directory, and the other way round"
            raise ValueError(msg)
        self.external = broker
        self._deployment = deployment
        self.broker_host, self.broker_port = broker or ("127.0.0.1", free_port())
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.reports: dict[str, dict[str, Any]] = {}
        self.links: LinksProcess | None = None
        self.capture: CaptureProcess | None = None
        self.taps: dict[str, int] = {}
        self._stack = contextlib.ExitStack()
        self._null = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # "null" outputs' sink
        self._null.bind(("127.0.0.1", 0))

    # -- paths -------------------------------------------------------------------------------
    @property
    def deployment(self) -> Path:
        return self._deployment or self.dir / "deployment"

    def credentials(self, role: str) -> Path:
        return self.deployment / "credentials" / f"{role}.toml"

    @property
    def broker_url(self) -> str:
        return f"mqtt://{self.broker_host}:{self.broker_port}"

    def log(self, name: str) -> str:
        path = self.dir / f"{name}.err"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- the whole ----------------------------------------------------------------------------
    def __enter__(self) -> Self:
        try:
            if self.external is None:
                self._init_deployment()
                self.start_broker()
            specs = {name: v.link for name, v in self.venues.items()}
            self.links = self._stack.enter_context(
                LinksProcess(
                    specs,
                    (self.broker_host, self.broker_port),
                    priority=NETWORK_PRIORITY if self.rt else None,
                )
            )
            names = sorted(self.venues)
            self.capture = self._stack.enter_context(
                CaptureProcess([0] * len(names), self.capture_seconds, names=names)
            )
            self.taps = dict(zip(names, self.capture.ports, strict=True))
            self.start_conductor()
            if self.want_standby:
                self.start_conductor(standby=True)
            for name in names:
                self.start_venue(name)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for name in [n for n in self.processes if n.startswith("venue-")]:
            self.stop(name)
        for name in list(self.processes):
            if name != "broker":
                self.stop(name)
        self.stop("broker")
        self._stack.close()
        self._null.close()

    # -- processes ------------------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        out = (self.dir / f"{name}.out").open("wb")
        err = (self.dir / f"{name}.err").open("ab")
        self.processes[name] = subprocess.Popen(
            argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=self.dir
        )
        out.close()
        err.close()

    def _init_deployment(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            _citypulse("bus", "init", str(self.show), str(self.deployment),
                       "--listen", f"127.0.0.1:{self.broker_port}", "--force"),
            capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
        if done.returncode != 0:
            raise ClusterError(f"bus init failed: {done.stderr.strip()}")

    def start_broker(self) -> None:
        self._spawn(
            "broker", ["/usr/sbin/mosquitto", "-c", str(self.deployment / "mosquitto.conf")]
        )
        if self.rt:
            with contextlib.suppress(OSError):  # refused: it runs at normal priority
                os.sched_setscheduler(
                    self.processes["broker"].pid, os.SCHED_FIFO, os.sched_param(NETWORK_PRIORITY)
                )
        self._wait(lambda: _listening(self.broker_port), "broker", "the broker did not listen")

    def kill(self, name: str) -> None:
        """SIGKILL: gone mid-conversation (its Last Will fires)."""
        process = self.processes.pop(name, None)
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def stop(self, name: str) -> None:
        """SIGINT (a node ends cleanly and prints its report), SIGKILL if it does not."""
        process = self.processes.pop(name, None)
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGINT if name != "broker" else signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if name.startswith("venue-"):
            self._collect(name)

    def _collect(self, name: str) -> None:
        text = (self.dir / f"{name}.out").read_text(errors="replace").strip()
        with contextlib.suppress(json.JSONDecodeError):
            if text:
                self.reports[name.removeprefix("venue-")] = json.loads(text)

    def start_conductor(self, *, standby: bool = False) -> None:
        name = "standby" if standby else "conductor"
        argv = _citypulse(
            "conductor", str(self.show), "--credentials", str(self.credentials("conductor")),
            "--broker", self.broker_url, "--node", name, "--audit", str(self.dir / f"{name}.audit"),
        )  # fmt: skip
        if standby:
            argv.append("--standby")
        if self.rt:
            argv.append("--rt")
        if self.verbose:
            argv.append("-v")
        self._spawn(name, argv)

    def start_venue(self, venue: str) -> None:
        setup = self.venues[venue]
        assert self.links is not None
        output = ["--output", setup.output]
        if setup.output == "null":
            output = ["--output", "artnet", "--target", f"127.0.0.1:{self._null.getsockname()[1]}"]
        argv = _citypulse(
            "venue", str(self.show), "--venue", venue,
            "--credentials", str(self.credentials(f"venue-{venue}")),
            "--broker", f"mqtt://127.0.0.1:{self.links.ports[venue]}",
            *output, "--tap", f"127.0.0.1:{self.taps[venue]}",
            "--clock-offset-ms", str(setup.clock_offset_ms),
            "--clock-drift-ppm", str(setup.clock_drift_ppm),
            "--audit", str(self.dir / f"venue-{venue}.audit"), "--json", *setup.extra,
        )  # fmt: skip
        if self.verbose:
            argv.append("-v")
        self._spawn(f"venue-{venue}", argv)

    def start_measure(self, seconds: float, *, keep_series: bool = False) -> CaptureProcess:
        """A fresh wire capture on the taps: `.stop()` ends it early, `.result()` reports."""
        if self.capture is not None:
            self.capture.stop()
            with contextlib.suppress(Exception):
                self.capture.result(30)
        names = sorted(self.taps)
        ports = [self.taps[n] for n in names]
        self.capture = self._stack.enter_context(
            CaptureProcess(ports, seconds, names=names, keep_series=keep_series)
        )
        return self.capture

    def measure(self, seconds: float, *, keep_series: bool = False) -> dict[str, Any]:
        """A fresh wire capture on the taps for `seconds`: what left each venue, and when."""
        result = self.start_measure(seconds, keep_series=keep_series).result(seconds + 30)
        self.capture = None
        return result

    def running(self, name: str) -> bool:
        process = self.processes.get(name)
        return process is not None and process.poll() is None

    # -- the operator ----------------------------------------------------------------------------
    def cmd(self, verb: str, arg: str | None = None, *, at: str | None = None,
            force: bool = False) -> dict[str, Any]:  # fmt: skip
        argv = _citypulse("cmd", verb, "--credentials", str(self.credentials("operator")),
                          "--broker", self.broker_url, "--json")  # fmt: skip
        if arg is not None:
            argv.insert(argv.index(verb) + 1, arg)
        if at is not None:
            argv += ["--at", at]
        if force:
            argv.append("--force")
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
        if not done.stdout.strip():
            raise ClusterError(f"cmd {verb}: no answer ({done.returncode}): {done.stderr.strip()}")
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    def status(self) -> dict[str, Any]:
        return self.cmd("status")

    def wait_for(
        self, what: str, check: Callable[[dict[str, Any]], bool], timeout_s: float
    ) -> dict[str, Any]:
        """Poll `status()` until `check` holds; ClusterError naming `what` (with logs) if not."""
        deadline = _clock.now() + timeout_s
        while True:
            status = self.status()
            if check(status):
                return status
            if _clock.now() > deadline:
                logs = "\n".join(f"--- {n}:\n{self.log(n)[-2000:]}" for n in self.processes)
                raise ClusterError(
                    f"{what}: not within {timeout_s:g} s; last status {status}\n{logs}"
                )
            _clock.wait_until(_clock.now() + 0.2)

    def _wait(self, ready: Callable[[], bool], name: str, message: str) -> None:
        deadline = _clock.now() + START_TIMEOUT_S
        while not ready():
            process = self.processes.get(name)
            if process is not None and process.poll() is not None:
                raise ClusterError(
                    f"{message}: {name} exited {process.returncode}: {self.log(name)}"
                )
            if _clock.now() > deadline:
                raise ClusterError(f"{message} within {START_TIMEOUT_S:g} s: {self.log(name)}")
            _clock.wait_until(_clock.now() + 0.02)


def all_locked(status: dict[str, Any], venues: Sequence[str]) -> bool:
    got = status.get("venues", {})
    return (
        all(v in got and got[v]["online"] and got[v]["timebase_state"] == "locked" for v in venues)
        and status.get("state") is not None
    )


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False
