"""`citypulse bench sync`'s table, from the JSON of a real run on the rehearsal VM
(`tests/data/bench/sync-result.json`: `bench sync --modes rt --seconds 30 --outage 0`,
per-CPU watchdog detail left out)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from controller.bench.sync_bench import sync_table

RESULT = Path(__file__).parent.parent / "data" / "bench" / "sync-result.json"


def _result() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(RESULT.read_text("utf-8"))
    return copy.deepcopy(result)


def test_the_table_shows_every_venue_the_skew_and_the_late_join() -> None:
    table = sync_table(_result())
    assert "SCHED_FIFO (--rt): every venue locked 9.4 s after start" in table
    for venue in ("beijing", "lhasa", "singapore"):
        assert f"\n  {venue} " in table
    assert "wire skew p50/p99/max ms: 0.222 / 0.805 / 1.908 over 2400 frames" in table
    assert "late join (singapore): first frame 1.559 s after the process started" in table
    assert "late joiner's own drops" not in table  # a run from before they were counted


def test_the_late_joiners_own_drops_after_its_restart_are_in_the_table() -> None:
    result = _result()
    result["runs"][0]["late_join"]["after_restart"] = {
        "frames_dropped": 3, "drops": [[900, 2, 30.1, 1.2, 1.0, 1, 2], [950, 1, 14.0, 1.0, 0.9, 0, 1]],
        "drops_during_host_stalls": 2, "drops_unexplained": 1, "host_stalls_ms": [12.5],
    }  # fmt: skip
    table = sync_table(result)
    assert "late joiner's own drops after its restart: 3 (2 during host stalls)" in table
