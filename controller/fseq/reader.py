"""FSEQ reader: header info, random frame access and block-by-block streaming.

Strategy:
- `open()` reads and checks the whole header region, then checks that the file is long
  enough for the channel data the header promises; defects are `FseqFormatError`s that
  carry the path, the field and the byte offset.
- A compressed block is read and decompressed once and cached; only the current block is
  kept, so iterating a show holds one block in memory. Uncompressed data (v2 type 0 and v1)
  is read in chunks of about 1 MiB.
- Memory is bounded by the header, never by the compressed bytes: a block decompresses to
  exactly `frame_count x channel_count` bytes (its frames, from the block index), and the
  decompressor stops as soon as it would write more (a zstd or zlib bomb costs at most that
  bound plus one 64 KiB chunk). A block, or an uncompressed frame, that the header makes
  larger than `max_block_bytes` (256 MiB by default) is refused before reading it (F106).
- Frames are read-only uint8 views of the cached block; copy one to modify it.
"""

from __future__ import annotations

import bisect
import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, BinaryIO, Self, TypeVar, cast

import numpy as np
import zstandard
from numpy.typing import NDArray

from controller.fseq.format import (
    BLOCK_ENTRY_SIZE,
    V2_HEADER_SIZE,
    Compression,
    CompressionName,
    FseqFormatError,
    FseqHeader,
    FseqTruncated,
    SparseRange,
    read_data_offset,
    unpack_header,
)

__all__ = ["BlockSpan", "FseqReader", "data_end", "locate_blocks"]

_CHUNK_BYTES = 1 << 20  # uncompressed streaming chunk
MAX_BLOCK_BYTES = 256 << 20  # default limit on one decompressed block (or one raw frame)
_ZSTD_WRITE = 64 << 10  # zstd output arrives in chunks of this size
_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockSpan:
    """A used compression block located in the file."""

    slot: int  # position in the block index
    first_frame: int
    frame_count: int
    offset: int  # absolute file offset of the compressed bytes
    length: int  # compressed byte length


def locate_blocks(header: FseqHeader) -> tuple[BlockSpan, ...]:
    """Turn the block index into located blocks; () for uncompressed files.

    Raises:
        FseqFormatError: the used entries do not start at frame 0 and increase strictly
            below frame_count (FPP logs "Block table is corrupt" and guesses; we refuse).
    """
    if header.compression is Compression.NONE:
        return ()
    used = [(slot, e) for slot, e in enumerate(header.block_index) if e.length > 0]
    if header.frame_count and not used:
        msg = (
            f"compressed file with frame_count={header.frame_count}"
            " has no used block index entries at offset 32"
        )
        raise FseqFormatError(msg, offset=V2_HEADER_SIZE, code="F104")
    spans: list[BlockSpan] = []
    offset, previous = header.channel_data_offset, -1
    for k, (slot, entry) in enumerate(used):
        where = V2_HEADER_SIZE + BLOCK_ENTRY_SIZE * slot
        lowest = previous + 1 if k else 0
        highest = header.frame_count - 1 if k else min(0, header.frame_count - 1)
        if not lowest <= entry.first_frame <= highest:
            allowed = f"{lowest}..{highest}" if k else "0"
            msg = (
                f"block index entry {slot} at offset {where} has first_frame={entry.first_frame},"
                f" expected {allowed} (frame_count={header.frame_count})"
            )
            raise FseqFormatError(msg, offset=where, code="F104")
        following = used[k + 1][1].first_frame if k + 1 < len(used) else header.frame_count
        spans.append(
            BlockSpan(
                slot=slot,
                first_frame=entry.first_frame,
                frame_count=following - entry.first_frame,
                offset=offset,
                length=entry.length,
            )
        )
        offset += entry.length
        previous = entry.first_frame
    return tuple(spans)


def data_end(header: FseqHeader) -> int:
    """The file offset where the channel data ends (v2.2 'ED' data may follow)."""
    if header.compression is Compression.NONE:
        return header.channel_data_offset + header.channel_count * header.frame_count
    return header.channel_data_offset + sum(e.length for e in header.block_index)


