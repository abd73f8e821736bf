"""A real mosquitto for tests: its own config in a temporary directory, a free loopback port.

`Broker(directory)` writes `<name>.conf` (one listener on 127.0.0.1, TLS if given a
certificate, anonymous clients allowed unless told otherwise, `set_tcp_nodelay true`,
persistence off unless asked, a log file) and `start()` runs it and waits, bounded, until it accepts TCP connections.
`stop()`, `kill()` (SIGKILL: an outage without goodbyes) and `restart()` keep the port, so
clients can come back to the same URL; `pause()`/`resume()` (SIGSTOP/SIGCONT) stall it. `Broker.from_config(path, directory)` runs a config
someone else wrote (`citypulse bus init`'s), on the port of its first listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import re
import signal
import socket
import subprocess
from collections.abc import Iterable
from pathlib import Path

import pytest

from controller.clock import MonotonicClock
from controller.transports.mqtt import BusClient

MOSQUITTO = Path("/usr/sbin/mosquitto")
START_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 5.0
_clock = MonotonicClock()


def require_mosquitto() -> Path:
    """The broker binary, or a failed test that says how to install it (never a skip)."""
    if not os.access(MOSQUITTO, os.X_OK):
        pytest.fail(f"{MOSQUITTO} not found: run scripts/setup (it installs Debian's mosquitto)")
    return MOSQUITTO


def free_port() -> int:
    """A TCP port nothing listens on right now (bind port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _first_listener(config: str) -> tuple[str, int, bool]:
    """Host, port and TLS (a `certfile` before the next listener) of the first listener."""
    blocks = re.split(r"(?m)^\s*(?=listener\s)", config)
    for block in blocks:
        match = re.match(r"listener\s+(\d+)(?:[ \t]+(\S+))?", block)
        if match:
            host = match.group(2) or "127.0.0.1"
            host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
            tls = re.search(r"(?m)^\s*certfile\s", block) is not None
            return host, int(match.group(1)), tls
    msg = "the mosquitto config has no `listener PORT` line"
    raise ValueError(msg)


class Broker:
    """One mosquitto process on 127.0.0.1; see the module docstring."""

    def __init__(
        self,
        directory: Path,
        *,
        port: int | None = None,
        anonymous: bool = True,
        persistence: bool = False,
        tcp_nodelay: bool = True,
        certfile: Path | None = None,
        keyfile: Path | None = None,
        extra: Iterable[str] = (),
        name: str = "broker",
    ) -> None:
        self.directory = directory
        self.name = name
        self.host = "127.0.0.1"
        self.port = port if port is not None else free_port()
        self.log_path = directory / f"{name}.log"
        self.config_path = directory / f"{name}.conf"
        self.tls = certfile is not None
        tls_lines = [f"certfile {certfile}", f"keyfile {keyfile}"] if certfile else []
        lines = [
            f"listener {self.port} {self.host}",
            *tls_lines,
            f"allow_anonymous {'true' if anonymous else 'false'}",
            f"set_tcp_nodelay {'true' if tcp_nodelay else 'false'}",
            f"persistence {'true' if persistence else 'false'}",
            f"persistence_location {directory}/",
            f"log_dest file {self.log_path}",
            "log_type all",
            "connection_messages true",
            *extra,
        ]
        self._write_config("\n".join(lines) + "\n")
        self._process: subprocess.Popen[bytes] | None = None

    @classmethod
    def from_config(cls, config: Path, directory: Path, *, name: str = "broker") -> Broker:
        """Run `config` as written, on the host and port of its first listener."""
        text = config.read_text(encoding="utf-8")
        broker = cls.__new__(cls)
        broker.directory = directory
        broker.name = name
        broker.host, broker.port, broker.tls = _first_listener(text)
        broker.log_path = directory / f"{name}.log"
        broker.config_path = directory / f"{name}.conf"
        broker._write_config(text)
        broker._process = None
        return broker

    def _write_config(self, text: str) -> None:
        # Run as whoever runs the tests: as root, mosquitto would otherwise drop to the
        # `mosquitto` user, which cannot read a pytest temporary directory (mode 0700). A
        # config that names its user keeps it (mosquitto refuses a second `user` line).
        if not re.search(r"(?m)^\s*user\s", text):
            text = f"{text.rstrip()}\nuser {pwd.getpwuid(os.getuid()).pw_name}\n"
        self.config_path.write_text(text, encoding="utf-8")

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log(self) -> str:
        """What the broker logged (its log file and anything it printed)."""
        parts = []
        for path in (self.log_path, self.directory / f"{self.name}.out"):
            with contextlib.suppress(FileNotFoundError):
                parts.append(path.read_text(encoding="utf-8", errors="replace"))
        return "".join(parts)

    def start(self) -> None:
        if self.running:
            return
        binary = require_mosquitto()
        with (self.directory / f"{self.name}.out").open("ab") as out:
            self._process = subprocess.Popen(
                [str(binary), "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = _clock.now() + START_TIMEOUT_S
        while True:
            assert self._process is not None
            if self._process.poll() is not None:
                pytest.fail(f"mosquitto exited with {self._process.returncode}:\n{self.log()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.port), 0.2),
            ):
                return
            if _clock.now() > deadline:
                self.kill()
                pytest.fail(f"mosquitto did not listen within {START_TIMEOUT_S} s:\n{self.log()}")
            _clock.wait_until(_clock.now() + 0.01)

    def stop(self) -> None:
        """SIGTERM: mosquitto closes every connection (firing no Wills) and exits."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL: the broker vanishes mid-conversation."""
        self._end(signal.SIGKILL)

    def _end(self, how: signal.Signals) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(how)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def pause(self) -> None:
        """SIGSTOP: the broker keeps its connections open but answers nothing (a stall)."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        self.stop()
        self.start()


def bridge_lines(remote: Broker, *, name: str, pattern: str = "citypulse/v1/#") -> list[str]:
    """Config lines that bridge `pattern` both ways (QoS 1) to `remote` (mosquitto.conf(5),
    "Configuring Bridges"); the bridge reconnects 1 s after losing the link."""
    return [
        f"connection {name}",
        f"address {remote.host}:{remote.port}",
        f"topic {pattern} both 1",
        "bridge_protocol_version mqttv50",
        "cleansession true",
        "try_private true",
        "restart_timeout 1",
        "keepalive_interval 5",
        "notifications false",
    ]


async def wait_route(source: Broker, target: Broker, *, timeout_s: float = START_TIMEOUT_S) -> None:
    """Until a message published at `source` is delivered at `target` (bridge up), bounded."""
    topic = f"citypulse/v1/_probe/{source.name}-to-{target.name}"
    receiver = BusClient(url=target.url, client_id=f"probe-rx-{target.name}")
    sender = BusClient(url=source.url, client_id=f"probe-tx-{source.name}")
    async with receiver, sender:
        await receiver.subscribe(topic, qos=0)
        messages = receiver.messages()
        deadline = _clock.now() + timeout_s
        while _clock.now() < deadline:
            await sender.publish(topic, b"probe")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.05):
                    await anext(messages)
                    return
    pytest.fail(
        f"no route {source.url} -> {target.url} within {timeout_s} s:\n"
        f"{source.log()}\n{target.log()}"
    )
