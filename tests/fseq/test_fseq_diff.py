"""diff_fseq and info_fseq over files written by our writer."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from controller.fseq import (
    ChannelDifference,
    CompressionName,
    FieldDifference,
    FseqReader,
    FseqWriter,
    diff_fseq,
    info_fseq,
)


def write(
    path: Path,
    frames: NDArray[np.uint8],
    *,
    compression: CompressionName = "zstd",
    frames_per_block: int | None = None,
    step_ms: int = 25,
    variable_headers: Mapping[str, bytes | str] | None = None,
) -> Path:
    with FseqWriter.open(
        path,
        channel_count=frames.shape[1],
        frame_count=frames.shape[0],
        step_ms=step_ms,
        compression=compression,
        frames_per_block=frames_per_block,
        variable_headers=variable_headers,
    ) as writer:
        for frame in frames:
            writer.write_frame(frame)
    return path


def base_frames() -> NDArray[np.uint8]:
    return np.random.default_rng(3).integers(0, 256, size=(90, 600), dtype=np.uint8)


def test_identical_files_are_equal(tmp_path: Path) -> None:
    frames = base_frames()
    a, b = write(tmp_path / "a.fseq", frames), write(tmp_path / "b.fseq", frames)
    with FseqReader.open(a) as ra, FseqReader.open(b) as rb:
        diff = diff_fseq(ra, rb)
    assert diff.identical
    assert not diff.headers_differ
    assert diff.first_differing_frame is None
    assert diff.channels == ()
    assert (diff.differing_frames, diff.differing_channel_count, diff.max_abs_delta) == (0, 0, 0)
    assert (diff.frames_compared, diff.channels_compared) == (90, 600)


def test_first_differing_frame_channels_and_deltas(tmp_path: Path) -> None:
    frames = base_frames()
    frames[:, [3, 100, 599]] = 128
    changed = frames.copy()
    changed[37, 3] = 0  # delta -128: the largest anywhere
    changed[37, 100] = 130  # +2
    changed[37, 599] = 127  # -1
    changed[60, 5] = frames[60, 5] ^ 1  # a later frame
    changed[89, 0] = frames[89, 0] ^ 1  # the very last frame
    a = write(tmp_path / "a.fseq", frames, frames_per_block=13)  # block edges do not line up
    b = write(tmp_path / "b.fseq", changed, compression="zlib", frames_per_block=7)
    with FseqReader.open(a) as ra, FseqReader.open(b) as rb:
        diff = diff_fseq(ra, rb)
    assert diff.first_differing_frame == 37
    assert diff.channels == (
        ChannelDifference(channel=3, a=128, b=0, delta=-128),
        ChannelDifference(channel=100, a=128, b=130, delta=2),
        ChannelDifference(channel=599, a=128, b=127, delta=-1),
    )
    assert diff.differing_channel_count == 3
    assert diff.differing_frames == 3
    assert diff.max_abs_delta == 128
    assert diff.header_differences == (
        FieldDifference(field="compression", a="'zstd'", b="'zlib'"),
    )
    assert not diff.identical


def test_max_report_limits_the_listed_channels_not_the_count(tmp_path: Path) -> None:
    frames = base_frames()
    changed = frames.copy()
    changed[0, 10:60] ^= 0xFF
    a, b = write(tmp_path / "a.fseq", frames), write(tmp_path / "b.fseq", changed)
    with FseqReader.open(a) as ra, FseqReader.open(b) as rb:
        diff = diff_fseq(ra, rb, max_report=5)
    assert [c.channel for c in diff.channels] == [10, 11, 12, 13, 14]
    assert diff.differing_channel_count == 50
    assert diff.first_differing_frame == 0
    with pytest.raises(ValueError, match=r"max_report=-1 out of range 0\.\."):
        diff_fseq(ra, rb, max_report=-1)


def test_header_differences_name_the_fields(tmp_path: Path) -> None:
    frames = base_frames()
    a = write(tmp_path / "a.fseq", frames, variable_headers={"cp": '{"v": 1}', "mf": "a.mp3"})
    b = write(
        tmp_path / "b.fseq", frames[:80, :500], step_ms=50, variable_headers={"cp": '{"v": 2}'}
    )
    with FseqReader.open(a) as ra, FseqReader.open(b) as rb:
        diff = diff_fseq(ra, rb)
    assert [d.field for d in diff.header_differences] == [
        "channel_count",
        "frame_count",
        "step_ms",
        "variable_headers['cp']",
        "variable_headers['mf']",
    ]
    assert diff.header_differences[3] == FieldDifference(
        field="variable_headers['cp']", a="b'{\"v\": 1}\\x00'", b="b'{\"v\": 2}\\x00'"
    )
    assert diff.header_differences[4].b == "<absent>"
    assert (diff.frames_compared, diff.channels_compared) == (80, 500)
    assert diff.differing_frames == 0  # the common 80 x 500 region is equal


def test_info_summarises_the_header(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.fseq",
        base_frames(),
        frames_per_block=40,
        variable_headers={"sp": "tool 1", "XB": b"\x01\x02"},
    )
    with FseqReader.open(path) as reader:
        info = info_fseq(reader)
    json.dumps(info)  # serialisable for the CLI
    assert info["version"] == "2.0"
    assert (info["channel_count"], info["frame_count"], info["step_ms"]) == (600, 90, 25)
    assert info["duration_s"] == pytest.approx(2.25)
    assert info["compression"] == "zstd"
    assert (info["blocks"], info["block_slots"]) == (3, 3)  # 10 + 40 + 40 frames
    assert info["raw_bytes"] == 54_000
    assert info["file_size"] == path.stat().st_size
    assert info["variable_headers"] == {"sp": "tool 1", "XB": "<2 bytes>"}
    assert info["sparse_ranges"] == []
    assert len(info["unique_id"]) == 16
