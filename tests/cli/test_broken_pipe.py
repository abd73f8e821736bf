"""Output piped into a reader that stops early (`citypulse ... | head -1`): no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_reader_that_stops_early_gets_no_traceback() -> None:
    # The reader has gone before the first write: every write fails with EPIPE, whatever
    # the output's size. (`| head -c 1` is a race: 11 KB of schema fit in a pipe's buffer,
    # and the writer may finish before head closes its end.)
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run([sys.executable, "-m", "controller", "schema", "show"], cwd=ROOT,
                              stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60,
                              check=False)  # fmt: skip
    finally:
        os.close(write_end)
    assert "Traceback" not in done.stderr, done.stderr
    assert "BrokenPipeError" not in done.stderr, done.stderr
    assert done.returncode == 141  # as a process killed by SIGPIPE, what shells expect
