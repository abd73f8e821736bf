"""`citypulse demo`'s closing report and exit code: drops in host stalls shown, never hidden."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from controller.cli.demo_cmd import _summary, exit_code


def venue(dropped: int | None, during: int | None, stalls_ms: list[float]) -> dict[str, Any]:
    return {
        "setup": {"link": "rtt=60ms", "clock_offset_ms": -410.0, "clock_drift_ppm": -32.0},
        "report": {} if dropped is None else {"frames_sent": 1800, "frames_dropped": dropped},
        "drops_during_host_stalls": during,
        "drops_unexplained": None if dropped is None or during is None else dropped - during,
        "host_stalls_ms": stalls_ms,
    }


def result(*venues: dict[str, Any], realtime: bool = True) -> dict[str, Any]:
    return {
        "venues": dict(zip(("beijing", "lhasa", "singapore"), venues, strict=False)),
        "wire": {"overall": {"frames": 1800, "skew_ms": {"p50": 0.4, "p99": 1.2, "max": 3.0}}},
        "host": {
            "count": 2, "total_ms": 31.0, "max_ms": 27.0, "long": [[1.7e9, 27.0]],
            "watchdog": {"priority": "SCHED_FIFO 99" if realtime else "normal",
                         "refused": None if realtime else "SCHED_FIFO 99 refused: EPERM",
                         "cpu_s_per_min": 0.9},
        },
    }  # fmt: skip


def test_drops_in_a_host_stall_are_printed_on_the_venue_line_and_exit_zero() -> None:
    res = result(venue(2, 2, [27.0]), venue(2, 2, [27.0]), venue(0, 0, []))
    text = _summary(res, Path("out/demo-report.json"))
    assert "1800 / 2 (2 during a host stall of 27 ms)" in text
    assert "host stalls (every CPU stopped at once, FIFO 99 watchdog): 2, max 27 ms" in text
    assert "4 frames dropped, all during host stalls" in text
    assert exit_code(res) == 0


def test_unexplained_drops_fail_the_demo() -> None:
    res = result(venue(3, 1, [27.0]), venue(0, 0, []), venue(0, 0, []))
    assert "1800 / 3 (1 during a host stall of 27 ms, 2 not)" in _summary(res, Path("r.json"))
    assert "2 of them NOT during a host stall" in _summary(res, Path("r.json"))
    assert exit_code(res) == 1


def test_a_missing_venue_report_fails_the_demo() -> None:
    res = result(venue(None, None, []), venue(0, 0, []), venue(0, 0, []))
    assert exit_code(res) == 1


def test_clean_runs_pass_and_say_the_watchdog_priority_when_refused() -> None:
    res = result(venue(0, 0, []), venue(0, 0, []), venue(0, 0, []), realtime=False)
    text = _summary(res, Path("r.json"))
    assert exit_code(res) == 0
    assert "watchdog at normal priority (SCHED_FIFO 99 refused: EPERM)" in text
    assert "dropped" not in text.split("host stalls")[-1]
