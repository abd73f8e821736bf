"""Hostile FSEQ files through `citypulse fseq info|diff`: coded errors, bounded memory.

- Every defect prints `PATH: error[F1xx]: message` and exits 2, never a traceback.
- Decompression is bounded by what the header says a block holds (frames x channels):
  a zstd or zlib bomb is refused after at most that many bytes, and a block the header
  makes larger than the reader's limit is refused before any decompression.
- The 'cp' (citypulse) header is data: wrong types are a warning, and a show path in it is
  never opened (channels are named by fixture only with `--show`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.cli.app import main
from controller.fseq import BlockEntry, Compression, FseqHeader, FseqWriter, pack_header
from controller.fseq.reader import MAX_BLOCK_BYTES

VENUE_DIR = Path(__file__).resolve().parents[1] / "data" / "venue"
MINI = VENUE_DIR / "shows" / "mini.yaml"
DIAGNOSTIC = re.compile(r"(?P<path>.+): (?P<sev>error|warning)\[(?P<code>F1\d\d)\]: \S.*")
MiB = 1 << 20
_byte = st.integers(0, 255)


def written(
    path: Path,
    *,
    frames: int = 30,
    channels: int = 16,
    compression: str = "zstd",
    cp: str | None = None,
    seed: int = 5,
) -> Path:
    data = np.random.default_rng(seed).integers(0, 256, size=(frames, channels), dtype=np.uint8)
    headers = {"cp": cp} if cp is not None else None
    with FseqWriter.open(
        path,
        channel_count=channels,
        frame_count=frames,
        step_ms=25,
        compression=compression,  # type: ignore[arg-type]
        variable_headers=headers,
    ) as writer:
        for frame in data:
            writer.write_frame(frame)
    return path


def one_block(
    path: Path, payload: bytes, *, frames: int, channels: int, compression: Compression
) -> Path:
    """A file whose single block is `payload`, whatever the header says it holds."""
    header = FseqHeader(
        channel_count=channels,
        frame_count=frames,
        step_ms=25,
        compression=compression,
        block_index=(BlockEntry(first_frame=0, length=len(payload)),),
    )
    path.write_bytes(pack_header(header) + payload)
    return path


def zstd_bomb(size: int) -> bytes:
    """`size` zero bytes as one zstd frame that does not declare its content size."""
    cobj = zstandard.ZstdCompressor(level=19).compressobj()
    chunk = bytes(MiB)
    return b"".join(cobj.compress(chunk) for _ in range(size // MiB)) + cobj.flush()


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def diagnostics(err: str) -> list[tuple[str, str, str]]:
    found = []
    for line in err.splitlines():
        m = DIAGNOSTIC.fullmatch(line)
        assert m is not None, f"not a diagnostic line: {line!r}"
        found.append((m["path"], m["sev"], m["code"]))
    return found


# ---- the 'cp' header -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cp",
    [
        '{"universes": 5}',
        '{"universes": ["a", "b"], "name": 3}',
        '{"show": 5}',
        '{"venue": {"a": 1}, "universes": []}',
        '{"fps": "fast"}',
        "[1, 2]",
        "not json",
    ],
)
def test_cp_header_of_the_wrong_shape_is_a_warning(
    tmp_path: Path, cp: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = written(tmp_path / "a.fseq", cp=cp)
    code, out, err = run(["fseq", "info", str(path)], capsys)
    assert code == 0
    assert "channel_count: 16" in out
    assert "citypulse:" not in out
    assert diagnostics(err) == [(str(path), "warning", "F107")]
    code, out, err = run(["fseq", "diff", str(path), str(path)], capsys)
    assert code == 0
    assert "identical: 30 frames x 16 channels" in out
    assert diagnostics(err) == [(str(path), "warning", "F107")]


def test_cp_header_text_never_reaches_the_terminal_raw(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A name is shown escaped; a venue that is not a venue id (an escape sequence) is refused."""
    cp = {"show": "s.yaml", "name": "x\x1b[2J", "venue": "v", "fps": 40, "universes": [1, 2]}
    path = written(tmp_path / "a.fseq", cp=json.dumps(cp))
    code, out, _ = run(["fseq", "info", str(path)], capsys)
    assert code == 0
    assert "\x1b" not in out
    assert "show 'x\\x1b[2J', venue v, 2 universes (1..2)" in out
    cp["venue"] = "v\x1b]0;owned\x07"
    path = written(tmp_path / "b.fseq", cp=json.dumps(cp))
    code, out, err = run(["fseq", "info", str(path)], capsys)
    assert code == 0
    assert "\x1b" not in out + err
    assert diagnostics(err) == [(str(path), "warning", "F107")]


def test_diff_never_reads_a_file_the_header_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = tmp_path / "secret.yaml"
    secret.write_text("password: SECRET-TOKEN\n", encoding="utf-8")
    cp = {"show": "secret.yaml", "name": "x", "venue": "mini", "fps": 40, "universes": [1]}
    a = written(tmp_path / "a.fseq", cp=json.dumps(cp))
    b = written(tmp_path / "b.fseq", seed=6, cp=json.dumps(cp))
    os.chmod(secret, 0o000)  # even a read attempt would fail loudly for a non-root user
    try:
        code, out, err = run(["fseq", "diff", str(a), str(b)], capsys)
    finally:
        os.chmod(secret, 0o600)
    assert code == 1
    assert "SECRET" not in out + err
    assert err == ""
    assert "pass --show" in out  # says how to name channels


