"""L0 files written whole: a reader sees the old content or the new, never half of either.

Every file citypulse writes for someone else to read (a profile, a report, a picture, the
console's users, a cache entry, a simulator's ready file) goes through `write_atomic` or
`replace_atomic`:

- The bytes go to a hidden temporary file beside the target (same filesystem), which then
  replaces it with `os.replace` (POSIX rename: atomic).
- `durable` (the default) fsyncs the file before the rename and the directory after it, so
  a power cut leaves the old file or the new one. A cache entry, which can always be made
  again, skips both.
- The target is followed through symlinks (the link stays, its target is replaced). Only a
  regular file is replaced: a FIFO, a device such as /dev/null, a directory or a socket is
  refused with `OSError`, never swapped for a file.
- The new file keeps an existing file's permission bits; a new one gets what `open` would
  give it (0666 less the umask) unless `mode` says otherwise (0600 for secrets).
- Any failure removes the temporary file and leaves the target as it was.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "NotRegularFileError",
    "create_sibling",
    "regular_target",
    "replace_atomic",
    "write_atomic",
]

_FILE_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFDIR: "a directory",
    stat.S_IFSOCK: "a socket",
}  # no symbolic link: the target is followed to what it names


class NotRegularFileError(OSError):
    """The target exists and is not a regular file (a FIFO, a device, a directory...)."""


def write_atomic(
    path: Path, data: bytes | str, *, mode: int | None = None, durable: bool = True
) -> None:
    """Write `data` (text as UTF-8, newlines as given) to `path` whole; see the module."""
    payload = data.encode("utf-8") if isinstance(data, str) else data

    def write(tmp: Path) -> None:
        with tmp.open("wb") as out:
            out.write(payload)

    replace_atomic(path, write, mode=mode, durable=durable)


def replace_atomic(
    path: Path, write: Callable[[Path], None], *, mode: int | None = None, durable: bool = True
) -> None:
    """Let `write` fill a temporary sibling of `path` (by its name, so that a library such
    as Pillow can pick the format from the suffix), then put it in place; see the module.

    Raises:
        OSError: `path` exists and is not a regular file, or its directory is missing or
            not writable; whatever `write` raises.
    """
    target = regular_target(path)
    bits = _existing_bits(target) if mode is None else mode
    # private until it has its bits: a secret never sits readable in the temporary file
    tmp, out = create_sibling(target, suffix=target.suffix or ".tmp",
                              mode=0o666 if bits is None else 0o600)  # fmt: skip
    out.close()
    try:
        write(tmp)
        if bits is not None:
            os.chmod(tmp, bits)
        if durable:
            _fsync(tmp, os.O_RDONLY)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    if durable:
        with contextlib.suppress(OSError):  # not every filesystem syncs a directory
            _fsync(target.parent, os.O_RDONLY | os.O_DIRECTORY)


def regular_target(path: Path) -> Path:
    """`path` through its symlinks, where a regular file may appear (new or replaced).

    `os.replace` would swap a FIFO, a device such as /dev/null or a symlink for a regular
    file, and fail late on a directory: those are refused before anything is written.

    Raises:
        NotRegularFileError: it exists and is not a regular file.
        OSError: it cannot be looked at (a directory on the way that cannot be searched).
    """
    target = Path(os.path.realpath(path))
    try:
        st = target.stat()
    except FileNotFoundError:
        return target
    if not stat.S_ISREG(st.st_mode):
        kind = _FILE_KINDS.get(stat.S_IFMT(st.st_mode), "not a regular file")
        msg = f"{path} is {kind}; only a regular file (a new one or an existing one) is written"
        raise NotRegularFileError(msg)
    return target


def create_sibling(
    target: Path, *, suffix: str = ".part", mode: int = 0o666
) -> tuple[Path, BinaryIO]:
    """A hidden temporary file beside `target` (the same filesystem, for `os.replace`),
    created exclusively with `mode` less the umask (by default as `open` would create
    `target`)."""
    while True:
        temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}{suffix}")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue
        return temp, os.fdopen(fd, "wb")


def _existing_bits(target: Path) -> int | None:
    """An existing file's permission bits, which its replacement keeps."""
    try:
        return target.stat().st_mode & 0o7777
    except FileNotFoundError:
        return None


def _fsync(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
