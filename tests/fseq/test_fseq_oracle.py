"""Our writer's files, read by an independent oracle written from the format notes (§7).

The oracle below deliberately shares no code with `controller.fseq`: it reads each field
with `struct` at its documented offset and decompresses blocks with zstandard/zlib itself,
so an encode bug cannot be cancelled out by the same bug in our reader.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import zstandard
from numpy.typing import NDArray

from controller.fseq import CompressionName, FseqWriter


@dataclass
class OracleFile:
    fields: dict[str, int]
    blocks: list[tuple[int, int]]  # every reserved slot: (first_frame, length)
    variable_headers: dict[bytes, bytes]
    frames: list[bytes]


def oracle_read(path: Path) -> OracleFile:
    data = path.read_bytes()
    assert data[0:4] == b"PSEQ"  # 0: identifier
    (data_offset,) = struct.unpack_from("<H", data, 4)  # 4: channel data offset
    minor, major = data[6], data[7]  # 6: minor, 7: major
    (header_length,) = struct.unpack_from("<H", data, 8)  # 8: header length
    (channels,) = struct.unpack_from("<I", data, 10)  # 10: channel count per frame
    (frame_count,) = struct.unpack_from("<I", data, 14)  # 14: number of frames
    step_ms, flags = data[18], data[19]  # 18: step time ms, 19: flags
    compression = data[20] & 0x0F  # 20 low nibble: 0 none, 1 zstd, 2 zlib
    block_count = ((data[20] & 0xF0) << 4) | data[21]  # 20 high nibble + 21: block count
    range_count, flags2 = data[22], data[23]  # 22: sparse ranges, 23: flags
    (unique_id,) = struct.unpack_from("<Q", data, 24)  # 24: unique id
    blocks = [struct.unpack_from("<II", data, 32 + 8 * i) for i in range(block_count)]
    assert header_length == 32 + 8 * block_count + 6 * range_count
    assert data_offset % 4 == 0  # roundTo4
    assert data_offset <= 0xFFFF

    variables: dict[bytes, bytes] = {}
    pos = header_length
    while data_offset - pos >= 4:
        (length,) = struct.unpack_from("<H", data, pos)  # includes its own 4 bytes
        if length == 0:
            break  # zero padding up to the channel data
        variables[data[pos + 2 : pos + 4]] = data[pos + 4 : pos + length]
        pos += length
    assert all(b == 0 for b in data[pos:data_offset])  # the padding really is zero

    frames: list[bytes] = []
    if compression == 0:
        assert block_count == 0
        raw = data[data_offset:]
        assert len(raw) == channels * frame_count
        frames = [raw[i * channels : (i + 1) * channels] for i in range(frame_count)]
    else:
        offset = data_offset
        used = [(first, length) for first, length in blocks if length > 0]
        for k, (first, length) in enumerate(used):
            chunk = data[offset : offset + length]
            offset += length
            end = used[k + 1][0] if k + 1 < len(used) else frame_count
            expected = (end - first) * channels
            if compression == 1:
                params = zstandard.get_frame_parameters(chunk)  # one zstd frame per block
                assert params.content_size == expected
                dobj = zstandard.ZstdDecompressor().decompressobj()
                plain = dobj.decompress(chunk)
                assert dobj.eof
                assert not dobj.unused_data
            else:
                assert chunk[0] == 0x78  # zlib wrapper (deflateInit), not raw deflate/gzip
                plain = zlib.decompress(chunk)
            assert len(plain) == expected
            frames.extend(plain[i * channels : (i + 1) * channels] for i in range(end - first))
        assert offset == len(data)  # data offset + sum of block lengths == file size
    fields = {
        "data_offset": data_offset,
        "minor": minor,
        "major": major,
        "header_length": header_length,
        "channels": channels,
        "frame_count": frame_count,
        "step_ms": step_ms,
        "flags": flags,
        "compression": compression,
        "block_count": block_count,
        "range_count": range_count,
        "flags2": flags2,
        "unique_id": unique_id,
    }
    return OracleFile(fields=fields, blocks=blocks, variable_headers=variables, frames=frames)


def make_frames(frame_count: int, channel_count: int, seed: int = 1) -> NDArray[np.uint8]:
    rng = np.random.default_rng(seed)
    ramp = np.arange(channel_count, dtype=np.uint16)
    frames = (ramp[None, :] + np.arange(frame_count, dtype=np.uint16)[:, None] * 3) % 256
    noise = rng.integers(0, 4, size=frames.shape)
    return ((frames + noise) % 256).astype(np.uint8)  # compressible but not trivial


@pytest.mark.parametrize(("compression", "code"), [("none", 0), ("zstd", 1), ("zlib", 2)])
def test_oracle_reads_header_blocks_and_frames_written_by_us(
    tmp_path: Path, compression: CompressionName, code: int
) -> None:
    frames = make_frames(250, 700)
    path = tmp_path / "show.fseq"
    with FseqWriter.open(
        path,
        channel_count=700,
        frame_count=250,
        step_ms=25,
        compression=compression,
        variable_headers={"cp": '{"universes": [1, 2]}', "mf": "song.mp3"},
        frames_per_block=60,
    ) as writer:
        for frame in frames:
            writer.write_frame(frame)

    got = oracle_read(path)

    assert got.fields["major"] == 2
    assert got.fields["minor"] == 0
    assert got.fields["channels"] == 700
    assert got.fields["frame_count"] == 250
    assert got.fields["step_ms"] == 25
    assert got.fields["compression"] == code
    assert got.fields["flags"] == got.fields["flags2"] == got.fields["range_count"] == 0
    assert got.fields["unique_id"] != 0
    assert got.variable_headers[b"cp"] == b'{"universes": [1, 2]}\0'
    assert got.variable_headers[b"mf"] == b"song.mp3\0"
    assert got.variable_headers[b"sp"].startswith(b"citypulse ")
    assert got.variable_headers[b"sp"].endswith(b"\0")
    assert list(got.variable_headers) == [b"sp", b"cp", b"mf"]
    if code:  # first block 10 frames (fast FPP start), then 60-frame blocks
        assert [first for first, _ in got.blocks] == [0, 10, 70, 130, 190]
        assert all(length > 0 for _, length in got.blocks)
    else:
        assert got.blocks == []
    assert got.frames == [f.tobytes() for f in frames]


def test_oracle_sees_fpp_block_policy_with_zeroed_spare_slots(tmp_path: Path) -> None:
    frames = make_frames(400, 512)
    path = tmp_path / "fpp.fseq"
    with FseqWriter.open(path, channel_count=512, frame_count=400, step_ms=50) as writer:
        for frame in frames:
            writer.write_frame(frame)

    got = oracle_read(path)

    # 512 * 400 bytes = 3 blocks of 64 KiB; 400 // 3 = 133 frames per block;
    # 400 // 133 + 1 = 4 blocks, + 2 spare slots because the first block is short.
    assert got.fields["block_count"] == 6
    assert [first for first, _ in got.blocks] == [0, 10, 143, 276, 0, 0]
    assert [length > 0 for _, length in got.blocks] == [True] * 4 + [False] * 2
    assert got.frames == [f.tobytes() for f in frames]


def test_golden_uncompressed_file_bytes(tmp_path: Path) -> None:
    path = tmp_path / "tiny.fseq"
    frames = [bytes([1, 2, 3, 4]), bytes([5, 6, 7, 8]), bytes([9, 10, 11, 255])]
    with FseqWriter.open(
        path,
        channel_count=4,
        frame_count=3,
        step_ms=25,
        compression="none",
        variable_headers={"sp": b"test\0"},
    ) as writer:
        for frame in frames:
            writer.write_frame(frame)

    header_without_id = bytes.fromhex(
        "50 53 45 51"  # 0: identifier 'PSEQ'
        "2c 00"  # 4: channel data offset 44 = roundTo4(32 + 9)
        "00"  # 6: minor version 0
        "02"  # 7: major version 2
        "20 00"  # 8: header length 32 (no blocks, no sparse ranges)
        "04 00 00 00"  # 10: channel count 4
        "03 00 00 00"  # 14: frame count 3
        "19"  # 18: step time 25 ms
        "00"  # 19: flags
        "00"  # 20: compression none, block count bits 8-11 = 0
        "00"  # 21: block count 0
        "00"  # 22: sparse range count 0
        "00"  # 23: flags
        "00 00 00 00 00 00 00 00"  # 24: unique id, filled below
        "09 00 73 70"  # 32: variable header length 9 (incl. these 4), code 'sp'
        "74 65 73 74 00"  # 36: "test\0"
        "00 00 00"  # 41: zero padding to offset 44
    )
    channel_data = b"".join(frames)  # 44: frames back to back, 4 bytes each
    # unique id: BLAKE2b-64 of the channel data then the header with a zero id, LE.
    digest = hashlib.blake2b(channel_data + header_without_id, digest_size=8).digest()
    expected = header_without_id[:24] + digest + header_without_id[32:] + channel_data

    assert path.read_bytes() == expected


def test_golden_zstd_fixed_header_fields(tmp_path: Path) -> None:
    path = tmp_path / "tiny.fseq"
    with FseqWriter.open(
        path, channel_count=4, frame_count=3, step_ms=50, variable_headers={"sp": b"test\0"}
    ) as writer:
        for value in range(3):
            writer.write_frame(bytes([value] * 4))
    data = path.read_bytes()

    assert data[:24] == bytes.fromhex(
        "50 53 45 51"  # 0: 'PSEQ'
        "44 00"  # 4: channel data offset 68 = roundTo4(56 + 9)
        "00 02"  # 6: minor 0, major 2
        "38 00"  # 8: header length 56 = 32 + 8 * 3 block slots
        "04 00 00 00"  # 10: channel count 4
        "03 00 00 00"  # 14: frame count 3
        "32 00"  # 18: step 50 ms, flags 0
        "01 03"  # 20: compression zstd; 21: 3 block slots (1 block + 2 spares)
        "00 00"  # 22: no sparse ranges, flags 0
    )
    first_frame, length = struct.unpack_from("<II", data, 32)
    assert first_frame == 0
    assert 68 + length == len(data)
    assert data[40:56] == bytes(16)  # the two spare slots stay zero


def test_same_frames_give_identical_bytes(tmp_path: Path) -> None:
    frames = make_frames(120, 300)

    def write(name: str, compression: CompressionName) -> str:
        path = tmp_path / name
        with FseqWriter.open(
            path,
            channel_count=300,
            frame_count=120,
            step_ms=25,
            compression=compression,
        ) as writer:
            for frame in frames:
                writer.write_frame(frame)
        return hashlib.sha256(path.read_bytes()).hexdigest()

    kinds: tuple[CompressionName, ...] = ("none", "zstd", "zlib")
    for compression in kinds:
        assert write(f"a-{compression}.fseq", compression) == write(
            f"b-{compression}.fseq", compression
        )


def test_unique_id_changes_with_content(tmp_path: Path) -> None:
    ids = []
    for value in (0, 1):
        path = tmp_path / f"{value}.fseq"
        with FseqWriter.open(path, channel_count=2, frame_count=1, step_ms=25) as writer:
            writer.write_frame(bytes([value, 0]))
        ids.append(oracle_read(path).fields["unique_id"])
    assert ids[0] != ids[1]
