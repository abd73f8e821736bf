"""`citypulse discover`: finds Art-Net nodes, a playing `citypulse run --output artnet` among them.

Real processes and real sockets on 127.0.0.1 (marker `network`).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.cli import main
from simulator.wire import artnet as wire_artnet
from tests.artnet_port import port_6454_can_be_shared

pytestmark = pytest.mark.network

ROOT = Path(__file__).resolve().parents[2]
MINI = ROOT / "tests" / "data" / "venue" / "shows" / "mini.yaml"
LOOPBACK = "127.0.0.1"


def _discover(*argv: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "controller", "discover", *argv, "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def _loopback_6454_is_bound() -> bool:
    """Whether a socket holds 127.0.0.1:6454 (Linux /proc/net/udp: 0100007F:1936)."""
    table = Path("/proc/net/udp")
    return table.exists() and " 0100007F:1936 " in table.read_text()


def test_discover_finds_a_playing_artnet_run_as_a_controller_node() -> None:
    """Issue #7 item 7, must show: `discover` beside a playing `run`, both on UDP 6454."""
    if not port_6454_can_be_shared():
        pytest.skip("another program holds UDP 6454 without SO_REUSEADDR on this host")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as node:  # where the ArtDmx goes
        node.bind((LOOPBACK, 0))
        node.settimeout(20.0)
        target = f"{LOOPBACK}:{node.getsockname()[1]}"
        with subprocess.Popen(
            [sys.executable, "-m", "controller", "run", str(MINI), "--output", "artnet",
             "--target", target, "--go", "--duration", "5", "--json"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ) as run:  # fmt: skip
            try:
                packet, source = node.recvfrom(2048)  # it is playing
                # From an ephemeral port: the replies come to it whatever else is on 6454
                reports = [
                    _discover("--to", "127.255.255.255", "--listen-port", "0", "--wait", "1")
                ]
                if not _loopback_6454_is_bound():  # else that socket takes replies sent to 6454
                    reports.append(_discover("--to", "127.255.255.255", "--wait", "1"))
                out, err = run.communicate(timeout=30)
            finally:
                run.kill()
    assert isinstance(wire_artnet.parse(packet), wire_artnet.ArtDmxFrame)
    assert source == (LOOPBACK, 6454)  # Art-Net 4: 6454 at both ends
    assert run.returncode == 0, err
    for report in reports:
        # Other runs on this host (tests in parallel workers) answer too, as they should:
        # ours is the one named after its show and venue.
        (row,) = [
            n for n in report["nodes"]
            if n["ip"] == LOOPBACK and n["style"] == "controller"
            and n["long_name"] == "citypulse Mini mini"
        ]  # fmt: skip
        assert row["short_name"] == "citypulse"
        # mini on Art-Net: universes 1-2 keep the rig's Port-Addresses, 3 its sACN number
        assert set(row["inputs"]) >= {1, 2, 3}
        assert row["outputs"] == []
    played = json.loads(out)
    (artnet_output,) = played["outputs"]
    assert artnet_output["errors"] == 0


@pytest.fixture
def fake_node() -> Iterator[int]:
    """A node on an ephemeral port that answers every ArtPoll (to its source port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((LOOPBACK, 0))
    sock.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, source = sock.recvfrom(2048)
            except TimeoutError:
                continue
            if isinstance(wire_artnet.parse(data), wire_artnet.ArtPollFrame):
                reply = wire_artnet.build_poll_reply(
                    ip=LOOPBACK, short_name="pixel-node", long_name="Pixel node 1",
                    sub_switch=1, sw_out=[0, 1],
                )  # fmt: skip
                sock.sendto(reply, source)

    thread = threading.Thread(target=serve, name="fake-node", daemon=True)
    thread.start()
    try:
        yield int(sock.getsockname()[1])
    finally:
        stop.set()
        thread.join(2.0)
        sock.close()


def test_discover_lists_a_node_and_what_it_outputs(
    fake_node: int, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["discover", "--to", LOOPBACK, "--port", str(fake_node), "--listen-port", "0", "--wait",
         "0.5"]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "1 node(s) answered"
    assert lines[1].split() == [LOOPBACK, "pixel-node", "node", "outputs", "[16,", "17]",
                                "Pixel", "node", "1"]  # fmt: skip
