"""`citypulse bench host`: the host-stall watchdog on its own, JSON and table."""

from __future__ import annotations

import json
import os

import pytest

from controller.cli import main


def test_bench_host_watches_every_cpu_and_gives_each_stall_its_phase(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["bench", "host", "--seconds", "1.5", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["watchdog"]["cpus"] == sorted(os.sched_getaffinity(0))
    assert result["count"] == len(result["host_stalls"]) == len(result["phases_ms"])
    assert all(0.0 <= phase < 100.0 for phase in result["phases_ms"])
    for cpu in result["per_cpu"]:  # it woke every 2 ms, less what stalls swallowed
        assert cpu["wakes"] + cpu["missed_deadlines"] >= 0.9 * 1.5 / 0.002


def test_bench_host_prints_a_table_before_its_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "host", "--seconds", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("host stalls in 1 s (every CPU stopped at once")
    result = json.loads(out[-1])
    assert result["seconds"] == 1.0
    assert f"CPU time the hypervisor took (steal, all CPUs): {result['steal_s']:g} s" in out[2]
