"""Writer behaviour: block planning, atomic publish, validation and bounded memory."""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from controller.fseq import FseqReader, FseqWriteError, FseqWriter, plan_blocks

SETTINGS = settings(max_examples=100, deadline=None, database=None)


@pytest.mark.parametrize(
    ("channels", "frames", "per_block", "slots"),
    [
        (512, 100, 100, 4),  # < 64 KiB: one block of all frames, + 2 spare slots
        (512, 400, 133, 6),  # 3 x 64 KiB -> 400 // 3 frames per block
        (20_000, 5000, 20, 253),  # 255 blocks -> 19 frames; grown to 20 so 5000 // 20 + 1 <= 255
        (4, 3, 10, 3),  # frames per block never below 10
        (510, 1_000_000, 3922, 255),  # 255 blocks, no room left for spares
    ],
)
def test_plan_matches_fpp_compute_max_blocks(
    channels: int, frames: int, per_block: int, slots: int
) -> None:
    plan = plan_blocks(channel_count=channels, frame_count=frames)
    assert (plan.frames_per_block, plan.slots) == (per_block, slots)


@SETTINGS
@given(
    channels=st.integers(1, 100_000),
    frames=st.integers(0, 2_000_000),
    per_block=st.none() | st.integers(1, 1_000_000),
)
def test_plan_covers_every_frame_in_at_most_255_slots(
    channels: int, frames: int, per_block: int | None
) -> None:
    try:
        plan = plan_blocks(channel_count=channels, frame_count=frames, frames_per_block=per_block)
    except ValueError as exc:
        error = str(exc)
    else:
        error = ""
    if error:  # only a fixed block size can need too many blocks
        assert per_block is not None
        assert "FSEQ 2.0 allows at most 255" in error
        return
    assert 1 <= len(plan.spans) <= plan.slots <= 255 or frames == 0
    if per_block is not None:
        assert len(plan.spans) == plan.slots or frames == 0  # exact, no spare slots
    starts = [first for first, _ in plan.spans]
    assert starts == sorted(starts)
    assert sum(size for _, size in plan.spans) == frames
    assert all(
        first == sum(s for _, s in plan.spans[:k]) for k, (first, _) in enumerate(plan.spans)
    )
    if frames:
        assert plan.spans[0][1] == min(10, frames, plan.frames_per_block)


def frames_of(count: int, channels: int) -> Iterator[NDArray[np.uint8]]:
    base = np.arange(channels, dtype=np.uint8)
    for i in range(count):
        yield base + np.uint8(i % 251)


def write_frames(target: Path, frames: int, *, declared: int, fail_at: int = -1) -> None:
    with FseqWriter.open(target, channel_count=32, frame_count=declared, step_ms=25) as writer:
        for i, frame in enumerate(frames_of(frames, 32)):
            if i == fail_at:
                msg = "render failed"
                raise RuntimeError(msg)
            writer.write_frame(frame)


def test_exception_mid_write_leaves_nothing_behind(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="render failed"):
        write_frames(tmp_path / "show.fseq", 50, declared=50, fail_at=20)
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "show.fseq"
    target.write_bytes(b"previous render")
    with pytest.raises(FseqWriteError, match="wrote 3 frames but frame_count=5"):
        write_frames(target, 3, declared=5)
    assert target.read_bytes() == b"previous render"
    assert [p.name for p in tmp_path.iterdir()] == ["show.fseq"]


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_target_that_is_not_a_regular_file_is_refused_and_left_alone(
    tmp_path: Path, kind: str
) -> None:
    target = tmp_path / "show.fseq"
    if kind == "fifo":
        os.mkfifo(target)
    else:
        target.mkdir()
    before = os.stat(target)
    with pytest.raises(FseqWriteError, match="FSEQ files are written only to regular files"):
        FseqWriter.open(target, channel_count=4, frame_count=1, step_ms=25)
    after = os.stat(target)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    assert [p.name for p in tmp_path.iterdir()] == ["show.fseq"]


def test_a_symlinked_target_is_written_through(tmp_path: Path) -> None:
    real = tmp_path / "real.fseq"
    real.write_bytes(b"previous render")
    link = tmp_path / "link.fseq"
    link.symlink_to(real)
    write_frames(link, 2, declared=2)
    assert link.is_symlink()
    with FseqReader.open(real) as reader:
        assert reader.frame_count == 2


def test_too_many_frames_is_refused_at_once(tmp_path: Path) -> None:
    with FseqWriter.open(tmp_path / "a.fseq", channel_count=4, frame_count=1, step_ms=25) as w:
        w.write_frame(bytes(4))
        with pytest.raises(FseqWriteError, match="frame 1 exceeds frame_count=1"):
            w.write_frame(bytes(4))
    with FseqReader.open(tmp_path / "a.fseq") as reader:
        assert reader.frame_count == 1


