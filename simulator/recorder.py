"""Record every universe the simulator latches to a file, and read recordings back.

File format (docs/simulator.md), all integers little-endian:

    magic    8 bytes  b"CPREC1\\n\\0"
    length   uint32   size of the header that follows
    header   JSON object, UTF-8, ending in "\\n": venue, fps, universes, routes
    records  522 bytes each, struct "<dH512s": t (float64 s), universe (uint16), 512 slots

Rules:
- The writer streams to a temporary file beside the target and `os.replace`s it into
  place on `close`, so the target path never holds a half-written recording. If the
  `with` block fails, the records written so far are kept (the file is cut back to the
  last whole record) and still published.
- The reader raises `RecordingError` (a ControllerError) with the byte offset for a bad
  magic, a bad header or a truncated trailing record; never `struct.error`.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, NamedTuple, Self

from controller.errors import ControllerError
from controller.outputs.routing import Route

if TYPE_CHECKING:
    from simulator.core import SimulatorCore

__all__ = [
    "MAGIC",
    "RECORD",
    "Record",
    "Recorder",
    "RecordingError",
    "RecordingHeader",
    "read_recording",
    "wire_routes",
]

MAGIC = b"CPREC1\n\0"
RECORD = struct.Struct("<dH512s")  # t seconds, our universe, 512 slots: 522 bytes
_LENGTH = struct.Struct("<I")
_MAX_HEADER = 16 * 1024 * 1024  # a header is a few kB; refuse absurd lengths before reading


class RecordingError(ControllerError):
    """A recording that cannot be read: names the file and the byte offset."""

    def __init__(self, path: Path, offset: int, problem: str) -> None:
        self.path = path
        self.offset = offset
        self.problem = problem
        super().__init__(f"{path}: at byte {offset}: {problem}")


class Record(NamedTuple):
    t: float  # seconds, the simulator's clock
    universe: int  # ours (a row of the patch)
    data: bytes  # 512 slots


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingHeader:
    venue: str
    fps: float
    universes: tuple[int, ...]
    routes: tuple[dict[str, object], ...]  # `wire_routes`: protocol, universes, wire, ...

    def to_json(self) -> bytes:
        body = {
            "venue": self.venue,
            "fps": self.fps,
            "universes": list(self.universes),
            "routes": list(self.routes),
        }
        return json.dumps(body, sort_keys=True).encode() + b"\n"

    @classmethod
    def from_json(cls, raw: bytes) -> RecordingHeader:
        """Raises ValueError, KeyError or TypeError for a header that does not fit."""
        body = json.loads(raw)
        routes = body["routes"]
        if not isinstance(routes, list) or not all(isinstance(r, dict) for r in routes):
            msg = "routes must be a list of objects"
            raise TypeError(msg)
        return cls(
            venue=str(body["venue"]),
            fps=float(body["fps"]),
            universes=tuple(int(u) for u in body["universes"]),
            routes=tuple(routes),
        )


def wire_routes(routes: Sequence[Route]) -> tuple[dict[str, object], ...]:
    """Routes as plain JSON values: who sent which of our universes as which wire universe."""
    return tuple(
        {
            "protocol": r.protocol.value,
            "universes": list(r.universes),
            "wire": list(r.wire),
            "host": r.host,
            "port": r.port,
            "multicast": r.multicast,
            "device": r.device,
        }
        for r in routes
    )


class Recorder:
    """Streams latched universes to `path` (see the module rules).

    Use `Recorder.open(...)` or `with Recorder(...) as rec:`; pass `rec.record` as the
    core's `on_latch`.
    """

    def __init__(self, path: Path, *, header: RecordingHeader) -> None:
        self.path = Path(path)
        self.header = header
        self.records = 0
        self._file: IO[bytes] | None = None
        self._tmp: Path | None = None
        self._data_start = 0

    @classmethod
    def open(cls, path: Path, *, core: SimulatorCore, venue: str, fps: float) -> Self:
        """A started recorder whose header describes `core`'s universes and routes."""
        header = RecordingHeader(
            venue=venue, fps=fps, universes=core.universes, routes=wire_routes(core.routes)
        )
        recorder = cls(path, header=header)
        recorder.start()
        return recorder

    def start(self) -> None:
        if self._file is not None:
            return
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600; a recording is for sharing
        self._tmp = Path(tmp)
        self._file = os.fdopen(fd, "wb")
        body = self.header.to_json()
        self._file.write(MAGIC + _LENGTH.pack(len(body)) + body)
        self._data_start = len(MAGIC) + _LENGTH.size + len(body)

    def record(self, t: float, universe: int, data: bytes) -> None:
        """One latched universe (the `SimulatorCore.on_latch` signature)."""
        if self._file is None:
            msg = f"recorder for {self.path} is not started (use Recorder.open or `with`)"
            raise RuntimeError(msg)
        if len(data) != 512:
            msg = f"universe={universe!r} data is {len(data)} bytes, expected 512"
            raise ValueError(msg)
        self._file.write(RECORD.pack(t, universe, data))
        self.records += 1

    def close(self) -> None:
        """Finish the file and move it into place (idempotent)."""
        if self._file is None or self._tmp is None:
            return
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._tmp, self.path)
        self._file = self._tmp = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None and self._file is not None:
            try:  # a write may have stopped mid-record: keep only whole records
                self._file.flush()
                self._file.truncate(self._data_start + self.records * RECORD.size)
            except OSError:
                self._discard()
                return
        self.close()

    def _discard(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                self._tmp.unlink()
        self._file = self._tmp = None


def read_recording(path: Path) -> tuple[RecordingHeader, Iterator[Record]]:
    """The header now, and an iterator over the records (read lazily).

    Raises:
        RecordingError: bad magic or header here; a truncated trailing record when the
            iterator reaches it.
    """
    path = Path(path)
    with path.open("rb") as f:
        magic = f.read(len(MAGIC))
        if magic != MAGIC:
            raise RecordingError(path, 0, f"magic {magic!r} is not {MAGIC!r}")
        raw_length = f.read(_LENGTH.size)
        if len(raw_length) < _LENGTH.size:
            raise RecordingError(path, len(MAGIC), "truncated header length")
        (length,) = _LENGTH.unpack(raw_length)
        start = len(MAGIC) + _LENGTH.size
        if length > _MAX_HEADER:
            raise RecordingError(path, start, f"header length {length} > {_MAX_HEADER}")
        raw = f.read(length)
        if len(raw) < length:
            raise RecordingError(path, start, f"truncated header: {len(raw)} of {length} bytes")
    try:
        header = RecordingHeader.from_json(raw)
    except (ValueError, KeyError, TypeError) as exc:
        raise RecordingError(path, start, f"bad header: {exc}") from exc
    return header, _records(path, start + length)


def _records(path: Path, offset: int) -> Iterator[Record]:
    with path.open("rb") as f:
        f.seek(offset)
        while chunk := f.read(RECORD.size):
            if len(chunk) < RECORD.size:
                problem = f"truncated record: {len(chunk)} of {RECORD.size} bytes"
                raise RecordingError(path, offset, problem)
            t, universe, data = RECORD.unpack(chunk)
            yield Record(t, universe, data)
            offset += RECORD.size
