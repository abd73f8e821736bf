"""Reader: round trips with the writer, random access, and every way a file can be broken."""

from __future__ import annotations

import contextlib
import re
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from controller.fseq import (
    BlockEntry,
    Compression,
    CompressionName,
    FseqFormatError,
    FseqHeader,
    FseqReader,
    FseqTruncated,
    FseqWriter,
    SparseRange,
    pack_header,
)

SETTINGS = settings(max_examples=40, deadline=None, database=None)


def write(
    path: Path,
    frames: NDArray[np.uint8],
    compression: CompressionName = "zstd",
    frames_per_block: int | None = None,
) -> Path:
    count, channels = frames.shape
    with FseqWriter.open(
        path,
        channel_count=channels,
        frame_count=count,
        step_ms=25,
        compression=compression,
        frames_per_block=frames_per_block,
    ) as writer:
        for frame in frames:
            writer.write_frame(frame)
    return path


def random_frames(count: int, channels: int, seed: int = 7) -> NDArray[np.uint8]:
    return np.random.default_rng(seed).integers(0, 256, size=(count, channels), dtype=np.uint8)


@SETTINGS
@given(
    channels=st.integers(1, 700),
    count=st.integers(0, 80),
    compression=st.sampled_from(["none", "zstd", "zlib"]),
    per_block=st.none() | st.integers(1, 30),
    seed=st.integers(0, 2**32 - 1),
)
def test_reader_returns_what_the_writer_wrote(
    channels: int, count: int, compression: CompressionName, per_block: int | None, seed: int
) -> None:
    frames = random_frames(count, channels, seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp) / "x.fseq", frames, compression, per_block)
        with FseqReader.open(path) as reader:
            assert (reader.channel_count, reader.frame_count) == (channels, count)
            assert reader.compression == compression
            assert reader.version == (2, 0)
            assert reader.step_ms == 25
            assert len(reader) == count
            got = list(reader)
            assert len(got) == count
            assert all(np.array_equal(a, b) for a, b in zip(got, frames, strict=True))
            for i in sorted({0, count // 2, count - 1} if count else (), reverse=True):
                assert np.array_equal(reader.frame(i), frames[i])


def test_random_access_across_blocks_and_read_only_frames(tmp_path: Path) -> None:
    frames = random_frames(100, 50)
    with FseqReader.open(write(tmp_path / "a.fseq", frames, frames_per_block=7)) as reader:
        assert [b.first_frame for b in reader.blocks][:4] == [0, 7, 14, 21]
        for i in (99, 3, 50, 6, 7, 0, 98):
            frame = reader.frame(i)
            assert np.array_equal(frame, frames[i])
            assert frame.dtype == np.uint8
            assert not frame.flags.writeable
        with pytest.raises(IndexError, match=r"frame index=100 out of range 0\.\.99"):
            reader.frame(100)
        with pytest.raises(IndexError, match=r"frame index=-1 out of range 0\.\.99"):
            reader.frame(-1)


def test_uncompressed_file_streams_in_chunks(tmp_path: Path) -> None:
    frames = random_frames(40, 100_000)  # 4 MB: several 1 MiB chunks
    with FseqReader.open(write(tmp_path / "a.fseq", frames, "none")) as reader:
        chunks = list(reader.iter_chunks())
        assert [first for first, _ in chunks] == [0, 10, 20, 30]
        assert np.array_equal(np.concatenate([c for _, c in chunks]), frames)


def test_every_truncated_prefix_of_a_file_raises(tmp_path: Path) -> None:
    data = write(tmp_path / "a.fseq", random_frames(25, 6)).read_bytes()
    cut_path = tmp_path / "cut.fseq"
    for cut in range(len(data)):
        cut_path.write_bytes(data[:cut])
        with pytest.raises(FseqTruncated) as info:
            FseqReader.open(cut_path).close()
        assert str(info.value).startswith(f"{cut_path}: ")


def test_truncated_channel_data_is_reported_with_sizes(tmp_path: Path) -> None:
    path = write(tmp_path / "a.fseq", random_frames(3, 4), "none")
    data = path.read_bytes()
    path.write_bytes(data[:-1])
    offset = len(data) - 12
    message = f"file ends at byte {len(data) - 1} but the header promises channel data up to"
    with pytest.raises(FseqTruncated, match=re.escape(message)) as info:
        FseqReader.open(path)
    assert info.value.offset == len(data) - 1
    assert f"(channel_data_offset={offset})" in str(info.value)


def corrupt(path: Path, offset: int, value: bytes) -> Path:
    data = bytearray(path.read_bytes())
    data[offset : offset + len(value)] = value
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("compression", ["zstd", "zlib"])
def test_corrupt_block_raises_format_error_with_cause(
    tmp_path: Path, compression: CompressionName
) -> None:
    path = write(tmp_path / "a.fseq", random_frames(30, 64), compression)
    with FseqReader.open(path) as reader:
        block = reader.blocks[1]
    corrupt(path, block.offset, b"\xff\xff\xff\xff")
    with FseqReader.open(path) as reader:
        assert np.array_equal(reader.frame(0), random_frames(30, 64)[0])  # block 0 intact
        with pytest.raises(
            FseqFormatError, match=f"block 1 .*{compression} data is corrupt"
        ) as info:
            reader.frame(20)
    assert isinstance(info.value.__cause__, (zstandard.ZstdError, zlib.error))
    assert info.value.offset == block.offset


@pytest.mark.parametrize("compression", ["zstd", "zlib"])
def test_cut_short_block_stream_is_a_format_error(
    tmp_path: Path, compression: CompressionName
) -> None:
    frames = random_frames(30, 64)
    path = write(tmp_path / "a.fseq", frames, compression)
    with FseqReader.open(path) as reader:
        first = reader.blocks[0]
    data = bytearray(path.read_bytes())
    del data[first.offset + first.length - 4 : first.offset + first.length]  # drop the tail
    struct.pack_into("<I", data, 36, first.length - 4)
    path.write_bytes(bytes(data))
    # zlib knows where its stream ends; a zstd frame cut short yields fewer bytes than the
    # header gives the block (its content size is never trusted, see the bomb tests)
    message = "ends early" if compression == "zlib" else r"decompressed to \d+ bytes, expected 640"
    with FseqReader.open(path) as reader, pytest.raises(FseqFormatError, match=message) as info:
        reader.frame(0)
    assert info.value.code == "F105"


def test_block_that_decompresses_to_the_wrong_size(tmp_path: Path) -> None:
    path = write(tmp_path / "a.fseq", random_frames(20, 8))
    corrupt(path, 14, struct.pack("<I", 21))  # frame_count 20 -> 21: last block one frame short
    with FseqReader.open(path) as reader, pytest.raises(FseqFormatError) as info:
        reader.frame(20)
    assert "block 1 (frames 10.., file offset" in str(info.value)
    assert "decompressed to 80 bytes, expected 88 = 11 frames x 8 channels" in str(info.value)


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([(5, 10), (10, 10)], "block index entry 0 at offset 32 has first_frame=5, expected 0"),
        ([(0, 10), (0, 10)], "block index entry 1 at offset 40 has first_frame=0, expected 1..19"),
        (
            [(0, 10), (25, 10)],
            "block index entry 1 at offset 40 has first_frame=25, expected 1..19",
        ),
        ([(0, 0), (0, 0)], "compressed file with frame_count=20 has no used block index entries"),
    ],
)
def test_bad_block_index_is_refused(
    tmp_path: Path, entries: list[tuple[int, int]], message: str
) -> None:
    header = FseqHeader(
        channel_count=8,
        frame_count=20,
        step_ms=25,
        compression=Compression.ZSTD,
        block_index=tuple(BlockEntry(first_frame=f, length=n) for f, n in entries),
    )
    path = tmp_path / "bad.fseq"
    path.write_bytes(pack_header(header) + bytes(20))
    with pytest.raises(FseqFormatError, match=re.escape(message)):
        FseqReader.open(path)


