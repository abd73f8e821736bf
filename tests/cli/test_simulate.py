"""`citypulse simulate`: usage errors, JSON statistics, recording and a fed listener."""

from __future__ import annotations

import json
import logging
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from controller.cli import main
from controller.outputs.factory import build_outputs
from controller.outputs.routing import plan_routes
from controller.protocols import artnet
from controller.runtime.job import load_venue
from controller.show.rig import Protocol
from controller.testing import ManualClock
from simulator.recorder import read_recording
from tests.artnet_port import port_6454_can_be_shared

ROOT = Path(__file__).resolve().parents[2]
MINI = ROOT / "tests" / "data" / "venue" / "shows" / "mini.yaml"
EPHEMERAL = ("--artnet-port", "0", "--sacn-port", "0", "--osc-port", "0")
LISTEN = "artnet, sacn, osc, enttec, opendmx"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["simulate", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--listen", "bogus"], f"--listen: 'bogus' is not one of {LISTEN}"),
        (["--listen", ","], f"--listen: ',' is not one of {LISTEN}"),
        (["--artnet-port", "70000"], "--artnet-port: 70000 out of range 0..65535"),
        (["--osc-port", "-1"], "--osc-port: -1 out of range 0..65535"),
        (["--duration", "0"], "--duration: 0 s out of range (0, 86400]"),
        (["--venue", "nope"], "--venue: unknown venue 'nope' (venues: 'mini')"),
    ],
)
def test_a_bad_option_is_a_usage_error_a002(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, str(MINI), *argv)
    assert (code, out) == (2, "")
    assert err == f"citypulse simulate: error[A002]: {message}\n"


def test_a_malformed_argument_is_a_usage_error_a001(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, str(MINI), "--routes", "dmx")
    assert code == 2
    assert "citypulse simulate: error[A001]: argument --routes: invalid choice: 'dmx'" in err


@pytest.mark.network
def test_simulate_for_a_second_prints_json_statistics(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, str(MINI), "--duration", "1", *EPHEMERAL, "--json")
    assert code == 0, err
    stats: dict[str, Any] = json.loads(out)
    assert (stats["frames_latched"], stats["packets"], stats["malformed"]) == (0, 0, 0)
    assert stats["gaps_by_universe"] == {"1": 0, "2": 0, "3": 0}
    assert set(stats["packets_by_protocol"]) == {"artnet", "sacn", "osc", "enttec", "opendmx"}
    listening = re.search(
        r"simulating mini: listening on artnet 127\.0\.0\.1:(\d+), sacn 127\.0\.0\.1:(\d+), "
        r"osc 127\.0\.0\.1:(\d+)",
        err,
    )
    assert listening is not None, err
    assert all(int(port) > 0 for port in listening.groups())