class FseqReader:
    """An open FSEQ file. Create with `FseqReader.open(path)`; use as a context manager."""

    def __init__(
        self,
        *,
        file: BinaryIO,
        path: str,
        header: FseqHeader,
        file_size: int,
        max_block_bytes: int = MAX_BLOCK_BYTES,
    ) -> None:
        self._file = file
        self._path = path
        self._header = header
        self._file_size = file_size
        self._max_block_bytes = max_block_bytes
        self._blocks = _located(path, locate_blocks, header)
        self._first_frames = [b.first_frame for b in self._blocks]
        self._cache: tuple[int, NDArray[np.uint8]] | None = None

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, max_block_bytes: int = MAX_BLOCK_BYTES) -> Self:
        """Open `path` and validate its header and length.

        Args:
            path: the file.
            max_block_bytes: the most memory one decompressed block (or one uncompressed
                frame) may take; a larger one is refused when it is read (F106).

        Raises:
            FseqFormatError: not an FSEQ v1/v2 file, or a header field is invalid.
            FseqTruncated: the file ends inside the header or the channel data.
        """
        name = os.fspath(path)
        file = Path(name).open("rb")  # noqa: SIM115 - owned by the reader, closed in close()
        try:
            size = os.fstat(file.fileno()).st_size
            offset = _located(name, read_data_offset, file.read(8))
            file.seek(0)
            header = _located(name, unpack_header, file.read(offset))
            end = data_end(header)
            if size < end:
                msg = (
                    f"file ends at byte {size} but the header promises channel data up to"
                    f" byte {end} (channel_data_offset={header.channel_data_offset})"
                )
                raise FseqTruncated(msg, offset=size, path=name)
            return cls(
                file=file, path=name, header=header, file_size=size, max_block_bytes=max_block_bytes
            )
        except BaseException:
            file.close()
            raise

    @property
    def path(self) -> str:
        return self._path

    @property
    def header(self) -> FseqHeader:
        return self._header

    @property
    def version(self) -> tuple[int, int]:
        """(major, minor) from offsets 7 and 6."""
        return (self._header.major_version, self._header.minor_version)

    @property
    def channel_count(self) -> int:
        """Bytes per stored frame (the sum of the sparse ranges, if any)."""
        return self._header.channel_count

    @property
    def frame_count(self) -> int:
        return self._header.frame_count

    @property
    def step_ms(self) -> int:
        return self._header.step_ms

    @property
    def compression(self) -> CompressionName:
        return self._header.compression.label

    @property
    def blocks(self) -> tuple[BlockSpan, ...]:
        """The used compression blocks, located in the file; () if uncompressed."""
        return self._blocks

    @property
    def sparse_ranges(self) -> tuple[SparseRange, ...]:
        return self._header.sparse_ranges

    @property
    def variable_headers(self) -> dict[str, bytes]:
        """Variable headers by code (a repeated code keeps its last value)."""
        return {v.code: v.data for v in self._header.variable_headers}

    @property
    def file_size(self) -> int:
        return self._file_size

    def frame(self, index: int) -> NDArray[np.uint8]:
        """Frame `index` as a read-only uint8 array of `channel_count` bytes."""
        if not 0 <= index < self._header.frame_count:
            msg = f"frame index={index!r} out of range 0..{self._header.frame_count - 1}"
            raise IndexError(msg)
        if self._header.compression is Compression.NONE:
            frames, row = self._raw_frames(index, 1), 0
        else:
            block = bisect.bisect_right(self._first_frames, index) - 1
            frames, row = self._block(block), index - self._first_frames[block]
        result: NDArray[np.uint8] = frames[row]
        return result

    def __iter__(self) -> Iterator[NDArray[np.uint8]]:
        for _, chunk in self.iter_chunks():
            yield from chunk

    def __len__(self) -> int:
        return self._header.frame_count

    def iter_chunks(self) -> Iterator[tuple[int, NDArray[np.uint8]]]:
        """Yield `(first_frame, frames)` with `frames` shaped (n, channel_count), in order."""
        if self._header.compression is Compression.NONE:
            step = max(1, _CHUNK_BYTES // self._header.channel_count)
            for first in range(0, self._header.frame_count, step):
                yield first, self._raw_frames(first, min(step, self._header.frame_count - first))
            return
        for k, span in enumerate(self._blocks):
            yield span.first_frame, self._block(k)

    def close(self) -> None:
        self._cache = None
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _read(self, offset: int, size: int, what: str) -> bytes:
        self._file.seek(offset)
        data = self._file.read(size)
        if len(data) != size:  # the file shrank after open()
            msg = f"{what} at offset {offset} needs {size} bytes, file has {len(data)}"
            raise FseqTruncated(msg, offset=offset, path=self._path)
        return data

    def _raw_frames(self, first: int, count: int) -> NDArray[np.uint8]:
        width = self._header.channel_count
        self._within_limit(width, f"frame {first} ({width} channels)")
        offset = self._header.channel_data_offset + first * width
        data = self._read(offset, count * width, f"frames {first}..{first + count - 1}")
        return np.frombuffer(data, dtype=np.uint8).reshape(count, width)

    def _block(self, k: int) -> NDArray[np.uint8]:
        if self._cache is not None and self._cache[0] == k:
            return self._cache[1]
        self._cache = None  # drop the previous block before allocating the next one
        span = self._blocks[k]
        channels = self._header.channel_count
        expected = span.frame_count * channels
        where = f"block {span.slot} (frames {span.first_frame}.., file offset {span.offset})"
        shape = f"{span.frame_count} frames x {channels} channels"
        self._within_limit(expected, f"{where} holds {shape} = {expected} bytes,")
        raw = self._read(span.offset, span.length, where)
        data: bytes | bytearray
        try:
            if self._header.compression is Compression.ZSTD:
                data = _unzstd(raw, expected)
            else:
                data = _unzlib(raw, expected)
        except _Overflow as exc:
            msg = (
                f"{where}: {self.compression} data decompresses to more than the {expected}"
                f" bytes the header gives the block ({shape}); refused there"
            )
            raise FseqFormatError(msg, offset=span.offset, path=self._path, code="F105") from exc
        except (zstandard.ZstdError, zlib.error, EOFError) as exc:
            msg = f"{where}: {self.compression} data is corrupt: {exc}"
            raise FseqFormatError(msg, offset=span.offset, path=self._path, code="F105") from exc
        if len(data) != expected:
            msg = f"{where} decompressed to {len(data)} bytes, expected {expected} = {shape}"
            raise FseqFormatError(msg, offset=span.offset, path=self._path, code="F105")
        frames = np.frombuffer(data, dtype=np.uint8).reshape(span.frame_count, channels)
        frames.flags.writeable = False
        self._cache = (k, frames)
        return frames

    def _within_limit(self, size: int, what: str) -> None:
        if size > self._max_block_bytes:
            msg = f"{what} more than the reader's limit of {self._max_block_bytes} bytes"
            raise FseqFormatError(msg, path=self._path, code="F106")


class _Overflow(Exception):  # noqa: N818 - internal signal, never leaves this module
    """A block decompresses to more bytes than its header allows."""


class _BoundedSink:
    """The file zstd's stream writer writes into: keeps at most `limit` bytes."""

    def __init__(self, limit: int) -> None:
        self.data = bytearray()
        self.limit = limit

    def write(self, chunk: bytes) -> int:
        if len(self.data) + len(chunk) > self.limit:
            raise _Overflow
        self.data += chunk
        return len(chunk)


def _unzstd(raw: bytes, limit: int) -> bytearray:
    """Decompress one or more concatenated zstd frames (FPP's reader accepts both).

    Output streams out in 64 KiB chunks and stops past `limit` (a frame's declared content
    size is never used to allocate). A frame cut short yields fewer bytes, which the caller's
    length check reports.

    Raises:
        _Overflow: the data holds more than `limit` bytes.
        zstandard.ZstdError: the data is not zstd.
    """
    sink = _BoundedSink(limit)
    writer = zstandard.ZstdDecompressor().stream_writer(
        cast("IO[bytes]", sink),  # the writer only calls write()
        write_size=_ZSTD_WRITE,
        closefd=False,
    )
    writer.write(raw)
    return sink.data


def _unzlib(raw: bytes, limit: int) -> bytes:
    """Decompress one zlib stream to at most `limit` bytes.

    Raises:
        _Overflow: the stream holds more than `limit` bytes.
        EOFError: the stream ends early.
        zlib.error: the data is not zlib.
    """
    dobj = zlib.decompressobj()
    data = dobj.decompress(raw, limit + 1)  # zlib grows its output buffer up to this bound
    if len(data) > limit:
        raise _Overflow
    if not dobj.eof:
        msg = "zlib stream ends early"
        raise EOFError(msg)
    return data


def _located(path: str, parse: Callable[[_T], _R], arg: _T) -> _R:
    """Call a pure parser and re-raise its `FseqFormatError` prefixed with `path`."""
    try:
        return parse(arg)
    except FseqFormatError as exc:
        raise exc.located(path) from exc