def test_unused_slots_are_skipped_wherever_they_are(tmp_path: Path) -> None:
    frames = random_frames(20, 8)
    blobs = [
        zstandard.ZstdCompressor().compress(frames[a:b].tobytes()) for a, b in ((0, 10), (10, 20))
    ]
    header = FseqHeader(
        channel_count=8,
        frame_count=20,
        step_ms=25,
        compression=Compression.ZSTD,
        block_index=(
            BlockEntry(first_frame=0, length=len(blobs[0])),
            BlockEntry(first_frame=0, length=0),
            BlockEntry(first_frame=10, length=len(blobs[1])),
        ),
    )
    path = tmp_path / "gap.fseq"
    path.write_bytes(pack_header(header) + b"".join(blobs))
    with FseqReader.open(path) as reader:
        assert [b.slot for b in reader.blocks] == [0, 2]
        assert np.array_equal(np.stack(list(reader)), frames)


def test_concatenated_zstd_frames_in_one_block(tmp_path: Path) -> None:
    frames = random_frames(10, 8)
    cctx = zstandard.ZstdCompressor()
    blob = cctx.compress(frames[:4].tobytes()) + cctx.compress(frames[4:].tobytes())
    header = FseqHeader(
        channel_count=8,
        frame_count=10,
        step_ms=25,
        compression=Compression.ZSTD,
        block_index=(BlockEntry(first_frame=0, length=len(blob)),),
    )
    path = tmp_path / "cat.fseq"
    path.write_bytes(pack_header(header) + blob)
    with FseqReader.open(path) as reader:
        assert np.array_equal(np.stack(list(reader)), frames)


