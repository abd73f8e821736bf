"""Pure header encode/decode: round trips, every truncated prefix, hostile bytes."""

from __future__ import annotations

import contextlib
import dataclasses
import re
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.errors import RemoteProtocolError, Truncated
from controller.fseq import (
    BlockEntry,
    Compression,
    FseqFormatError,
    FseqHeader,
    FseqTruncated,
    FseqWriteError,
    SparseRange,
    VariableHeader,
    pack_header,
    unpack_header,
)

SETTINGS = settings(max_examples=60, deadline=None, database=None)

codes = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=2, max_size=2)
variable_headers = st.lists(
    st.builds(VariableHeader, code=codes, data=st.binary(min_size=1, max_size=40)), max_size=4
)
block_entries = st.lists(
    st.builds(BlockEntry, first_frame=st.integers(0, 2**32 - 1), length=st.integers(0, 2**32 - 1)),
    max_size=300,
)
sparse = st.lists(
    st.builds(
        SparseRange, start_channel=st.integers(0, 2**24 - 1), channel_count=st.integers(1, 600)
    ),
    max_size=5,
)


@st.composite
def headers(draw: st.DrawFn) -> FseqHeader:
    ranges = tuple(draw(sparse))
    blocks = tuple(draw(block_entries))
    return FseqHeader(
        channel_count=sum(r.channel_count for r in ranges) or draw(st.integers(1, 2**32 - 1)),
        frame_count=draw(st.integers(0, 2**32 - 1)),
        step_ms=draw(st.integers(1, 255)),
        compression=draw(st.sampled_from(Compression)),
        block_index=blocks,
        sparse_ranges=ranges,
        variable_headers=tuple(draw(variable_headers)),
        unique_id=draw(st.integers(0, 2**64 - 1)),
        minor_version=1 if len(blocks) > 255 else 0,
    )


@SETTINGS
@given(headers())
def test_unpack_inverts_pack(header: FseqHeader) -> None:
    data = pack_header(header)
    assert len(data) == header.channel_data_offset
    assert len(data) % 4 == 0
    assert unpack_header(data) == header


def small_header() -> FseqHeader:
    return FseqHeader(
        channel_count=6,
        frame_count=30,
        step_ms=25,
        compression=Compression.ZSTD,
        block_index=(
            BlockEntry(first_frame=0, length=40),
            BlockEntry(first_frame=10, length=50),
            BlockEntry(first_frame=0, length=0),
        ),
        sparse_ranges=(SparseRange(start_channel=10, channel_count=6),),
        variable_headers=(
            VariableHeader(code="sp", data=b"x\0"),
            VariableHeader(code="cp", data=b"{}\0"),
        ),
        unique_id=0x0102030405060708,
    )


def test_every_truncated_prefix_raises_truncated() -> None:
    data = pack_header(small_header())
    for cut in range(len(data)):
        with pytest.raises(FseqTruncated) as info:
            unpack_header(data[:cut])
        assert isinstance(info.value, Truncated)
        assert isinstance(info.value, RemoteProtocolError)
        assert f"input ends at byte {cut}" in str(info.value)


@pytest.mark.parametrize(
    ("cut", "message"),
    [
        (0, "input ends at byte 0 inside header field identifier (offset 0)"),
        (5, "input ends at byte 5 inside header field channel_data_offset (offset 4)"),
        (12, "input ends at byte 12 inside header field channel_count (offset 10)"),
        (20, "input ends at byte 20 inside header field compression (offset 20)"),
        (31, "input ends at byte 31 inside header field unique_id (offset 24)"),
        (60, "input ends at byte 60 before channel_data_offset=76 (offset 4)"),
    ],
)
def test_truncation_names_the_field(cut: int, message: str) -> None:
    with pytest.raises(FseqTruncated, match=f"^{re.escape(message)}$"):
        unpack_header(pack_header(small_header())[:cut])


