"""`citypulse run --shards N`: real shard processes, real sockets, one frame grid."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from controller.bench.synthetic import write_city
from simulator.wire import sacn as wire_sacn

pytestmark = pytest.mark.network


def _listen() -> tuple[socket.socket, list[bytes], threading.Thread]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.5)
    got: list[bytes] = []

    def read() -> None:
        idle = 0
        while idle < 60:
            try:
                got.append(sock.recv(2048))
                idle = 0
            except TimeoutError:
                idle += 1
            except OSError:
                return

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return sock, got, thread


def test_two_shards_play_one_venue_in_step(tmp_path: Path) -> None:
    show = write_city(tmp_path, 12)
    sock, got, thread = _listen()
    port = sock.getsockname()[1]
    try:
        done = subprocess.run(
            [sys.executable, "-m", "controller", "run", str(show), "--output", "sacn",
             "--target", f"127.0.0.1:{port}", "--go", "--duration", "1.5", "--shards", "2",
             "--json"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    finally:
        sock.close()
        thread.join(5)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    shards = report["shards"]
    assert [s["universes"] for s in shards] == [[1, 6], [7, 12]]
    assert all(s["frames_sent"] > 10 for s in shards)
    # the same frame grid: every shard armed, went and stopped on the same tick
    assert len({json.dumps(s["ticks"], sort_keys=True) for s in shards}) == 1
    assert len({s["position_s"] for s in shards}) == 1
    packets = [wire_sacn.parse(raw) for raw in got]
    data = [p for p in packets if isinstance(p, wire_sacn.SacnDataFrame)]
    sources: dict[bytes, set[int]] = {}
    for p in data:
        sources.setdefault(p.cid, set()).add(p.universe)
    assert sorted(sorted(u) for u in sources.values()) == [list(range(1, 7)), list(range(7, 13))]
    syncs = {p.cid for p in packets if isinstance(p, wire_sacn.SacnSyncFrame)}
    assert syncs == set(sources)  # each shard is its own source, with its own sync


def test_shards_refuse_what_one_process_must_do(tmp_path: Path) -> None:
    show = write_city(tmp_path, 4)
    for extra, word in ((["--output", "sim"], "--output sim"), (["--shards", "0"], "1..64")):
        done = subprocess.run(
            [sys.executable, "-m", "controller", "run", str(show), "--go", "--shards", "2",
             *extra],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 2
        assert "error" in done.stderr
        assert word in done.stderr
        assert "Traceback" not in done.stderr


def test_the_loaded_show_is_frozen_out_of_garbage_collection(tmp_path: Path) -> None:
    import gc

    from controller.runtime.heap import freeze_heap
    from controller.runtime.job import load_venue

    job = load_venue(write_city(tmp_path, 8), None)
    try:
        freeze_heap()
        assert gc.get_freeze_count() > 1000  # the show's objects: never traversed again
        assert gc.is_tracked(job.loaded.show)
    finally:
        gc.unfreeze()