def test_sparse_file_returns_stored_channels(tmp_path: Path) -> None:
    ranges = (
        SparseRange(start_channel=100, channel_count=3),
        SparseRange(start_channel=7, channel_count=2),
    )
    header = FseqHeader(channel_count=5, frame_count=2, step_ms=50, sparse_ranges=ranges)
    path = tmp_path / "sparse.fseq"
    path.write_bytes(pack_header(header) + bytes(range(10)))
    with FseqReader.open(path) as reader:
        assert reader.sparse_ranges == ranges
        assert reader.frame(1).tolist() == [5, 6, 7, 8, 9]


def test_v1_file_is_readable(tmp_path: Path) -> None:
    head = struct.pack("<4sHBBHIIBBHHBBH", b"PSEQ", 28, 0, 1, 28, 3, 2, 50, 0, 0, 0, 1, 2, 0)
    path = tmp_path / "v1.fseq"
    path.write_bytes(head + b"\x01\x02\x03\x04\x05\x06")
    with FseqReader.open(path) as reader:
        assert reader.version == (1, 0)
        assert reader.compression == "none"
        assert [f.tolist() for f in reader] == [[1, 2, 3], [4, 5, 6]]


def test_not_an_fseq_file(tmp_path: Path) -> None:
    path = tmp_path / "song.mp3"
    path.write_bytes(b"ID3\x04" + bytes(60))
    with pytest.raises(
        FseqFormatError, match=re.escape(f"{path}: header field identifier=b'ID3\\x04'")
    ):
        FseqReader.open(path)


@pytest.mark.parametrize("compression", ["none", "zstd", "zlib"])
def test_mutated_files_read_or_raise_format_error(
    tmp_path: Path, compression: CompressionName
) -> None:
    data = write(tmp_path / "a.fseq", random_frames(25, 6), compression).read_bytes()
    path = tmp_path / "b.fseq"

    @SETTINGS
    @given(
        edits=st.lists(st.tuples(st.integers(0, len(data) - 1), st.integers(0, 255)), max_size=3)
    )
    def check(edits: list[tuple[int, int]]) -> None:
        mutated = bytearray(data)
        for offset, value in edits:
            mutated[offset] = value
        path.write_bytes(bytes(mutated))
        # Anything but FseqFormatError (ZstdError, zlib.error, ValueError...) fails the test.
        with contextlib.suppress(FseqFormatError), FseqReader.open(path) as reader:
            for _ in reader:
                pass

    check()
