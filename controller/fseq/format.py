"""FSEQ v1/v2 header model: constants, frozen dataclasses and pure pack/unpack over bytes.

Source of truth: FalconChristmas/fpp `src/fseq/FSEQFile.cpp` (shared with xLights) and its
`docs/FSEQ_Sequence_File_Format.txt`. All integers are little-endian.

Rules:
- `pack_header` and `unpack_header` are pure: bytes in, values out (the reader locates
  blocks with `controller.fseq.reader.locate_blocks`, also pure).
- File bytes never raise a bare builtin: every defect is an `FseqFormatError` whose message
  names the field, its value and its byte offset (`FseqTruncated` when the input is short),
  with a diagnostic code (`FseqFormatError.code`):
  F101 not an FSEQ v1/v2 file (identifier, major version); F102 the file ends early;
  F103 a header field out of range or inconsistent; F104 a corrupt block index;
  F105 a compressed block that does not decompress to what the header says;
  F106 a block larger than the reader's memory limit; F107 (warning, `citypulse fseq`) a
  'cp' citypulse header that is not what `citypulse render` writes.
- The block index stores lengths, not offsets: block i starts at
  `channel_data_offset + sum(length of the used blocks before it)`; zero-length slots are
  reserved-but-unused and skipped (`V2FSEQFile` ctor, `if (length > 0)`).
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import Literal, cast

from controller.errors import LocalProtocolError, RemoteProtocolError, Truncated

__all__ = [
    "BLOCK_ENTRY_SIZE",
    "MAGIC",
    "SPARSE_RANGE_SIZE",
    "V1_HEADER_SIZE",
    "V2_HEADER_SIZE",
    "VARIABLE_HEADER_SIZE",
    "BlockEntry",
    "Compression",
    "CompressionName",
    "FseqFormatError",
    "FseqHeader",
    "FseqTruncated",
    "FseqWriteError",
    "SparseRange",
    "VariableHeader",
    "pack_header",
    "read_data_offset",
    "unpack_header",
]

MAGIC = b"PSEQ"  # openFSEQFile: bytes 0-3; writers emit 'P','S','E','Q'
_READ_MAGICS = (b"PSEQ", b"FSEQ")  # readers also accept 'F'; 'E' (ESEQ) is a different layout
V1_HEADER_SIZE = 28  # V1FSEQ_HEADER_SIZE
V2_HEADER_SIZE = 32  # V2FSEQ_HEADER_SIZE
BLOCK_ENTRY_SIZE = 8  # V2FSEQ_COMPRESSION_BLOCK_SIZE: uint32 firstFrame + uint32 length
SPARSE_RANGE_SIZE = 6  # V2FSEQ_SPARSE_RANGE_SIZE: uint24 startChannel + uint24 channelCount
VARIABLE_HEADER_SIZE = 4  # FSEQ_VARIABLE_HEADER_SIZE: uint16 length (incl. these 4) + code[2]
MAX_BLOCKS_MINOR0 = 255  # header[21] only
MAX_BLOCKS_EXTENDED = 4095  # minor >= 1: header[20] high nibble holds bits 8-11
_UINT16, _UINT24, _UINT32, _UINT64 = 0xFFFF, 0xFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF_FFFF_FFFF

# (field, offset, size) of the fixed headers; each line cites FSEQFile.cpp writeHeader().
_V2_FIELDS: tuple[tuple[str, int, int], ...] = (
    ("identifier", 0, 4),  # 'PSEQ'
    ("channel_data_offset", 4, 2),  # roundTo4(header_length + variable headers)
    ("minor_version", 6, 1),  # 0; 1 = 12-bit block count; 2 = 'ED' extended data
    ("major_version", 7, 1),  # 2
    ("header_length", 8, 2),  # 32 + 8*blocks + 6*ranges: where variable headers start
    ("channel_count", 10, 4),  # bytes per stored frame (sum of sparse ranges if any)
    ("frame_count", 14, 4),
    ("step_ms", 18, 1),  # frame period in ms, 25 = 40 fps, 50 = 20 fps
    ("flags", 19, 1),  # reserved, 0
    ("compression", 20, 1),  # low nibble type; high nibble block count bits 8-11
    ("block_count", 21, 1),  # block count bits 0-7 (reserved index slots)
    ("sparse_range_count", 22, 1),  # 0 = full frame from channel 0
    ("flags2", 23, 1),  # reserved, 0
    ("unique_id", 24, 8),  # FPP: gettimeofday() µs; ours: content digest
)
_V1_FIELDS: tuple[tuple[str, int, int], ...] = (
    *_V2_FIELDS[:9],  # identifier .. flags share v2 offsets (V1FSEQFile::writeHeader)
    ("universe_count", 20, 2),  # ignored by readers
    ("universe_size", 22, 2),  # ignored by readers
    ("gamma", 24, 1),  # 1
    ("color_encoding", 25, 1),  # 2
    ("reserved", 26, 2),
)
_V2_STRUCT = struct.Struct("<4sHBBHIIBBBBBBQ")  # the 32 bytes of _V2_FIELDS, in order
_V1_STRUCT = struct.Struct("<4sHBBHIIBB")  # the first 20 bytes of _V1_FIELDS
_U16 = struct.Struct("<H")
_BLOCK = struct.Struct("<II")

CompressionName = Literal["none", "zstd", "zlib"]


class Compression(enum.IntEnum):
    """Offset 20, low nibble (`switch (header[20] & 0xF)` in the V2FSEQFile reader)."""

    NONE = 0
    ZSTD = 1
    ZLIB = 2

    @property
    def label(self) -> CompressionName:
        return cast("CompressionName", self.name.lower())


class FseqFormatError(RemoteProtocolError):
    """Bytes that are not a valid FSEQ file; the message names field, value and offset."""

    default_code = "F103"

    def __init__(
        self,
        message: str,
        *,
        offset: int | None = None,
        path: str | None = None,
        code: str | None = None,
    ):
        self.message = message
        self.offset = offset
        self.path = path
        self.code = code or self.default_code
        super().__init__(f"{path}: {message}" if path else message)

    def located(self, path: str) -> FseqFormatError:
        """The same error, prefixed with the file it came from."""
        return type(self)(self.message, offset=self.offset, path=path, code=self.code)

    def diagnostic(self) -> str:
        """`PATH: error[F1xx]: message`, the form every citypulse diagnostic takes."""
        return f"{self.path or '<bytes>'}: error[{self.code}]: {self.message}"


class FseqTruncated(FseqFormatError, Truncated):  # noqa: N818 - mirrors errors.Truncated
    """The input ends before the header or the channel data it promises."""

    default_code = "F102"


class FseqWriteError(LocalProtocolError):
    """We were asked to write something FSEQ cannot hold (or a wrong number of frames)."""


def _check_uint(name: str, value: int, maximum: int, minimum: int = 0) -> None:
    if not minimum <= value <= maximum:
        msg = f"{name}={value!r} out of range {minimum}..{maximum}"
        raise ValueError(msg)


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockEntry:
    """One compression block index slot, at offset 32 + 8*i."""

    first_frame: int  # uint32: first frame stored in the block
    length: int  # uint32: compressed byte length; 0 = reserved, unused slot

    def __post_init__(self) -> None:
        _check_uint("first_frame", self.first_frame, _UINT32)
        _check_uint("length", self.length, _UINT32)


@dataclass(frozen=True, slots=True, kw_only=True)
class SparseRange:
    """One sparse range, after the block index: which channels a stored frame holds."""

    start_channel: int  # uint24, 0-based
    channel_count: int  # uint24

    def __post_init__(self) -> None:
        _check_uint("start_channel", self.start_channel, _UINT24)
        _check_uint("channel_count", self.channel_count, _UINT24)


@dataclass(frozen=True, slots=True, kw_only=True)
class VariableHeader:
    """`uint16 length, char code[2], data`; FPP text headers ('sp', 'mf') end in NUL."""

    code: str  # two latin-1 characters, e.g. 'sp' sequence producer, 'mf' media file
    data: bytes

    def __post_init__(self) -> None:
        if len(self.code) != 2 or any(ord(c) > 0xFF for c in self.code):
            msg = f"variable header code={self.code!r} must be 2 latin-1 characters"
            raise ValueError(msg)
        _check_uint(f"variable header {self.code!r} length", len(self.data), _UINT16 - 4)


def _round_to_4(n: int) -> int:
    return (n + 3) & ~3  # FSEQFile.cpp roundTo4


@dataclass(frozen=True, slots=True, kw_only=True)
class FseqHeader:
    """Everything before the channel data. `channel_data_offset=0` means "compute it"."""

    channel_count: int  # @10 uint32
    frame_count: int  # @14 uint32
    step_ms: int  # @18 uint8
    compression: Compression = Compression.NONE  # @20 low nibble
    block_index: tuple[BlockEntry, ...] = ()  # @32, every reserved slot
    sparse_ranges: tuple[SparseRange, ...] = ()  # @32+8B
    variable_headers: tuple[VariableHeader, ...] = ()  # @header_length
    unique_id: int = 0  # @24 uint64
    major_version: int = 2  # @7
    minor_version: int = 0  # @6
    channel_data_offset: int = 0  # @4 uint16

    def __post_init__(self) -> None:
        _check_uint("channel_count", self.channel_count, _UINT32, 1)
        _check_uint("frame_count", self.frame_count, _UINT32)
        _check_uint("step_ms", self.step_ms, 0xFF, 1)
        _check_uint("unique_id", self.unique_id, _UINT64)
        _check_uint("minor_version", self.minor_version, 0xFF)
        _check_uint("block count", len(self.block_index), MAX_BLOCKS_EXTENDED)
        _check_uint("sparse range count", len(self.sparse_ranges), 0xFF)
        if self.major_version not in (1, 2):
            msg = f"major_version={self.major_version!r} not one of 1, 2"
            raise ValueError(msg)
        if self.major_version == 1 and (self.compression or self.block_index or self.sparse_ranges):
            msg = "FSEQ v1 has no compression, block index or sparse ranges"
            raise ValueError(msg)
        used = self.header_length + sum(4 + len(v.data) for v in self.variable_headers)
        if _round_to_4(used) > _UINT16:
            msg = (
                f"header needs {_round_to_4(used)} bytes but channel_data_offset is a uint16"
                " (max 65535); shrink the variable headers"
            )
            raise FseqWriteError(msg)
        if self.channel_data_offset == 0:  # writeHeader: roundTo4 "for better memory alignment"
            object.__setattr__(self, "channel_data_offset", _round_to_4(used))
        _check_uint("channel_data_offset", self.channel_data_offset, _UINT16, used)

    @property
    def header_length(self) -> int:
        """Offset 8: where the variable headers start."""
        if self.major_version == 1:
            return V1_HEADER_SIZE
        blocks, ranges = len(self.block_index), len(self.sparse_ranges)
        return V2_HEADER_SIZE + BLOCK_ENTRY_SIZE * blocks + SPARSE_RANGE_SIZE * ranges


def pack_header(header: FseqHeader) -> bytes:
    """Encode a v2 header, block index, sparse ranges and variable headers, zero-padded."""
    if header.major_version != 2:
        msg = f"major_version={header.major_version} cannot be written; only FSEQ v2"
        raise FseqWriteError(msg)
    blocks = len(header.block_index)
    if header.minor_version == 0 and blocks > MAX_BLOCKS_MINOR0:
        msg = f"block count={blocks} out of range 0..255 for minor_version=0"
        raise FseqWriteError(msg)
    out = bytearray(header.channel_data_offset)
    _V2_STRUCT.pack_into(
        out,
        0,
        MAGIC,
        header.channel_data_offset,
        header.minor_version,
        header.major_version,
        header.header_length,
        header.channel_count,
        header.frame_count,
        header.step_ms,
        0,  # flags
        ((blocks >> 4) & 0xF0) | header.compression,  # xLights: ((maxBlocks >> 4) & 0xF0) | type
        blocks & 0xFF,
        len(header.sparse_ranges),
        0,  # flags
        header.unique_id,
    )
    pos = V2_HEADER_SIZE
    for entry in header.block_index:
        _BLOCK.pack_into(out, pos, entry.first_frame, entry.length)
        pos += BLOCK_ENTRY_SIZE
    for rng in header.sparse_ranges:
        out[pos : pos + 3] = rng.start_channel.to_bytes(3, "little")
        out[pos + 3 : pos + 6] = rng.channel_count.to_bytes(3, "little")
        pos += SPARSE_RANGE_SIZE
    for var in header.variable_headers:
        _U16.pack_into(out, pos, VARIABLE_HEADER_SIZE + len(var.data))
        out[pos + 2 : pos + 4] = var.code.encode("latin-1")
        out[pos + 4 : pos + 4 + len(var.data)] = var.data
        pos += VARIABLE_HEADER_SIZE + len(var.data)
    return bytes(out)  # bytes pos..channel_data_offset stay zero: the roundTo4 padding


def _need(data: bytes, end: int, fields: tuple[tuple[str, int, int], ...]) -> None:
    """Raise `FseqTruncated` naming the fixed-header field that `data` cuts short."""
    if len(data) >= end:
        return
    for name, offset, size in fields:
        if offset + size > len(data):
            msg = f"input ends at byte {len(data)} inside header field {name} (offset {offset})"
            raise FseqTruncated(msg, offset=offset)


def read_data_offset(data: bytes) -> int:
    """Return the header size (channel data offset) from the first 8 bytes of a file."""
    _need(data, 8, _V2_FIELDS)
    magic = data[:4]
    if magic not in _READ_MAGICS:
        detail = "; ESEQ effect sequences are not supported" if magic == b"ESEQ" else ""
        msg = f"header field identifier={magic!r} at offset 0 not one of b'PSEQ', b'FSEQ'"
        raise FseqFormatError(msg + detail, offset=0, code="F101")
    major = data[7]
    if major not in (1, 2):
        msg = f"header field major_version={major} at offset 7 not supported (1 or 2)"
        raise FseqFormatError(msg, offset=7, code="F101")
    offset: int = _U16.unpack_from(data, 4)[0]
    fixed = V1_HEADER_SIZE if major == 1 else V2_HEADER_SIZE
    if offset < fixed:
        msg = f"header field channel_data_offset={offset} at offset 4 is inside the fixed header"
        raise FseqFormatError(msg, offset=4)
    return offset


def unpack_header(data: bytes) -> FseqHeader:
    """Decode the header region `data[:channel_data_offset]` of a v1 or v2 file.

    Raises:
        FseqTruncated: `data` ends inside the fixed header or before the channel data.
        FseqFormatError: a field holds a value the format does not allow.
    """
    offset = read_data_offset(data)
    if data[7] == 1:
        return _unpack_v1(data, offset)
    _need(data, V2_HEADER_SIZE, _V2_FIELDS)
    (_, _, minor, major, length, channels, frames, step, _, comp, blocks_lo, ranges, _, uid) = (
        _V2_STRUCT.unpack_from(data)
    )
    _check_counts(channels, step)
    if (comp & 0x0F) not in tuple(Compression):
        msg = f"header field compression={comp & 0x0F} at offset 20 not one of 0, 1, 2"
        raise FseqFormatError(msg, offset=20)
    blocks = ((comp & 0xF0) << 4) | blocks_lo  # xLights reader: ((b20 & 0xF0) << 4) | b21
    end = V2_HEADER_SIZE + BLOCK_ENTRY_SIZE * blocks + SPARSE_RANGE_SIZE * ranges
    if end > offset:
        msg = f"{blocks} blocks and {ranges} ranges end at {end}, past channel_data_offset (@4)"
        raise FseqFormatError(msg, offset=4)
    if length not in (end, offset):  # FPP checks; its 2019-era writers stored offset here
        msg = f"header field header_length={length} at offset 8, expected {end} or {offset}"
        raise FseqFormatError(msg, offset=8)
    _need_region(data, offset)
    index = tuple(
        BlockEntry(first_frame=f, length=n)
        for f, n in _BLOCK.iter_unpack(data[V2_HEADER_SIZE : V2_HEADER_SIZE + 8 * blocks])
    )
    pos = V2_HEADER_SIZE + 8 * blocks
    sparse = tuple(
        SparseRange(
            start_channel=int.from_bytes(data[p : p + 3], "little"),
            channel_count=int.from_bytes(data[p + 3 : p + 6], "little"),
        )
        for p in range(pos, end, SPARSE_RANGE_SIZE)
    )
    if sparse and (covered := sum(r.channel_count for r in sparse)) != channels:
        msg = f"sparse ranges at offset {pos} cover {covered} != channel_count={channels} (@10)"
        raise FseqFormatError(msg, offset=10)
    return FseqHeader(
        channel_count=channels,
        frame_count=frames,
        step_ms=step,
        compression=Compression(comp & 0x0F),
        block_index=index,
        sparse_ranges=sparse,
        variable_headers=_unpack_variables(data, end, offset),
        unique_id=uid,
        major_version=major,
        minor_version=minor,
        channel_data_offset=offset,
    )


def _unpack_v1(data: bytes, offset: int) -> FseqHeader:
    _need(data, V1_HEADER_SIZE, _V1_FIELDS)
    (_, _, minor, major, _, channels, frames, step, _) = _V1_STRUCT.unpack_from(data)
    _check_counts(channels, step)
    _need_region(data, offset)
    return FseqHeader(
        channel_count=channels,
        frame_count=frames,
        step_ms=step,
        variable_headers=_unpack_variables(data, V1_HEADER_SIZE, offset),
        major_version=major,
        minor_version=minor,
        channel_data_offset=offset,
    )


def _check_counts(channels: int, step: int) -> None:
    if channels == 0:
        msg = "header field channel_count=0 at offset 10 out of range 1..4294967295"
        raise FseqFormatError(msg, offset=10)
    if step == 0:
        msg = "header field step_ms=0 at offset 18 out of range 1..255"
        raise FseqFormatError(msg, offset=18)


def _need_region(data: bytes, offset: int) -> None:
    if len(data) < offset:
        msg = f"input ends at byte {len(data)} before channel_data_offset={offset} (offset 4)"
        raise FseqTruncated(msg, offset=len(data))


def _unpack_variables(data: bytes, start: int, end: int) -> tuple[VariableHeader, ...]:
    """Parse `uint16 length, code[2], data` records up to the channel data offset."""
    found: list[VariableHeader] = []
    pos = start
    while end - pos >= VARIABLE_HEADER_SIZE:
        length: int = _U16.unpack_from(data, pos)[0]
        if length == 0:  # parseVariableHeaders: 0 = zero padding, skip 4 bytes
            pos += VARIABLE_HEADER_SIZE
            continue
        code = data[pos + 2 : pos + 4].decode("latin-1")
        if length < VARIABLE_HEADER_SIZE or pos + length > end:
            msg = f"variable header {code!r} at offset {pos} length={length} outside 4..{end - pos}"
            raise FseqFormatError(msg, offset=pos)
        found.append(VariableHeader(code=code, data=bytes(data[pos + 4 : pos + length])))
        pos += length
    return tuple(found)
