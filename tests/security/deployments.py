"""Helpers for the `bus init` tests: run the CLI, read a deployment, run its real mosquitto."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import pytest

from controller.cli import main
from controller.clock import MonotonicClock
from controller.runtime.credentials import Credentials, load_credentials

ROOT = Path(__file__).resolve().parents[2]
DIGITAL_NIGHT = ROOT / "shows" / "digital-night.yaml"
MINI = ROOT / "tests" / "data" / "venue" / "shows" / "mini.yaml"
MOSQUITTO = Path("/usr/sbin/mosquitto")
START_TIMEOUT_S = 5.0
_clock = MonotonicClock()


def init(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["bus", "init", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def credentials(directory: Path, role: str) -> Credentials:
    return load_credentials(directory / "credentials" / f"{role}.toml")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def running_broker(directory: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """`mosquitto -c DIR/mosquitto.conf`, exactly as `bus init` wrote it, until the block ends."""
    if not os.access(MOSQUITTO, os.X_OK):
        pytest.fail(f"{MOSQUITTO} not found: run scripts/setup (it installs Debian's mosquitto)")
    with (directory / "broker.out").open("wb") as out:
        process = subprocess.Popen(
            [str(MOSQUITTO), "-c", str(directory / "mosquitto.conf")],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_listening(process, directory, port)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _log(directory: Path) -> str:
    parts = []
    for name in ("mosquitto.log", "broker.out"):
        with contextlib.suppress(FileNotFoundError):
            parts.append((directory / name).read_text(errors="replace"))
    return "\n".join(parts)


def _wait_listening(process: subprocess.Popen[bytes], directory: Path, port: int) -> None:
    deadline = _clock.now() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            pytest.fail(f"mosquitto exited with {process.returncode}:\n{_log(directory)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        if _clock.now() > deadline:
            pytest.fail(f"mosquitto did not listen within {START_TIMEOUT_S} s:\n{_log(directory)}")
        _clock.wait_until(_clock.now() + 0.01)


def client(creds: Credentials, identifier: str) -> aiomqtt.Client:
    """An MQTT 5 client logged in with `creds` (TLS with its CA when the broker uses it)."""
    address = creds.broker_address
    tls = None
    if address.tls:
        tls = ssl.create_default_context(cafile=str(creds.tls_ca))
    return aiomqtt.Client(
        address.host,
        address.port,
        identifier=identifier,
        username=creds.username,
        password=creds.password,
        protocol=aiomqtt.ProtocolVersion.V5,
        tls_context=tls,
    )
