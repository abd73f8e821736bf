"""`citypulse run`: usage errors, virtual-time runs into the simulator, a real Art-Net run."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from controller.cli import main
from simulator.wire import artnet as wire_artnet

ROOT = Path(__file__).resolve().parents[2]
MINI = ROOT / "tests" / "data" / "venue" / "shows" / "mini.yaml"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["run", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def virtual(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    code, out, err = run(capsys, str(MINI), "--output", "sim", "--virtual", "--json", *argv)
    assert code == 0, err
    report: dict[str, Any] = json.loads(out)
    return report


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(
            ["--master", "1.5"], "--master: master=1.5 out of range 0..1", id="master-range"
        ),
        pytest.param(
            ["--output", "sacn", "--record", "x.cprec"], "--record: needs --output sim",
            id="record-without-sim",
        ),
        pytest.param(
            ["--preview", "x.png"], "--preview: needs --output sim", id="preview-without-sim"
        ),
        pytest.param(
            ["--output", "sim", "--preview", "x.jpg"], "--preview: 'x.jpg': use a .png file",
            id="preview-not-png",
        ),
        pytest.param(
            ["--virtual"], "--virtual: needs --go (nobody can press GO in virtual time)",
            id="virtual-without-go",
        ),
        pytest.param(
            ["--target", "host:99999"], "--target: target 'host:99999': port must be 1..65535",
            id="target-port",
        ),
        pytest.param(
            ["--target", "[::1"], "--target: target '[::1': unclosed '[' (use [v6-address]:port)",
            id="target-bracket",
        ),
        pytest.param(
            ["--venue", "nope"], "--venue: unknown venue 'nope' (venues: 'mini')",
            id="unknown-venue",
        ),
        pytest.param(
            ["--from", "nope"], "--from: unknown cue 'nope' (cues: 'go', 'later', 'start')",
            id="unknown-cue",
        ),
        pytest.param(
            ["--from", "99"], "--from: time 99 s is outside the show (0..20 s)", id="from-late"
        ),
        pytest.param(
            ["--duration", "0"], "--duration: duration=0.0 out of range (0, 86400]",
            id="duration",
        ),
        pytest.param(
            ["--hold-wait", "-1"], "--hold-wait: -1.0 out of range 0..3600", id="hold-wait"
        ),
        pytest.param(
            ["--output", "enttec"], "--target: enttec needs a serial device (--target /dev/ttyUSB0)",
            id="enttec-without-device",
        ),
    ],
)  # fmt: skip
def test_a_bad_option_is_a_usage_error_a002(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, str(MINI), *argv)
    assert code == 2
    assert out == ""
    assert err == f"citypulse run: error[A002]: {message}\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--master", "abc"], "argument --master: invalid float value: 'abc'"),
        (["--output", "dmx"], "argument --output: invalid choice: 'dmx'"),
        (["--end", "fade"], "argument --end: invalid choice: 'fade'"),
    ],
)
def test_a_malformed_argument_is_a_usage_error_a001(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run(capsys, str(MINI), *argv)
    assert code == 2
    assert f"citypulse run: error[A001]: {message}" in err
    assert err.startswith("usage: citypulse run")


def test_a_missing_show_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, str(tmp_path / "nope.yaml"), "--venue", "mini")
    assert code == 2
    assert "nope.yaml" in err


def test_virtual_run_to_the_end_of_the_show(capsys: pytest.CaptureFixture[str]) -> None:
    report = virtual(capsys, "--go", "--auto-go", "--hold-wait", "0.5")
    assert (report["venue"], report["state"], report["position_s"]) == ("mini", "ended", 20.0)
    # 20 s of show + 0.5 s at the hold at 40 fps, the frame at the end (+ the closing frame)
    assert 20 * 40 + 20 + 1 <= report["frames_sent"] <= 20 * 40 + 20 + 2
    assert report["frames_dropped"] == 0
    assert report["lateness_ms"] == {"p50": 0.0, "p99": 0.0, "max": 0.0}
    assert report["simulator"]["frames_latched"] == report["frames_sent"]
    assert [o["name"] for o in report["outputs"]] == ["artnet[1]", "sacn[1]"]
    assert all(o["frames"] == report["frames_sent"] and o["up"] for o in report["outputs"])


def test_virtual_run_from_a_cue_for_a_duration(capsys: pytest.CaptureFixture[str]) -> None:
    report = virtual(capsys, "--go", "--from", "later-1", "--duration", "2", "--end", "hold")
    assert report["state"] == "running"  # stopped by --duration, not by the end
    assert report["position_s"] == pytest.approx(11.0, abs=0.03)  # 'later' is at 10 s


def test_virtual_run_with_master_reaches_the_simulator(capsys: pytest.CaptureFixture[str]) -> None:
    full = virtual(capsys, "--go", "--from", "go+1", "--duration", "0.5", "--end", "hold")
    dim = virtual(
        capsys, "--go", "--from", "go+1", "--duration", "0.5", "--end", "hold", "--master", "0"
    )
    assert full["frames_sent"] == dim["frames_sent"] == 21
    assert full["simulator"]["frames_latched"] == dim["simulator"]["frames_latched"]


def test_summary_text_without_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, str(MINI), "--output", "sim", "--virtual", "--go", "--duration", "0.25"
    )
    assert code == 0
    assert out == ""
    first, *rest = err.splitlines()
    assert re.match(r"mini: running at 0\.\d\d s; 1[123] frames sent, 0 dropped, lateness", first)
    assert any(line.startswith("  simulator: frames_latched=") for line in rest)


@pytest.mark.network
def test_artnet_run_reaches_a_real_loopback_node(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as node:
        node.bind(("127.0.0.1", 0))
        node.settimeout(5.0)
        port = node.getsockname()[1]
        code, out, err = run(
            capsys, str(MINI), "--output", "artnet", "--target", f"127.0.0.1:{port}",
            "--virtual", "--go", "--from", "go+1", "--duration", "0.1", "--json",
        )  # fmt: skip
        assert code == 0, err
        report = json.loads(out)
        frames = report["frames_sent"]
        packets = [wire_artnet.parse(node.recvfrom(1024)[0]) for _ in range(frames * 4)]
    assert report["outputs"][0]["name"] == "artnet[1]"
    kinds = [type(p).__name__ for p in packets]
    # universes 1, 2 (the rig's Art-Net) and 3 (its own number) then one ArtSync per frame
    assert kinds == ["ArtDmxFrame", "ArtDmxFrame", "ArtDmxFrame", "ArtSyncFrame"] * frames
    ports = {p.port_address for p in packets if isinstance(p, wire_artnet.ArtDmxFrame)}
    assert len(ports) == 3


def _run_bounded(*argv: str, timeout_s: float = 10.0) -> int | None:
    """Run the CLI in a child process; None if it was still running after `timeout_s`."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "controller", "run", *argv],
            cwd=ROOT, capture_output=True, timeout=timeout_s, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return None
    return done.returncode


def test_virtual_with_auto_go_but_no_go_does_not_run_forever() -> None:
    code = _run_bounded(str(MINI), "--output", "sim", "--virtual", "--auto-go")
    assert code is not None, "still running after 10 s of wall time (virtual loop spinning)"
    assert code in (0, 2)


def test_virtual_go_on_a_show_with_a_hold_does_not_run_forever() -> None:
    code = _run_bounded(str(MINI), "--output", "sim", "--virtual", "--go")
    assert code is not None, "still running after 10 s of wall time (held at the 'go' cue)"
    assert code in (0, 2)
