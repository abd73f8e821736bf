"""Output piped into a reader that stops early (`citypulse ... | head -1`): no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_reader_that_stops_early_gets_no_traceback() -> None:
    command = f"'{sys.executable}' -m controller schema show | head -c 1"
    done = subprocess.run(["bash", "-c", f"set -o pipefail; {command}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.stdout == "{"
    assert "Traceback" not in done.stderr, done.stderr
    assert "BrokenPipeError" not in done.stderr, done.stderr
    assert done.returncode == 141  # as a process killed by SIGPIPE, what shells expect
