"""`citypulse venue` start-up: a late join counts from the process start, so the venue loads
its show while it connects, and what goes wrong meanwhile still ends cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from controller.clock import MonotonicClock
from tests.lockstep.helpers import TRIO, copy_trio
from tests.security.deployments import free_port

ROOT = Path(__file__).resolve().parents[2]
_clock = MonotonicClock()


def _venue(show: Path, deployment: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "controller", "venue", str(show), "--venue", "beta",
        "--credentials", str(deployment / "credentials" / "venue-beta.toml"),
        "--broker", f"mqtt://127.0.0.1:{free_port()}",  # nobody listens: it keeps retrying
        "--output", "artnet", "--target", "127.0.0.1:9", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("bus") / "deployment"
    subprocess.run(
        [sys.executable, "-m", "controller", "bus", "init", str(TRIO), str(directory)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return directory


def test_the_venue_command_leaves_the_render_stack_to_its_loading_thread() -> None:
    """Parsing `venue` imports the bus side only (the render stack and numba take most of a
    second; the venue imports them while it connects)."""
    probe = (
        "import sys\n"
        "from controller.cli.app import main\n"
        "assert main(['venue', '--help']) == 0\n"
        "heavy = [m for m in ('numba', 'controller.render', 'controller.runtime.session',"
        " 'controller.runtime.job', 'controller.show.load') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60, check=True, cwd=ROOT)  # fmt: skip
    assert "HEAVY []" in done.stdout, done.stdout[-400:]


def test_a_show_that_does_not_load_says_where_while_the_bus_retries(
    deployment: Path, tmp_path: Path
) -> None:
    show = copy_trio(tmp_path)
    show.write_text(show.read_text().replace("fps: 40", "fps: fast"))
    done = subprocess.run(_venue(show, deployment), capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "trio.yaml:4:6: error[" in done.stderr, done.stderr


def test_a_venue_waiting_for_its_conductor_stops_at_once_on_sigint(deployment: Path) -> None:
    process = subprocess.Popen(
        _venue(TRIO, deployment, "--ready-timeout", "60", "--json"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _clock.wait_until(_clock.now() + 3.0)  # loaded, still looking for the broker
        assert process.poll() is None, process.communicate()[1]
        asked = _clock.now()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
        took = _clock.now() - asked
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert took < 5.0, f"took {took:.1f} s to stop (it waited for the ready timeout)"
    assert '"load_s"' in out  # the report still comes, with how the start went
