"""Streaming FSEQ v2 writer: frames in, block-by-block compression, atomic rename on close.

Strategy:
- The block layout is planned before the first frame, exactly as FPP's
  `V2CompressedHandler::computeMaxBlocks` + `addFrame` do, so the block index can be
  reserved in the header up front and back-filled on close.
- Each frame goes straight into a streaming compressor; a block is one independent zstd
  frame or zlib stream (`ZSTD_e_end` / `deflate(Z_FINISH)` per block). Memory is one frame
  plus compressor state, however long the show: nothing is buffered per show.
- Bytes go to a hidden temporary sibling; `close()` back-fills the header, fsyncs and
  `os.replace`s it onto the target. Any failure removes the temporary file, so the target
  path only ever holds a complete file (or whatever was there before). The target is a
  new or existing regular file, reached through symlinks; anything else is refused.
- Output is deterministic: no timestamps. The unique id (offset 24, FPP: gettimeofday µs)
  is instead BLAKE2b-64 over the channel data followed by the final header with a zero
  id, stored little-endian: same frames and headers, same id and same bytes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import os
import zlib
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Protocol, Self

import numpy as np
import zstandard
from numpy.typing import NDArray

from controller.files import NotRegularFileError, create_sibling, regular_target
from controller.fseq.format import (
    MAX_BLOCKS_MINOR0,
    BlockEntry,
    Compression,
    CompressionName,
    FseqHeader,
    FseqWriteError,
    VariableHeader,
    pack_header,
)

__all__ = ["BlockPlan", "FrameLike", "FseqWriter", "plan_blocks", "producer"]

FrameLike = NDArray[np.uint8] | bytes | bytearray | memoryview
FIRST_BLOCK_FRAMES = 10  # addFrame: `m_curBlock == 0 && m_curFrameInBlock == 10`
TARGET_BLOCK_BYTES = 64 * 1024  # V2FSEQ_OUT_COMPRESSION_BLOCK_SIZE: "at least 64K per block"
_DEFAULT_LEVEL = {Compression.ZSTD: 2, Compression.ZLIB: 3}  # xLights defaults (-99 -> 2)
# FPP accepts zstd -25..25 but libzstd (and python-zstandard) stops at 22; zlib is 0..9.
_LEVEL_RANGE = {Compression.ZSTD: (-25, 22), Compression.ZLIB: (0, 9)}
_ZSTD_FIRST_BLOCK_LEVEL = -10  # addFrame: frame 0 "needs to be grabbed as fast as possible"
_UNUSED_SLOT = BlockEntry(first_frame=0, length=0)  # reserved; finalize() leaves spares zero


def producer() -> bytes:
    """The default 'sp' (sequence producer) header: b"citypulse <version>\\0"."""
    try:
        version = importlib.metadata.version("citypulse")
    except importlib.metadata.PackageNotFoundError:
        version = "0+unknown"
    return f"citypulse {version}\0".encode()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class BlockPlan:
    """Reserved index slots and the (first_frame, frame_count) of every block."""

    frames_per_block: int
    slots: int
    spans: tuple[tuple[int, int], ...]


def plan_blocks(
    *, channel_count: int, frame_count: int, frames_per_block: int | None = None
) -> BlockPlan:
    """Plan compression blocks as FPP does, or with a fixed `frames_per_block`.

    FPP (`computeMaxBlocks`): aim for 64 KiB of raw data per block, clamp the block count
    to 1..255, take `frames_per_block = max(10, frames // blocks)`, grow it until
    `frames // frames_per_block + 1 <= 255`, then reserve 2 spare slots (1 at 254) because
    the first block is short. A block closes after 10 frames if it is the first, or after
    `frames_per_block` frames while a later slot is free; the last slot takes the rest.
    """
    if frames_per_block is None:
        blocks = min(MAX_BLOCKS_MINOR0, max(1, channel_count * frame_count // TARGET_BLOCK_BYTES))
        per_block = max(FIRST_BLOCK_FRAMES, frame_count // blocks)
        while frame_count // per_block + 1 > MAX_BLOCKS_MINOR0:
            per_block += 1
        slots = frame_count // per_block + 1
        slots += 2 if slots < MAX_BLOCKS_MINOR0 - 1 else int(slots < MAX_BLOCKS_MINOR0)
    else:
        if frames_per_block < 1:
            msg = f"frames_per_block={frames_per_block!r} out of range 1..{frame_count}"
            raise ValueError(msg)
        first = min(FIRST_BLOCK_FRAMES, frames_per_block, frame_count)
        needed = int(frame_count > 0) - (-(frame_count - first) // frames_per_block)
        if needed > MAX_BLOCKS_MINOR0:
            msg = (
                f"frames_per_block={frames_per_block} needs {needed} blocks for"
                f" frame_count={frame_count}; FSEQ 2.0 allows at most {MAX_BLOCKS_MINOR0}"
            )
            raise ValueError(msg)
        per_block, slots = frames_per_block, max(1, needed)  # no spares: the count is exact
    spans: list[tuple[int, int]] = []
    start = 0
    while start < frame_count:
        last_slot = len(spans) + 1 >= slots
        size = frame_count if last_slot else per_block
        if not spans:
            size = min(size, FIRST_BLOCK_FRAMES)
        size = min(size, frame_count - start)
        spans.append((start, size))
        start += size
    return BlockPlan(frames_per_block=per_block, slots=slots, spans=tuple(spans))


class _Compressor(Protocol):
    def compress(self, data: bytes | memoryview, /) -> bytes: ...
    def flush(self) -> bytes: ...


def _compressor(compression: Compression, level: int, size: int) -> _Compressor:
    if compression is Compression.ZSTD:
        # One zstd frame per block with its content size, like ZSTD_e_end per block.
        return zstandard.ZstdCompressor(level=level).compressobj(size=size)
    return zlib.compressobj(level)  # zlib wrapper, as deflateInit (not raw deflate, not gzip)


class FseqWriter:
    """Write an FSEQ v2 file frame by frame; use `FseqWriter.open(...)` as a context manager.

    On a clean exit the file appears at the target path; on an exception (or a wrong frame
    count) nothing appears there and the temporary file is removed.
    """

    def __init__(
        self,
        *,
        file: BinaryIO,
        temp_path: Path,
        path: Path,
        header: FseqHeader,
        plan: BlockPlan,
        level: int,
    ) -> None:
        self._file = file
        self._temp_path = temp_path
        self._path = path
        self._header = header
        self._plan = plan
        self._level = level
        self._lengths: list[int] = []
        self._compressor: _Compressor | None = None
        self._block_written = 0
        self._frames_written = 0
        self._digest = hashlib.blake2b(digest_size=8)
        self._done = False

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        channel_count: int,
        frame_count: int,
        step_ms: int,
        compression: CompressionName = "zstd",
        level: int | None = None,
        variable_headers: Mapping[str, bytes | str] | None = None,
        frames_per_block: int | None = None,
    ) -> Self:
        """Create the temporary file and write a header with a reserved block index.

        Args:
            path: where the finished file appears on a successful `close()`.
            channel_count: bytes per frame (1..2**32-1).
            frame_count: exactly how many frames `write_frame` will receive.
            step_ms: frame period in milliseconds (1..255), e.g. 25 for 40 fps.
            compression: "zstd", "zlib" or "none".
            level: compression level; default zstd 2 (range -25..22), zlib 3 (0..9).
                The first zstd block always uses -10 so FPP remotes start fast.
            variable_headers: extra 2-character-code headers, written after 'sp'. A `str`
                value is stored as NUL-terminated UTF-8 (FPP text convention); `bytes` are
                stored verbatim. Passing 'sp' replaces the default producer string.
            frames_per_block: fixed block size instead of FPP's policy (see `plan_blocks`).

        Raises:
            ValueError: an argument is out of range.
            FseqWriteError: the variable headers do not fit the 64 KiB header.
        """
        if compression not in ("none", "zstd", "zlib"):
            msg = f"compression={compression!r} not one of 'none', 'zstd', 'zlib'"
            raise ValueError(msg)
        kind = Compression[compression.upper()]
        lo, hi = _LEVEL_RANGE.get(kind, (0, 0))
        chosen = _DEFAULT_LEVEL.get(kind, 0) if level is None else level
        if kind is not Compression.NONE and not lo <= chosen <= hi:
            msg = f"level={level!r} out of range {lo}..{hi} for {compression}"
            raise ValueError(msg)
        header = FseqHeader(  # validates the counts before the plan uses them
            channel_count=channel_count,
            frame_count=frame_count,
            step_ms=step_ms,
            compression=kind,
            variable_headers=_variable_headers(variable_headers or {}),
        )
        plan = BlockPlan(frames_per_block=0, slots=0, spans=())  # type 0: no block index
        if kind is not Compression.NONE:
            plan = plan_blocks(
                channel_count=channel_count,
                frame_count=frame_count,
                frames_per_block=frames_per_block,
            )
            slots = (_UNUSED_SLOT,) * plan.slots  # reserved now, back-filled by close()
            header = dataclasses.replace(header, block_index=slots, channel_data_offset=0)
        target = _regular_target(Path(path))
        temp, file = create_sibling(target)
        try:
            file.write(pack_header(header))
        except BaseException:
            file.close()
            temp.unlink(missing_ok=True)
            raise
        return cls(file=file, temp_path=temp, path=target, header=header, plan=plan, level=chosen)

    @property
    def frames_written(self) -> int:
        return self._frames_written

    def write_frame(self, frame: FrameLike) -> None:
        """Append one frame of `channel_count` bytes (uint8 array or bytes-like)."""
        if self._done:
            msg = "write_frame() after close() or abort()"
            raise ValueError(msg)
        data = self._frame_bytes(frame)
        if self._frames_written >= self._header.frame_count:
            msg = f"frame {self._frames_written} exceeds frame_count={self._header.frame_count}"
            raise FseqWriteError(msg)
        self._frames_written += 1
        if self._header.compression is Compression.NONE:
            self._emit(data)
            return
        block = len(self._lengths)
        first_frame, size = self._plan.spans[block]
        if self._compressor is None:
            level = self._level
            if block == 0 and self._header.compression is Compression.ZSTD:
                level = _ZSTD_FIRST_BLOCK_LEVEL
            raw = size * self._header.channel_count
            self._compressor = _compressor(self._header.compression, level, raw)
        self._block_written += self._emit(self._compressor.compress(data))
        if self._frames_written == first_frame + size:
            self._block_written += self._emit(self._compressor.flush())
            self._lengths.append(self._block_written)
            self._compressor, self._block_written = None, 0

    def close(self) -> None:
        """Check the frame count, back-fill the block index, and publish the file.

        Raises:
            FseqWriteError: fewer frames were written than `frame_count` (nothing is
                published and the temporary file is removed).
        """
        if self._done:
            return
        try:
            if self._frames_written != self._header.frame_count:
                msg = (
                    f"wrote {self._frames_written} frames but frame_count="
                    f"{self._header.frame_count}; {self._path} was not written"
                )
                raise FseqWriteError(msg)
            self._file.seek(0)
            self._file.write(self._final_header())
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.replace(self._temp_path, self._path)
            self._done = True
        finally:
            self.abort()

    def abort(self) -> None:
        """Discard everything written so far; the target path is left untouched."""
        self._done = True
        self._file.close()
        self._temp_path.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def _frame_bytes(self, frame: FrameLike) -> memoryview:
        expected = self._header.channel_count
        if isinstance(frame, np.ndarray):
            if frame.dtype != np.uint8 or frame.shape != (expected,):
                msg = f"frame shape={frame.shape} dtype={frame.dtype} must be ({expected},) uint8"
                raise ValueError(msg)
            return np.ascontiguousarray(frame).data.cast("B")
        view = memoryview(frame).cast("B")
        if view.nbytes != expected:
            msg = f"frame length={view.nbytes} must equal channel_count={expected}"
            raise ValueError(msg)
        return view

    def _emit(self, chunk: bytes | memoryview) -> int:
        self._file.write(chunk)
        self._digest.update(chunk)
        return len(chunk)

    def _final_header(self) -> bytes:
        used = [
            BlockEntry(first_frame=first, length=length)
            for (first, _), length in zip(self._plan.spans, self._lengths, strict=True)
        ]
        unused = [_UNUSED_SLOT] * (len(self._header.block_index) - len(used))
        header = dataclasses.replace(self._header, block_index=(*used, *unused))
        self._digest.update(pack_header(header))  # unique_id is still 0 here
        uid = int.from_bytes(self._digest.digest(), "little")
        return pack_header(dataclasses.replace(header, unique_id=uid))


def _variable_headers(extra: Mapping[str, bytes | str]) -> tuple[VariableHeader, ...]:
    merged: dict[str, bytes | str] = {"sp": producer(), **extra}
    out: list[VariableHeader] = []
    for code, value in merged.items():
        if len(code) != 2 or not code.isascii() or not code.isprintable():
            msg = f"variable header code={code!r} must be 2 printable ASCII characters"
            raise ValueError(msg)
        if isinstance(value, str):
            if "\0" in value:
                msg = f"variable header {code!r} text contains NUL; pass bytes for binary data"
                raise ValueError(msg)
            value = value.encode() + b"\0"  # FPP reads text headers as C strings
        if not value:  # FPP's parser stops before a trailing 4-byte empty header
            msg = f"variable header {code!r} data is empty"
            raise ValueError(msg)
        out.append(VariableHeader(code=code, data=bytes(value)))
    return tuple(out)


def _regular_target(path: Path) -> Path:
    """`path` through its symlinks, if a regular file may appear there (new or replaced)."""
    try:
        return regular_target(path)
    except NotRegularFileError as exc:
        msg = (
            f"{path} is not a regular file; FSEQ files are written only to regular files"
            " (a new file or an existing one)"
        )
        raise FseqWriteError(msg) from exc