def test_temp_file_is_a_hidden_sibling_until_close(tmp_path: Path) -> None:
    target = tmp_path / "show.fseq"
    writer = FseqWriter.open(target, channel_count=4, frame_count=1, step_ms=25)
    [temp] = tmp_path.iterdir()
    assert temp.name.startswith(".show.fseq.")
    assert temp.name.endswith(".part")
    assert not target.exists()
    writer.write_frame(bytes(4))
    writer.close()
    assert [p.name for p in tmp_path.iterdir()] == ["show.fseq"]
    writer.close()  # idempotent


def test_abort_discards_the_file(tmp_path: Path) -> None:
    writer = FseqWriter.open(tmp_path / "x.fseq", channel_count=4, frame_count=1, step_ms=25)
    writer.write_frame(bytes(4))
    writer.abort()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match=r"write_frame\(\) after close\(\) or abort\(\)"):
        writer.write_frame(bytes(4))


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (np.zeros(5, dtype=np.uint8), r"frame shape=\(5,\) dtype=uint8 must be \(4,\) uint8"),
        (np.zeros(4, dtype=np.uint16), r"frame shape=\(4,\) dtype=uint16 must be \(4,\) uint8"),
        (np.zeros((2, 2), dtype=np.uint8), r"frame shape=\(2, 2\) dtype=uint8"),
        (b"abc", "frame length=3 must equal channel_count=4"),
    ],
)
def test_bad_frames_are_rejected(tmp_path: Path, frame: object, message: str) -> None:
    with FseqWriter.open(tmp_path / "a.fseq", channel_count=4, frame_count=1, step_ms=25) as w:
        with pytest.raises(ValueError, match=message):
            w.write_frame(frame)  # type: ignore[arg-type]
        w.write_frame(memoryview(b"abcd"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"compression": "lz4"}, "compression='lz4' not one of 'none', 'zstd', 'zlib'"),
        ({"level": 23}, "level=23 out of range -25..22 for zstd"),
        ({"compression": "zlib", "level": 10}, "level=10 out of range 0..9 for zlib"),
        ({"frames_per_block": 0}, "frames_per_block=0 out of range 1..1000"),
        ({"frames_per_block": 3}, "frames_per_block=3 needs 334 blocks for frame_count=1000"),
        ({"variable_headers": {"abc": "x"}}, "variable header code='abc' must be 2 printable"),
        ({"variable_headers": {"cp": "a\0b"}}, "variable header 'cp' text contains NUL"),
        ({"variable_headers": {"cp": b""}}, "variable header 'cp' data is empty"),
        ({"step_ms": 0}, "step_ms=0 out of range 1..255"),
    ],
)
def test_bad_arguments_raise_before_any_file_exists(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    options: dict[str, object] = {"channel_count": 4, "frame_count": 1000, "step_ms": 25}
    with pytest.raises(ValueError, match=message):
        FseqWriter.open(tmp_path / "a.fseq", **{**options, **kwargs})  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_variable_headers_text_is_nul_terminated_and_bytes_verbatim(tmp_path: Path) -> None:
    path = tmp_path / "a.fseq"
    headers: dict[str, bytes | str] = {
        "sp": "other tool 1.0",
        "cp": '{"patch": []}',
        "XB": b"\x00\x01binary",
    }
    with FseqWriter.open(
        path, channel_count=1, frame_count=1, step_ms=25, variable_headers=headers
    ) as w:
        w.write_frame(b"\x00")
    with FseqReader.open(path) as reader:
        assert reader.variable_headers == {
            "sp": b"other tool 1.0\0",
            "cp": b'{"patch": []}\0',
            "XB": b"\x00\x01binary",
        }


def test_memory_stays_far_below_show_size(tmp_path: Path) -> None:
    channels, frames = 20_000, 5000  # 100 MB of channel data
    path = tmp_path / "long.fseq"
    tracemalloc.start()
    try:
        with FseqWriter.open(path, channel_count=channels, frame_count=frames, step_ms=25) as w:
            for frame in frames_of(frames, channels):
                w.write_frame(frame)
        _, write_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        with FseqReader.open(path) as reader:
            checked = sum(int(f[0]) == i % 251 for i, f in enumerate(reader))
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert checked == frames
    total = channels * frames
    assert write_peak < total // 50, write_peak  # < 2 MB: a frame plus compressed output
    assert read_peak < total // 50, read_peak  # one 20-frame block (400 kB) at a time
    assert os.path.getsize(path) < total // 10
