"""Recorder: round trip of latched universes, atomic publish, truncated and bad files."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from controller.errors import ControllerError
from controller.protocols import artnet
from simulator.recorder import (
    MAGIC,
    RECORD,
    Record,
    Recorder,
    RecordingError,
    RecordingHeader,
    read_recording,
)
from tests.simulator.helpers import SOURCE, MakeCore, level


def _play(make_core: MakeCore, path: Path, frames: int) -> Recorder:
    core = make_core()
    recorder = Recorder.open(path, core=core, venue="mini", fps=40.0)
    core.on_latch = recorder.record
    sender = artnet.ArtNetSender(
        targets=dict.fromkeys((1, 2, 3), SOURCE), sync_address=SOURCE, mode="constant"
    )
    for k in range(frames):
        for d in sender.frame(k * 0.025, dict.fromkeys((1, 2, 3), level(k))):
            core.receive(k * 0.025, "artnet", d.data, SOURCE)
    return recorder


def test_recording_round_trips_every_latched_universe(make_core: MakeCore, tmp_path: Path) -> None:
    path = tmp_path / "show.cprec"
    recorder = _play(make_core, path, 5)
    assert not path.exists(), "nothing at the target path until close"
    recorder.close()
    header, records = read_recording(path)
    assert (header.venue, header.fps, header.universes) == ("mini", 40.0, (1, 2, 3))
    assert header.routes[0]["protocol"] == "artnet"
    assert header.routes[0]["wire"] == [1, 2, 3]
    got = list(records)
    assert got == [Record(k * 0.025, u, level(k)) for k in range(5) for u in (1, 2, 3)]
    assert recorder.records == 15


def test_file_layout_is_magic_length_json_then_fixed_records(
    make_core: MakeCore, tmp_path: Path
) -> None:
    path = tmp_path / "show.cprec"
    _play(make_core, path, 1).close()
    raw = path.read_bytes()
    assert raw[:8] == MAGIC == b"CPREC1\n\0"
    (length,) = struct.unpack_from("<I", raw, 8)
    header = raw[12 : 12 + length]
    assert header.endswith(b"\n")
    assert json.loads(header)["universes"] == [1, 2, 3]
    body = raw[12 + length :]
    assert len(body) == 3 * RECORD.size == 3 * 522
    assert struct.unpack_from("<dH", body, 0) == (0.0, 1)


def test_truncated_trailing_record_names_its_offset(make_core: MakeCore, tmp_path: Path) -> None:
    path = tmp_path / "show.cprec"
    _play(make_core, path, 2).close()
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[:-100])
    _, records = read_recording(path)
    good: list[Record] = []
    with pytest.raises(RecordingError) as info:
        good.extend(records)
    assert len(good) == 5
    assert info.value.offset == size - RECORD.size
    assert isinstance(info.value, ControllerError)
    assert f"at byte {size - RECORD.size}: truncated record: 422 of 522 bytes" in str(info.value)


@pytest.mark.parametrize(
    ("raw", "offset", "problem"),
    [
        pytest.param(b"CPREC0\n\0" + bytes(8), 0, "magic", id="wrong-magic"),
        pytest.param(MAGIC + b"\x05\x00", 8, "truncated header length", id="short-length"),
        pytest.param(
            MAGIC + struct.pack("<I", 50) + b"{}", 12, "truncated header", id="short-json"
        ),
        pytest.param(MAGIC + struct.pack("<I", 3) + b"{}\n", 12, "bad header", id="missing-keys"),
        pytest.param(MAGIC + struct.pack("<I", 2) + b"[\n", 12, "bad header", id="not-json"),
        pytest.param(MAGIC + struct.pack("<I", 2**31), 12, "header length", id="huge-length"),
    ],
)
def test_bad_recordings_raise_recording_error_with_offset(
    tmp_path: Path, raw: bytes, offset: int, problem: str
) -> None:
    path = tmp_path / "bad.cprec"
    path.write_bytes(raw)
    with pytest.raises(RecordingError, match=problem) as info:
        read_recording(path)
    assert info.value.offset == offset


def test_an_error_inside_the_with_block_keeps_whole_records(
    make_core: MakeCore, tmp_path: Path
) -> None:
    path = tmp_path / "show.cprec"
    core = make_core()
    recorder = Recorder.open(path, core=core, venue="mini", fps=40.0)

    def record_then_fail() -> None:
        with recorder:
            recorder.record(0.0, 1, level(1))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        record_then_fail()
    _, records = read_recording(path)
    assert list(records) == [Record(0.0, 1, level(1))]


def test_only_full_universes_are_recorded(make_core: MakeCore, tmp_path: Path) -> None:
    with (
        Recorder.open(tmp_path / "x.cprec", core=make_core(), venue="mini", fps=40.0) as recorder,
        pytest.raises(ValueError, match="511 bytes"),
    ):
        recorder.record(0.0, 1, bytes(511))


def test_record_before_start_is_a_programming_error(tmp_path: Path) -> None:
    header = RecordingHeader(venue="v", fps=1.0, universes=(1,), routes=())
    recorder = Recorder(tmp_path / "x.cprec", header=header)
    with pytest.raises(RuntimeError, match="not started"):
        recorder.record(0.0, 1, level(0))
    assert not (tmp_path / "x.cprec").exists()
