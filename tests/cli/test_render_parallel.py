"""`citypulse render` on every core: the same bytes as one process, memory flat with length."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from controller.bench.synthetic import write_city
from controller.cli import main

ROOT = Path(__file__).resolve().parents[2]
SHOW = ROOT / "shows" / "digital-night.yaml"


def _render(out: Path, *extra: str) -> bytes:
    code = main(["render", str(SHOW), "--venue", "lhasa", "-o", str(out), *extra])
    assert code == 0
    return out.read_bytes()


def test_parallel_render_writes_the_bytes_of_one_process(tmp_path: Path) -> None:
    section = ("--from", "40", "--duration", "12")
    one = _render(tmp_path / "one.fseq", *section, "--jobs", "1")
    assert _render(tmp_path / "two.fseq", *section, "--jobs", "2") == one
    assert _render(tmp_path / "three.fseq", *section, "--jobs", "3") == one  # uneven chunks


def test_parallel_render_refuses_a_bad_job_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", str(SHOW), "--venue", "lhasa", "-o", str(tmp_path / "x.fseq"),
                 "--jobs", "0"]) == 2  # fmt: skip
    assert "error[" in capsys.readouterr().err
    assert not (tmp_path / "x.fseq").exists()


def _peak_mib(show: Path, out: Path, seconds: int) -> float:
    done = subprocess.run(
        [sys.executable, "-m", "controller", "render", str(show), "-o", str(out),
         "--duration", str(seconds), "--jobs", "2"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    found = re.search(r"peak memory (\d+) MiB", done.stderr)
    assert found, done.stderr
    return float(found.group(1))


def test_a_show_ten_times_longer_renders_in_the_same_memory(tmp_path: Path) -> None:
    # BENCHMARKS.md has 3 against 30 minutes of the Beijing rig; here 1 against 10 of a
    # small city, to stay quick
    show = write_city(tmp_path / "city", 2, light=True)  # an hour long
    short = _peak_mib(show, tmp_path / "short.fseq", 60)
    long = _peak_mib(show, tmp_path / "long.fseq", 600)
    assert (tmp_path / "long.fseq").stat().st_size > (tmp_path / "short.fseq").stat().st_size
    assert long <= short + 8, (short, long)  # MiB: the frames never pile up anywhere
