"""FSEQ v2 sequence files (xLights / FPP): streaming writer, reader, diff and info.

File I/O lives in `writer` and `reader`; header encoding in `format` is pure.
"""

from __future__ import annotations

from controller.fseq.diff import (
    ChannelDifference,
    FieldDifference,
    FseqDiff,
    FseqInfo,
    diff_fseq,
    info_fseq,
)
from controller.fseq.format import (
    BlockEntry,
    Compression,
    CompressionName,
    FseqFormatError,
    FseqHeader,
    FseqTruncated,
    FseqWriteError,
    SparseRange,
    VariableHeader,
    pack_header,
    unpack_header,
)
from controller.fseq.reader import BlockSpan, FseqReader
from controller.fseq.writer import BlockPlan, FrameLike, FseqWriter, plan_blocks

__all__ = [
    "BlockEntry",
    "BlockPlan",
    "BlockSpan",
    "ChannelDifference",
    "Compression",
    "CompressionName",
    "FieldDifference",
    "FrameLike",
    "FseqDiff",
    "FseqFormatError",
    "FseqHeader",
    "FseqInfo",
    "FseqReader",
    "FseqTruncated",
    "FseqWriteError",
    "FseqWriter",
    "SparseRange",
    "VariableHeader",
    "diff_fseq",
    "info_fseq",
    "pack_header",
    "plan_blocks",
    "unpack_header",
]
