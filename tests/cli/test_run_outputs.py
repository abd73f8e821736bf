"""Every venue of the sample show plays to every `run --output` override (issue #7 must show).

`controller.cli.main(["run", SHOW, "--venue", V, "--output", O, "--target", T, "--virtual",
"--go", "--duration", "1"])` exits 0 for each venue and output. Network outputs aim at a
loopback socket of the test, serial ones at a pty pair the test creates and reads.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.cli import main

pytestmark = pytest.mark.network

ROOT = Path(__file__).resolve().parents[2]
SHOW = ROOT / "shows" / "digital-night.yaml"
VENUES = ("beijing", "lhasa", "singapore")
OUTPUTS = ("rig", "sim", "artnet", "sacn", "enttec", "opendmx", "osc")


class Pty:
    """A pty pair whose master a thread drains, counting what the output wrote."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.received = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, name="pty-drain", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    self.received += len(os.read(self.master, 65536))
                except OSError:
                    return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)
        os.close(self.master)
        os.close(self.slave)


class Receiver:
    """A loopback UDP socket standing in for every network destination."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.target = f"127.0.0.1:{self.sock.getsockname()[1]}"

    def count(self) -> int:
        n = 0
        while True:
            try:
                self.sock.recv(65536)
            except BlockingIOError:
                return n
            n += 1

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def pty_pair() -> Iterator[Pty]:
    p = Pty()
    yield p
    p.close()


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("venue", VENUES)
def test_every_venue_plays_to_every_output_override(
    venue: str,
    output: str,
    receiver: Receiver,
    pty_pair: Pty,
    capsys: pytest.CaptureFixture[str],
) -> None:
    serial = output in ("enttec", "opendmx")
    target = pty_pair.path if serial else receiver.target
    argv = ["run", str(SHOW), "--venue", venue, "--output", output, "--target", target,
            "--virtual", "--go", "--duration", "1"]  # fmt: skip
    code = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert code == 0, err
    if serial:
        assert pty_pair.received > 0, err
    elif output != "sim":
        assert receiver.count() > 0, err