def patched(offset: int, fmt: str, value: int | bytes) -> bytes:
    data = bytearray(pack_header(small_header()))
    struct.pack_into(fmt, data, offset, value)
    return bytes(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(
            patched(0, "4s", b"XSEQ"),
            "header field identifier=b'XSEQ' at offset 0 not one of b'PSEQ', b'FSEQ'",
            id="magic",
        ),
        pytest.param(
            patched(0, "4s", b"ESEQ"),
            "not one of b'PSEQ', b'FSEQ'; ESEQ effect sequences are not supported",
            id="eseq",
        ),
        pytest.param(
            patched(7, "B", 3),
            "header field major_version=3 at offset 7 not supported (1 or 2)",
            id="major",
        ),
        pytest.param(
            patched(4, "<H", 16),
            "header field channel_data_offset=16 at offset 4 is inside the fixed header",
            id="offset-inside-fixed",
        ),
        pytest.param(
            patched(10, "<I", 0),
            "header field channel_count=0 at offset 10 out of range 1..4294967295",
            id="channels",
        ),
        pytest.param(
            patched(18, "B", 0),
            "header field step_ms=0 at offset 18 out of range 1..255",
            id="step",
        ),
        pytest.param(
            patched(20, "B", 7),
            "header field compression=7 at offset 20 not one of 0, 1, 2",
            id="compression",
        ),
        pytest.param(
            patched(21, "B", 9),
            "9 blocks and 1 ranges end at 110, past channel_data_offset (@4)",
            id="blocks-past-offset",
        ),
        pytest.param(
            patched(8, "<H", 40),
            "header field header_length=40 at offset 8, expected 62 or 76",
            id="header-length",
        ),
        pytest.param(
            patched(62, "<H", 2),
            "variable header 'sp' at offset 62 length=2 outside 4..14",
            id="variable-too-short",
        ),
        pytest.param(
            patched(62, "<H", 15),
            "variable header 'sp' at offset 62 length=15 outside 4..14",
            id="variable-overrun",
        ),
        pytest.param(
            patched(59, "B", 7),
            "sparse ranges at offset 56 cover 7 != channel_count=6 (@10)",
            id="sparse-sum",
        ),
    ],
)
def test_hostile_headers_raise_located_errors(data: bytes, message: str) -> None:
    with pytest.raises(FseqFormatError, match=re.escape(message)) as info:
        unpack_header(data)
    assert not isinstance(info.value, FseqTruncated)


def test_reader_side_accepts_fseq_magic_and_old_fpp_header_length() -> None:
    header = small_header()
    data = bytearray(pack_header(header))
    data[0:1] = b"F"  # openFSEQFile accepts 'F' as well as 'P'
    struct.pack_into("<H", data, 8, header.channel_data_offset)  # 2019-era writers
    assert unpack_header(bytes(data)) == header


def test_zero_length_variable_header_records_are_padding() -> None:
    header = small_header()
    data = bytearray(pack_header(header))
    data = data[:62] + bytes(4) + data[62:]  # 4 zero bytes before the first record
    struct.pack_into("<H", data, 4, len(data))
    assert unpack_header(bytes(data)).variable_headers == header.variable_headers


def test_v1_header_is_read() -> None:
    data = bytearray(28)
    struct.pack_into(
        "<4sHBBHIIBBHHBB", data, 0, b"PSEQ", 36, 0, 1, 28, 512, 100, 50, 0, 1, 512, 1, 2
    )
    data += struct.pack("<H2s3s", 7, b"mf", b"a\0\0") + b"\0"
    header = unpack_header(bytes(data))
    assert (header.major_version, header.channel_count, header.frame_count) == (1, 512, 100)
    assert header.step_ms == 50
    assert header.compression is Compression.NONE
    assert header.variable_headers == (VariableHeader(code="mf", data=b"a\0\0"),)
    assert header.channel_data_offset == 36


def test_header_too_large_for_uint16_offset_is_a_write_error() -> None:
    big = VariableHeader(code="cp", data=bytes(65_000))
    with pytest.raises(
        FseqWriteError,
        match=r"header needs 66040 bytes but channel_data_offset is a uint16 \(max 65535\)",
    ):
        FseqHeader(
            channel_count=1,
            frame_count=1,
            step_ms=25,
            variable_headers=(big, VariableHeader(code="cq", data=bytes(1000))),
        )


def test_more_than_255_blocks_needs_minor_version_1() -> None:
    header = FseqHeader(
        channel_count=1,
        frame_count=1,
        step_ms=25,
        compression=Compression.ZSTD,
        block_index=(BlockEntry(first_frame=0, length=0),) * 256,
    )
    with pytest.raises(FseqWriteError, match=r"block count=256 out of range 0\.\.255"):
        pack_header(header)
    data = pack_header(dataclasses.replace(header, minor_version=1))
    assert data[20] == 0x11  # zstd + block count bit 8 in the high nibble
    assert data[21] == 0x00


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"channel_count": 0}, "channel_count=0 out of range 1..4294967295"),
        ({"step_ms": 256}, "step_ms=256 out of range 1..255"),
        ({"channel_data_offset": 33}, "channel_data_offset=33 out of range 37..65535"),
    ],
)
def test_header_values_are_validated_once(kwargs: dict[str, int], message: str) -> None:
    valid = FseqHeader(
        channel_count=1,
        frame_count=1,
        step_ms=25,
        variable_headers=(VariableHeader(code="sp", data=b"\0"),),
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        dataclasses.replace(valid, **kwargs)  # type: ignore[arg-type]


def test_variable_header_code_must_be_two_characters() -> None:
    with pytest.raises(ValueError, match="must be 2 latin-1 characters"):
        VariableHeader(code="abc", data=b"x")


@SETTINGS
@given(
    edits=st.lists(st.tuples(st.integers(0, 75), st.integers(0, 255)), min_size=1, max_size=4),
    cut=st.integers(0, 76),
)
def test_mutated_headers_decode_or_raise_format_error(
    edits: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(pack_header(small_header()))
    for offset, value in edits:
        data[offset] = value
    with contextlib.suppress(FseqFormatError):  # anything else (struct.error, ...) fails
        unpack_header(bytes(data[:cut]))
