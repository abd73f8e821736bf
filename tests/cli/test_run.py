"""`citypulse run`: usage errors, virtual-time runs into the simulator, a real Art-Net run."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from controller.cli import main
from controller.runtime.job import VenueJob, load_venue
from simulator.recorder import read_recording
from simulator.wire import artnet as wire_artnet
from tests.runtime.helpers import light

ROOT = Path(__file__).resolve().parents[2]
MINI = ROOT / "tests" / "data" / "venue" / "shows" / "mini.yaml"


def mini_job() -> VenueJob:
    return load_venue(MINI, "mini")


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
            ["--master", "1.5"], "--master: 1.5 out of range 0..1", id="master-range"
        ),
        pytest.param(
            ["--output", "sacn", "--record", "x.cprec"], "--record: needs --output sim",
            id="record-without-sim",
        ),
        pytest.param(
            ["--preview", "x.png"], "--preview: needs --output sim", id="preview-without-sim"
        ),
        pytest.param(
            ["--output", "sim", "--preview", "x.jpg"], "--preview: x.jpg: use a .png file",
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
            ["--duration", "0"], "--duration: 0 s out of range (0, 86400]",
            id="duration",
        ),
        pytest.param(
            ["--hold-wait", "-1"], "--hold-wait: -1 s out of range 0..3600", id="hold-wait"
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
    assert (report["venue"], report["state"], report["position_s"]) == ("mini", "ended", 19.975)
    # frames 0..199 on ticks 0..199; the hold cue's frame 200 from tick 200 until the
    # auto-go (submitted after 0.5 s, on tick 220) executes on tick 221; frames 201..799 on
    # ticks 222..820; tick 821 is the first ended (dark) frame, then the stop frame
    assert report["frames_sent"] == 823
    assert [(c["command"], c["origin"], c["tick"]) for c in report["commands"]] == [
        ("ARM", "session", 0),
        ("GO", "session", 0),
        ("GO", "auto-go", 221),
    ]
    assert report["frames_dropped"] == 0
    assert report["grid"]["fps"] == 40
    assert report["grid"]["time"] == "local monotonic"
    assert report["lateness_ms"] == {"p50": 0.0, "p99": 0.0, "max": 0.0}
    assert report["simulator"]["frames_latched"] == report["frames_sent"]
    assert [o["name"] for o in report["outputs"]] == ["artnet[1]", "sacn[1]"]
    assert all(o["frames"] == report["frames_sent"] and o["up"] for o in report["outputs"])


def test_virtual_run_from_a_cue_for_a_duration(capsys: pytest.CaptureFixture[str]) -> None:
    report = virtual(capsys, "--go", "--from", "later-1", "--duration", "2", "--end", "hold")
    assert report["state"] == "running"  # stopped by --duration, not by the end
    # 'later' is at 10 s: from show frame 360, 2 s is ticks 0..80 (the 81st frame closes it)
    assert (report["position_s"], report["frames_sent"]) == (11.0, 81)


def _light_per_frame(path: Path) -> list[float]:
    """The brightest light the simulator latched, per frame, decoded through the patch."""
    job = mini_job()
    universes = list(job.patch.universes)
    dmx = job.patch.new_output()
    _, records = read_recording(path)
    out = []
    for i, r in enumerate(records, start=1):
        dmx[universes.index(r.universe)] = np.frombuffer(r.data, np.uint8)
        if i % len(universes) == 0:
            out.append(float(light(job, dmx).max()))
    return out


def test_virtual_run_with_master_reaches_the_simulator(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lit, dark = tmp_path / "full.cprec", tmp_path / "dark.cprec"
    common = ("--go", "--from", "go+1", "--duration", "0.5", "--end", "hold")
    full = virtual(capsys, *common, "--record", str(lit))
    dim = virtual(capsys, *common, "--master", "0", "--record", str(dark))
    assert full["frames_sent"] == dim["frames_sent"] == 21
    lit_light, dark_light = _light_per_frame(lit), _light_per_frame(dark)
    assert len(lit_light) == len(dark_light) == 21
    assert min(lit_light) > 0.9  # floods red at full: the lit look reached the wire
    assert dark_light == [0.0] * 21  # master 0: every frame dark on the wire


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


def _run_bounded(*argv: str, timeout_s: float = 30.0) -> subprocess.CompletedProcess[str] | None:
    """Run the CLI in a child process; None if it was still running after `timeout_s`."""
    try:
        return subprocess.run(
            [sys.executable, "-m", "controller", "run", *argv],
            cwd=ROOT, capture_output=True, text=True, timeout=timeout_s, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--auto-go"], "--virtual: needs --go (nobody can press GO in virtual time)"),
        (
            ["--go"],
            (
                "--virtual: the show holds at 'go' and nobody can press GO in virtual time: "
                "add --auto-go or --duration"
            ),
        ),
    ],
)
def test_a_virtual_run_that_could_never_end_is_refused_before_it_plays(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, str(MINI), "--output", "sim", "--virtual", *argv)
    assert (code, out) == (2, "")
    assert err == f"citypulse run: error[A002]: {message}\n"


def test_a_virtual_run_past_a_hold_ends_by_itself() -> None:
    done = _run_bounded(str(MINI), "--output", "sim", "--virtual", "--go", "--auto-go", "--json")
    assert done is not None, "still running after 30 s of wall time (virtual loop spinning)"
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["state"] == "ended"


def test_virtual_time_with_open_dmx_stays_on_one_thread(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 7, item 5: Open DMX's own pacing thread advanced the shared virtual clock. In
    virtual time the line is driven from the output thread; a second thread moving the
    `ManualClock` raises, so this run would fail."""
    master, slave = os.openpty()
    chunks: list[bytes] = []

    def drain() -> None:  # the line's far end reads as it comes, as a real interface does:
        with contextlib.suppress(OSError):  # a full pty buffer would fail a write
            while chunk := os.read(master, 1 << 16):
                chunks.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        code, out, err = run(
            capsys, str(MINI), "--output", "opendmx", "--target", os.ttyname(slave),
            "--virtual", "--go", "--from", "go+1", "--duration", "0.5", "--json",
        )  # fmt: skip
    finally:
        os.close(slave)  # the reader sees EOF (EIO) once the line is drained
        reader.join(5.0)
        os.close(master)
    received = b"".join(chunks)
    assert code == 0, err
    report = json.loads(out)
    (line,) = report["outputs"]
    assert (line["name"], line["frames"], line["errors"]) == ("opendmx[1]", 22, 0)  # + stop frame
    assert len(received) >= 513  # start code + 512 slots reached the line
