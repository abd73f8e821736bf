"""Audit log: append-only JSON lines, whole after a kill, one line per event whatever the text."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from controller.runtime.audit import AuditError, AuditLog

ROOT = Path(__file__).resolve().parents[2]

# Writes lines forever; says on stdout when the first `n` are in the file.
WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from controller.runtime.audit import AuditLog

    path, node, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    log = AuditLog.open(path, node=node)
    i = 0
    while True:
        log.rejected(local_time=float(i), shared_time=None, issuer="x" * 150,
                     command_id=f"{node}-{i}", kind="go", reason="forged", detail="d" * 900)
        i += 1
        if i == n:
            print(n, flush=True)
    """
)


def lines(path: Path) -> list[dict[str, object]]:
    data = path.read_bytes()
    assert data.endswith(b"\n"), "the last line is cut"
    return [json.loads(line) for line in data.splitlines()]


def start_writer(path: Path, node: str, n: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), node, str(n)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def stop(child: subprocess.Popen[str]) -> None:
    child.send_signal(signal.SIGKILL)
    child.wait()
    if child.stdout is not None:
        child.stdout.close()


def test_record_writes_one_json_line_per_event(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog.open(path, node="lhasa") as log:
        log.received(
            local_time=5.0,
            shared_time=1767225601.5,
            issuer="operator",
            command_id="op-1",
            kind="go",
        )
        log.accepted(
            local_time=5.0,
            shared_time=1767225601.5,
            issuer="operator",
            command_id="op-1",
            kind="go",
            exec_at=1767225610.0,
        )
        log.executed(
            local_time=13.5,
            shared_time=1767225610.0,
            issuer="operator",
            command_id="op-1",
            kind="go",
            exec_at=1767225610.0,
        )
    assert path.read_text().splitlines()[0] == (
        '{"v":1,"event":"received","node":"lhasa","local_time":5.0,"shared_time":1767225601.5,'
        '"issuer":"operator","id":"op-1","kind":"go","reason":null,"detail":null,"exec_at":null}'
    )
    events = lines(path)
    assert [e["event"] for e in events] == ["received", "accepted", "executed"]
    assert (events[2]["local_time"], events[2]["shared_time"]) == (13.5, 1767225610.0)


def test_rejected_line_has_reason_and_stays_one_line(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog.open(path, node="conductor") as log:
        log.rejected(
            local_time=1.0,
            shared_time=None,
            issuer="op\nerator",
            command_id="x\r\n{}",
            kind="go\u2028",
            reason="forged",
            detail="signature does not verify\nwith the key",
        )
    (event,) = lines(path)
    assert event["reason"] == "forged"
    assert event["issuer"] == "op\nerator"
    assert event["detail"] == "signature does not verify\nwith the key"


def test_claimed_text_is_clipped_and_bad_times_are_null(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog.open(path, node="n") as log:
        log.record("received", local_time=float("nan"), issuer="i" * 5000, detail="d" * 5000)
    (event,) = lines(path)
    assert event["local_time"] is None
    assert event["issuer"] == "i" * 200
    assert event["detail"] == "d" * 1000


def test_opening_never_truncates(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_text('{"old":1}\n')
    with AuditLog.open(path, node="n") as log:
        log.record("received", local_time=0.0)
    assert path.read_text().startswith('{"old":1}\n{"v":1,"event":"received"')


def test_new_log_is_private(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    AuditLog.open(path, node="n").close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "audit.jsonl"
    with pytest.raises(AuditError) as info:
        AuditLog.open(missing, node="n")
    assert str(info.value) == f"{missing}: cannot open audit log: No such file or directory"
    log = AuditLog.open(tmp_path / "a.jsonl", node="n")
    log.close()
    log.close()  # twice is fine
    with pytest.raises(AuditError) as info:
        log.record("received", local_time=0.0)
    assert str(info.value) == f"{tmp_path / 'a.jsonl'}: audit log is closed"
    with (
        AuditLog.open(tmp_path / "b.jsonl", node="n") as other,
        pytest.raises(ValueError, match="event='done' is not one of"),
    ):
        other.record("done", local_time=0.0)  # type: ignore[arg-type]


def test_a_fifo_nobody_reads_is_refused_not_waited_for(tmp_path: Path) -> None:
    fifo = tmp_path / "audit.fifo"
    os.mkfifo(fifo)
    with pytest.raises(AuditError) as info:
        AuditLog.open(fifo, node="n")
    assert str(info.value) == f"{fifo}: cannot open audit log: No such device or address"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_is_an_audit_error() -> None:
    log = AuditLog.open(Path("/dev/full"), node="n")
    with pytest.raises(AuditError, match=r"^/dev/full: cannot write audit log: No space left"):
        log.record("received", local_time=0.0)
    log.close()


def test_lines_survive_a_killed_writer(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    child = start_writer(path, "a", 200)
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "200\n"
    finally:
        stop(child)
    events = lines(path)  # every line parses; the last one ends with its newline
    assert len(events) >= 200
    assert [e["id"] for e in events] == [f"a-{i}" for i in range(len(events))]


def test_two_killed_writers_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_text('{"old":1}\n')
    writers = [start_writer(path, node, 150) for node in ("a", "b")]
    try:
        for child in writers:
            assert child.stdout is not None
            assert child.stdout.readline() == "150\n"
    finally:
        for child in writers:
            stop(child)
    events = lines(path)
    assert events[0] == {"old": 1}
    for node in ("a", "b"):
        ids = [e["id"] for e in events[1:] if e["node"] == node]
        assert ids == [f"{node}-{i}" for i in range(len(ids))]
        assert len(ids) >= 150
