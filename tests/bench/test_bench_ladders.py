"""`bench scale` and `bench compare`: their arguments and how compare states its ratios.

The figures themselves are measured by running the commands (BENCHMARKS.md), never
asserted on here.
"""

from __future__ import annotations

from typing import Any

import pytest

from controller.bench.compare_bench import ratios
from controller.cli.app import main


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["bench", "scale", "--universes", "0"], "--universes"),
        (["bench", "scale", "--universes", "12,x"], "--universes"),
        (["bench", "scale", "--seconds", "0.5"], "--seconds"),
        (["bench", "scale", "--shards", "many"], "--shards"),
        (["bench", "compare", "--universes", "70000"], "--universes"),
        (["bench", "compare", "--seconds", "nan"], "--seconds"),
    ],
)
def test_bad_arguments_are_refused_before_any_work(
    argv: list[str], option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "error[A" in err, err
    assert option in err, err
    assert "Traceback" not in err


def _row(system: str, n: int, held: int, pps: int, ms: float, p99: float, mib: float) -> Any:
    return {
        "system": system, "universes": n, "universes_at_44fps": held, "packets_per_s": pps,
        "cpu_ms_per_frame": ms, "interval_dev_ms": {"p50": 0.1, "p99": p99, "max": p99},
        "peak_rss_mib": mib,
    }  # fmt: skip


def test_ratios_favour_citypulse_above_one() -> None:
    rows = [
        _row("citypulse", 128, 128, 5632, 2.0, 1.0, 200.0),
        _row("sacn", 128, 0, 5000, 8.0, 20.0, 100.0),
        _row("citypulse", 512, 512, 22528, 5.0, 1.0, 220.0),
        _row("sacn", 512, 0, 9000, 20.0, 40.0, 110.0),
    ]
    r = ratios(rows)
    assert r["held"] == {"citypulse": 512, "sacn": 0}
    assert r["universes_held"] == {"sacn": None}  # the peer held none: no finite ratio
    first = r["rungs"][0]
    assert first == {"universes": 128, "peer": "sacn", "packets_per_s": 1.13,
                     "cpu_per_frame": 4.0, "jitter_p99": 20.0, "memory": 0.5}  # fmt: skip