def test_diff_names_channels_only_by_the_show_the_user_gives(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = tmp_path / "a.fseq", tmp_path / "b.fseq"
    assert main(["render", str(MINI), "--venue", "mini", "-o", str(a)]) == 0
    show = shutil.copytree(VENUE_DIR, tmp_path / "blue") / "shows" / "mini.yaml"
    show.write_text(
        show.read_text(encoding="utf-8").replace("color: red", "color: blue"), encoding="utf-8"
    )
    assert main(["render", str(show), "--venue", "mini", "-o", str(b)]) == 0
    capsys.readouterr()
    code, out, _ = run(["fseq", "diff", str(a), str(b)], capsys)
    assert code == 1
    assert "flood-01" not in out  # the header names the show; it is not opened
    assert "pass --show" in out
    code, out, _ = run(["fseq", "diff", str(a), str(b), "--show", str(MINI)], capsys)
    assert code == 1
    assert "u1/3 flood-01 red" in out


# ---- blocks: bounded decompression -----------------------------------------------------------


@pytest.mark.parametrize("compression", [Compression.ZSTD, Compression.ZLIB])
def test_block_larger_than_the_limit_is_refused_before_decompressing(
    tmp_path: Path, compression: Compression, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = (
        zstandard.ZstdCompressor().compress(b"x" * 10)
        if compression is Compression.ZSTD
        else zlib.compress(b"x" * 10)
    )
    path = one_block(
        tmp_path / "huge.fseq",
        payload,
        frames=0xFFFF_FFFF,
        channels=0xFFFF_FFFF,
        compression=compression,
    )
    code, _, err = run(["fseq", "info", str(path)], capsys)
    assert code == 0  # the header itself is well formed
    code, _, err = run(["fseq", "diff", str(path), str(path)], capsys)
    assert code == 2
    assert diagnostics(err) == [(str(path), "error", "F106")]
    assert f"more than the reader's limit of {MAX_BLOCK_BYTES} bytes" in err


@pytest.mark.parametrize("kind", ["zstd", "zlib"])
def test_bomb_is_refused_within_the_bound_the_header_sets(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """64 MiB of zeros in a ~2 KiB (zstd) or ~64 KiB (zlib) block said to hold 10 x 16 bytes."""
    size = 64 * MiB
    if kind == "zstd":
        payload, compression = zstd_bomb(size), Compression.ZSTD
    else:
        cobj = zlib.compressobj(9)
        payload = b"".join(cobj.compress(bytes(MiB)) for _ in range(size // MiB))
        payload, compression = payload + cobj.flush(), Compression.ZLIB
    path = one_block(
        tmp_path / "bomb.fseq", payload, frames=10, channels=16, compression=compression
    )
    tracemalloc.start()
    try:
        code, _, err = run(["fseq", "diff", str(path), str(path)], capsys)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == 2
    assert diagnostics(err) == [(str(path), "error", "F105")]
    assert "more than the 160 bytes" in err
    assert peak < 4 * MiB, f"peak {peak / MiB:.1f} MiB for a block of 160 bytes"


# ---- every FSEQ error carries a code ---------------------------------------------------------


def test_errors_print_path_code_and_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mp3 = tmp_path / "song.mp3"
    mp3.write_bytes(b"ID3\x04" + bytes(60))
    code, _, err = run(["fseq", "info", str(mp3)], capsys)
    assert code == 2
    assert err == (
        f"{mp3}: error[F101]: header field identifier=b'ID3\\x04' at offset 0 not one of"
        " b'PSEQ', b'FSEQ'\n"
    )
    cut = tmp_path / "cut.fseq"
    cut.write_bytes(written(tmp_path / "full.fseq").read_bytes()[:20])
    code, _, err = run(["fseq", "diff", str(cut), str(tmp_path / "full.fseq")], capsys)
    assert code == 2
    assert diagnostics(err) == [(str(cut), "error", "F102")]


# ---- fuzz: mutated valid files ---------------------------------------------------------------

FUZZ = settings(max_examples=min(60, settings().max_examples), deadline=None, database=None)
# counts and block index entries (little-endian uint32 at these offsets), set to anything
_FIELDS = st.tuples(st.sampled_from([10, 14, 32, 36, 40, 44]), st.integers(0, 2**32 - 1))


@pytest.mark.parametrize("compression", ["zstd", "zlib", "none"])
def test_mutated_files_exit_0_1_or_2_within_a_memory_bound(
    tmp_path: Path, compression: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cp = {"show": "x.yaml", "name": "x", "venue": "v", "fps": 40, "universes": [1]}
    good = written(tmp_path / "good.fseq", frames=40, channels=24, compression=compression)
    meta = written(
        tmp_path / "meta.fseq", frames=40, channels=24, compression=compression, cp=json.dumps(cp)
    )
    sources = [good.read_bytes(), meta.read_bytes()]
    path = tmp_path / "mutated.fseq"

    @FUZZ
    @given(
        source=st.sampled_from(sources),
        edits=st.lists(
            st.tuples(st.integers(0, 127), st.integers(0, 255)) | st.tuples(st.integers(), _byte),
            min_size=1,
            max_size=4,
        ),
        fields=st.lists(_FIELDS, max_size=2),
        cut=st.none() | st.integers(0, 400),
    )
    def check(
        source: bytes, edits: list[tuple[int, int]], fields: list[tuple[int, int]], cut: int | None
    ) -> None:
        data = bytearray(source)
        for offset, value in edits:  # mostly the header, sometimes anywhere
            data[offset % len(data)] = value
        for offset, value in fields:
            data[offset : offset + 4] = value.to_bytes(4, "little")
        path.write_bytes(bytes(data[:cut]))
        tracemalloc.start()
        try:
            info, _, err_info = run(["fseq", "info", str(path)], capsys)
            diff, _, err_diff = run(["fseq", "diff", str(good), str(path)], capsys)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert info in (0, 2)
        assert diff in (0, 1, 2)
        diagnostics(err_info)
        diagnostics(err_diff)
        assert peak < 16 * MiB

    check()
