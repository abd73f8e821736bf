"""Compare two FSEQ files frame by frame (streaming, numpy), and summarise one file.

`diff_fseq` walks both files in lockstep, re-slicing their chunks so the two sides line up
whatever each file's block sizes are, and compares whole chunks at once. It holds one
block per file. Frames are compared over the frames and channels both files have; a
difference in frame or channel count shows up as a header difference.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypedDict

import numpy as np
from numpy.typing import NDArray

from controller.fseq.format import FseqHeader
from controller.fseq.reader import FseqReader, data_end

__all__ = [
    "ChannelDifference",
    "FieldDifference",
    "FseqDiff",
    "FseqInfo",
    "diff_fseq",
    "info_fseq",
]

_Frames = NDArray[np.uint8]


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldDifference:
    """A header field whose value differs; values are rendered for display."""

    field: str  # e.g. "step_ms", "variable_headers['cp']"
    a: str
    b: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelDifference:
    """One channel of the first differing frame."""

    channel: int  # 0-based slot in the stored frame
    a: int
    b: int
    delta: int  # b - a


@dataclass(frozen=True, slots=True, kw_only=True)
class FseqDiff:
    """What differs between file a and file b."""

    header_differences: tuple[FieldDifference, ...]
    frames_compared: int
    channels_compared: int
    first_differing_frame: int | None
    channels: tuple[ChannelDifference, ...]  # first differing frame, at most max_report
    differing_channel_count: int  # all differing channels in the first differing frame
    differing_frames: int
    max_abs_delta: int

    @property
    def headers_differ(self) -> bool:
        return bool(self.header_differences)

    @property
    def identical(self) -> bool:
        """Same header content (compression included, unique id excluded) and frames."""
        return not self.header_differences and self.differing_frames == 0


def diff_fseq(a: FseqReader, b: FseqReader, *, max_report: int = 20) -> FseqDiff:
    """Compare headers and every common frame of `a` and `b`.

    Args:
        a: the reference file.
        b: the file compared against it; deltas are `b - a`.
        max_report: how many channels of the first differing frame to list.
    """
    if max_report < 0:
        msg = f"max_report={max_report!r} out of range 0.."
        raise ValueError(msg)
    frames = min(a.frame_count, b.frame_count)
    channels = min(a.channel_count, b.channel_count)
    first: int | None = None
    reported: tuple[ChannelDifference, ...] = ()
    channel_total = differing = max_delta = 0
    for start, fa, fb in _paired_chunks(a, b, frames, channels):
        unequal = fa != fb
        rows = unequal.any(axis=1)
        count = int(np.count_nonzero(rows))
        if count == 0:
            continue
        differing += count
        deltas = fb[rows].astype(np.int16) - fa[rows].astype(np.int16)
        max_delta = max(max_delta, int(np.abs(deltas).max()))
        if first is None:
            row = int(np.argmax(rows))
            first = start + row
            cols = np.flatnonzero(unequal[row])
            channel_total = int(cols.size)
            reported = tuple(
                ChannelDifference(
                    channel=int(c), a=int(fa[row, c]), b=int(fb[row, c]), delta=int(deltas[0, c])
                )
                for c in cols[:max_report]
            )
    return FseqDiff(
        header_differences=_header_differences(a.header, b.header),
        frames_compared=frames,
        channels_compared=channels,
        first_differing_frame=first,
        channels=reported,
        differing_channel_count=channel_total,
        differing_frames=differing,
        max_abs_delta=max_delta,
    )


def _paired_chunks(
    a: FseqReader, b: FseqReader, frames: int, channels: int
) -> Iterator[tuple[int, _Frames, _Frames]]:
    """Yield `(first_frame, a_frames, b_frames)` of equal shape covering frames 0..frames."""
    chunks_a, chunks_b = a.iter_chunks(), b.iter_chunks()
    buf_a = buf_b = np.empty((0, channels), dtype=np.uint8)
    pos = 0
    while pos < frames:
        if not len(buf_a):
            buf_a = next(chunks_a)[1]
        if not len(buf_b):
            buf_b = next(chunks_b)[1]
        n = min(len(buf_a), len(buf_b), frames - pos)
        yield pos, buf_a[:n, :channels], buf_b[:n, :channels]
        buf_a, buf_b, pos = buf_a[n:], buf_b[n:], pos + n


def _header_differences(a: FseqHeader, b: FseqHeader) -> tuple[FieldDifference, ...]:
    """Content fields only: unique_id and the block index describe the encoding."""
    pairs: list[tuple[str, object, object]] = [
        ("version", (a.major_version, a.minor_version), (b.major_version, b.minor_version)),
        ("channel_count", a.channel_count, b.channel_count),
        ("frame_count", a.frame_count, b.frame_count),
        ("step_ms", a.step_ms, b.step_ms),
        ("compression", a.compression.label, b.compression.label),
        ("sparse_ranges", _ranges(a), _ranges(b)),
    ]
    vars_a = {v.code: v.data for v in a.variable_headers}
    vars_b = {v.code: v.data for v in b.variable_headers}
    for code in dict.fromkeys([*vars_a, *vars_b]):
        pairs.append((f"variable_headers[{code!r}]", vars_a.get(code), vars_b.get(code)))
    return tuple(
        FieldDifference(field=name, a=_show(va), b=_show(vb)) for name, va, vb in pairs if va != vb
    )


def _ranges(header: FseqHeader) -> list[tuple[int, int]]:
    return [(r.start_channel, r.channel_count) for r in header.sparse_ranges]


def _show(value: object, limit: int = 60) -> str:
    text = "<absent>" if value is None else repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


class FseqInfo(TypedDict):
    """`citypulse fseq info` summary; JSON-serialisable."""

    path: str
    version: str
    channel_count: int
    frame_count: int
    step_ms: int
    duration_s: float
    compression: str
    channel_data_offset: int
    block_slots: int
    blocks: int
    file_size: int
    raw_bytes: int
    compression_ratio: float
    unique_id: str
    sparse_ranges: list[list[int]]
    variable_headers: dict[str, str]


def info_fseq(reader: FseqReader) -> FseqInfo:
    """Summarise an open file's header (no frame data is read)."""
    header = reader.header
    raw = header.channel_count * header.frame_count
    stored = data_end(header) - header.channel_data_offset
    return {
        "path": reader.path,
        "version": f"{header.major_version}.{header.minor_version}",
        "channel_count": header.channel_count,
        "frame_count": header.frame_count,
        "step_ms": header.step_ms,
        "duration_s": header.frame_count * header.step_ms / 1000,
        "compression": header.compression.label,
        "channel_data_offset": header.channel_data_offset,
        "block_slots": len(header.block_index),
        "blocks": len(reader.blocks),
        "file_size": reader.file_size,
        "raw_bytes": raw,
        "compression_ratio": round(raw / stored, 3) if stored else 1.0,
        "unique_id": f"{header.unique_id:016x}",
        "sparse_ranges": [list(r) for r in _ranges(header)],
        "variable_headers": {v.code: _text(v.data) for v in header.variable_headers},
    }


def _text(data: bytes) -> str:
    """NUL-terminated UTF-8 (FPP's text headers) as text, anything else as its size."""
    if data.endswith(b"\0"):
        try:
            return data[:-1].decode("utf-8")
        except UnicodeDecodeError:
            pass
    return f"<{len(data)} bytes>"
