"""Wire capture over real loopback sockets: kernel timestamps, the child process, the CLI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from controller.clock import MonotonicClock
from controller.protocols import artnet
from simulator.capture import CaptureError, CaptureProcess, WireCapture, run_capture
from simulator.capture_cli import main, table

pytestmark = pytest.mark.network

P = 0.025  # 40 Hz
SYNC = artnet.encode(artnet.ArtSync())
OFFSETS = (0.0, 0.001, -0.002)  # the venues' emission offsets from the first one
ROOT = Path(__file__).resolve().parents[2]


def send_syncs(ports: Sequence[int], offsets: Sequence[float], frames: int) -> None:
    """ArtSync to each port at 40 Hz, port i shifted by offsets[i] (absolute deadlines)."""
    clock = MonotonicClock()
    start = clock.now() + 0.05
    events = sorted(
        (start + k * P + off, port)
        for k in range(frames)
        for port, off in zip(ports, offsets, strict=True)
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        for due, port in events:
            clock.wait_until(due)
            tx.sendto(SYNC, ("127.0.0.1", port))


def check_offsets(result: dict[str, object], frames: int) -> None:
    skew = result["skew"]
    assert isinstance(skew, dict)
    assert skew["reference"] == "a"
    by_venue = {pair["venue"]: pair for pair in skew["pairs"]}
    for name, offset in (("b", OFFSETS[1]), ("c", OFFSETS[2])):
        pair = by_venue[name]
        assert pair["frames"] >= frames - 2
        # medians: a wake-up on a busy machine may move a frame or two, never the middle
        assert pair["mean_signed_ms"] == pytest.approx(offset * 1e3, abs=0.5)
        assert pair["skew_ms"]["p50"] == pytest.approx(abs(offset) * 1e3, abs=0.5)
    assert skew["overall"]["spread_ms"]["p50"] == pytest.approx(3.0, abs=0.5)


def test_kernel_timestamps_time_datagrams_that_are_read_late() -> None:
    frames = 20
    with WireCapture((0, 0, 0), names=("a", "b", "c"), period_s=P) as wire:
        send_syncs(wire.ports, OFFSETS, frames)  # nothing reads while they arrive
        clock = MonotonicClock()
        clock.wait_until(clock.now() + 0.2)
        assert wire.poll(1.0) == 3 * frames
        result = wire.result()
    for name in "abc":
        assert result["venues"][name]["frames"] == frames
        assert result["venues"][name]["source"] == "artsync"
    # read-time stamps would put each poll's datagrams microseconds apart and the
    # skews near zero; the kernel's stamps keep the send offsets
    check_offsets(result, frames)
    assert result["skew"]["venues"]["a"]["interval_ms"]["p50"] == pytest.approx(25.0, abs=0.5)
    rows = table({**result, "seconds": 0.7}).splitlines()
    assert rows[0] == "period 25.000 ms, captured 0.7 s"
    assert rows[2].split() == ["a", str(wire.ports[0]), "artsync", str(frames), "0", "0"]
    assert rows[6].split()[0] == "b"
    assert float(rows[6].split()[1]) == pytest.approx(1.0, abs=0.5)


def test_cli_with_nothing_sent_prints_a_table_without_skew(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--ports", "0", "--seconds", "0.3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("period - ms, captured 0.")
    assert out[-1] == "no frame skew: no frames, or the period is unknown"


def test_capture_process_reports_over_a_pipe() -> None:
    frames = 40
    with CaptureProcess((0, 0, 0), 30.0, names=("a", "b", "c"), keep_series=True) as cap:
        assert all(cap.ports)
        send_syncs(cap.ports, OFFSETS, frames)
        cap.stop()
        result = cap.result(10.0)
    assert result["period_estimated"] is True
    assert result["period_ms"] == pytest.approx(25.0, abs=0.5)
    assert result["seconds"] < 10.0  # stopped, not run to 30 s
    assert [len(result["series"][n]) for n in "abc"] == [frames] * 3
    check_offsets(result, frames)


def test_run_capture_refuses_a_busy_port() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        with pytest.raises(CaptureError, match=f"port {port}: Address already in use"):
            run_capture([port], 1.0)


def free_ports(n: int) -> list[int]:
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def test_cli_prints_the_report_as_json() -> None:
    ports = free_ports(3)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    options = f"--ports {','.join(map(str, ports))} --names a,b,c --seconds 2.5 --fps 40 --json"
    cmd = [sys.executable, "-m", "simulator.capture", *options.split()]
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT
    ) as proc:
        assert proc.stderr is not None
        assert proc.stderr.readline().startswith("capture: listening on a=127.0.0.1:")
        sender = threading.Thread(target=send_syncs, args=(ports, OFFSETS, 40))
        sender.start()
        out, err = proc.communicate(timeout=30)
        sender.join()
    assert proc.returncode == 0, err
    result = json.loads(out)
    assert result["period_estimated"] is False
    check_offsets(result, 40)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--ports", "5001,x", "--seconds", "1"],
            "error[A002]: --ports: 'x' is not a port number 0..65535",
        ),
        (
            ["--ports", "5001,5001", "--seconds", "1"],
            "error[A002]: --ports: '5001,5001' names a port twice",
        ),
        (
            ["--ports", "5001", "--seconds", "0"],
            "error[A002]: --seconds: 0.0 out of range (0, 86400]",
        ),
        (
            ["--ports", "5001,5002", "--seconds", "1", "--names", "a"],
            "error[A002]: --names: 'a': give 2 distinct names, one per port",
        ),
        (
            ["--ports", "5001", "--seconds", "1", "--reference", "z"],
            "error[A002]: --reference: 'z' is not one of 5001",
        ),
        (
            ["--ports", "5001", "--seconds", "1", "--fps", "0"],
            "error[A002]: --fps: 0.0 out of range 1..1000",
        ),
        (
            ["--ports", "5001", "--seconds", "1", "--host", "localhost"],
            "error[A002]: --host: 'localhost' is not an IPv4 address",
        ),
        (["--seconds", "1"], "error[A001]: the following arguments are required: --ports"),
        (
            ["--ports", "5001", "--seconds", "soon"],
            "error[A001]: argument --seconds: invalid float value: 'soon'",
        ),
    ],
)
def test_cli_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == f"capture: {message}"
    assert "Traceback" not in err


def test_cli_reports_a_busy_port(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        assert main(["--ports", str(port), "--seconds", "1"]) == 2
    err = capsys.readouterr().err
    assert err == f"capture: error[A002]: --ports: port {port}: Address already in use\n"