@pytest.mark.network
def test_simulate_opens_an_enttec_pty_records_and_draws(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    record, preview = tmp_path / "sim.cprec", tmp_path / "sim.png"
    code, out, err = run(
        capsys, str(MINI), "--listen", "enttec,artnet", "--artnet-port", "0", "--duration",
        "1", "--record", str(record), "--preview", str(preview),
    )  # fmt: skip
    assert code == 0, err
    assert re.search(r"listening on artnet 127\.0\.0\.1:\d+, enttec /dev/\S+", err), err
    assert out.startswith("frames_latched=0, latches=0, torn_frames=0, packets=0")
    header, records = read_recording(record)
    assert (header.venue, header.universes, list(records)) == ("mini", (1, 2, 3), [])
    assert preview.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.network
def test_simulate_latches_what_a_controller_sends(tmp_path: Path) -> None:
    record = tmp_path / "fed.cprec"
    with subprocess.Popen(
        [sys.executable, "-m", "controller", "simulate", str(MINI), "--listen", "artnet",
         "--routes", "artnet", "--artnet-port", "0", "--duration", "1", "--json", "--record", str(record)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as proc:  # fmt: skip
        try:
            assert proc.stderr is not None
            line = proc.stderr.readline()  # printed once the sockets are bound
            found = re.search(r"artnet 127\.0\.0\.1:(\d+)", line)
            assert found is not None, line
            node = ("127.0.0.1", int(found[1]))
            sender = artnet.ArtNetSender(
                targets=dict.fromkeys((1, 2, 3), node), sync_address=node, mode="constant"
            )
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
                for k in range(3):
                    level = bytes([k + 1]) * 512
                    for d in sender.frame(k * 0.025, dict.fromkeys((1, 2, 3), level)):
                        tx.sendto(d.data, d.address)
            out, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
    assert proc.returncode == 0, err
    stats = json.loads(out)
    assert (stats["packets_by_protocol"]["artnet"], stats["malformed"]) == (12, 0)
    assert (stats["frames_latched"], stats["sequence_gaps"]) == (3, 0)
    _, records = read_recording(record)
    last = {r.universe: r.data for r in records}
    assert last == {u: bytes([3]) * 512 for u in (1, 2, 3)}


def _serial_into_simulator(protocol: str, tmp_path: Path) -> tuple[dict[str, Any], list[bytes]]:
    """A controller's serial output on the pty of `simulate --listen P --routes P`."""
    record = tmp_path / f"{protocol}.cprec"
    with subprocess.Popen(
        [sys.executable, "-m", "controller", "simulate", str(MINI), "--listen", protocol,
         "--routes", protocol, "--duration", "2", "--json", "--record", str(record)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as proc:  # fmt: skip
        try:
            assert proc.stderr is not None
            line = proc.stderr.readline()  # printed once the pty is open
            found = re.search(rf"{protocol} (/dev/\S+)", line)
            assert found is not None, line + proc.stderr.read()
            sent = _send_serial(Protocol(protocol), found[1])
            out, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
    assert proc.returncode == 0, err
    _, records = read_recording(record)
    latched = [r.data for r in records if r.universe == 1]
    assert latched, err
    stats: dict[str, Any] = json.loads(out)
    assert sent == latched[-len(sent) :]
    return stats, latched


def _send_serial(protocol: Protocol, device: str) -> list[bytes]:
    job = load_venue(MINI, "mini")
    routes = plan_routes(job.plan.twin, protocol=protocol, target=device)
    (output,) = build_outputs(
        routes, job.patch.universes, venue="mini", show_name="Mini", clock=ManualClock(autojump=True),
        fps=40, paced_serial=False,
    )  # fmt: skip
    sent = []
    output.open(0.0)
    try:
        for k in range(3):
            dmx = np.full((3, 512), k + 1, np.uint8)
            output.send_frame(k * 0.025, dmx)
            sent.append(dmx[0].tobytes())
    finally:
        output.close(0.1)
    assert output.stats().errors == 0, output.stats().last_error
    return sent


@pytest.mark.network
@pytest.mark.parametrize("protocol", ["enttec", "opendmx"])
def test_a_serial_run_output_latches_in_simulate_with_the_matching_routes(
    protocol: str, tmp_path: Path
) -> None:
    """Regression (issue #7 item 13): `--routes` offered rig, artnet, sacn and osc only."""
    stats, latched = _serial_into_simulator(protocol, tmp_path)
    assert latched == [bytes([k + 1]) * 512 for k in range(3)]
    assert (stats["unrouted"], stats["malformed"]) == (0, 0)
    assert stats["packets_by_protocol"][protocol] == 3


@pytest.mark.network
def test_simulate_on_6454_and_an_artnet_run_share_the_port(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Both bind UDP 6454 on one host: the run stays a node, the simulator gets the data."""
    if not port_6454_can_be_shared():
        pytest.skip("another program holds UDP 6454 without SO_REUSEADDR on this host")
    with subprocess.Popen(
        [sys.executable, "-m", "controller", "simulate", str(MINI), "--listen", "artnet",
         "--routes", "artnet", "--duration", "3", "--json"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as proc:  # fmt: skip
        try:
            assert proc.stderr is not None
            line = proc.stderr.readline()
            assert "artnet 127.0.0.1:6454" in line, line + proc.stderr.read()
            with caplog.at_level(logging.WARNING, logger="citypulse.outputs"):
                code = main(
                    ["run", str(MINI), "--output", "artnet", "--target", "127.0.0.1",
                     "--virtual", "--go", "--duration", "0.25"]
                )  # fmt: skip
            _, run_err = capsys.readouterr()
            out, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
    assert code == 0, run_err
    assert [r.getMessage() for r in caplog.records] == []  # no "held by another program"
    assert proc.returncode == 0, err
    stats = json.loads(out)
    assert stats["frames_latched"] >= 10
    assert (stats["unrouted"], stats["malformed"]) == (0, 0)
