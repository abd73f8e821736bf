"""L8 checks of command-line values and paths, run before a command does any work.

Rules:
- Every check raises `ArgumentError(option, message)`, which `main` prints as
  `citypulse COMMAND: error[A002]: OPTION: message` and turns into exit code 2.
- An input is a readable regular file: never a directory, a FIFO (reading one waits for a
  writer) or a device (`/dev/zero` never ends). YAML and JSON inputs are capped at
  `MAX_FILE_BYTES` (32 MB); FSEQ files are read block by block and have no cap.
- An output is a regular file or a new name, in a directory that exists and that we may
  write in (checked by creating and removing a file there, which also catches a read-only
  file system and root-owned places). Missing directories are never created.
- Numbers are finite and in range; network values are IPv4 addresses (or host names that
  resolve to one), interfaces are addresses of this host, ports are 0..65535.
"""

from __future__ import annotations

import ipaddress
import math
import os
import socket
import stat
import tempfile
from pathlib import Path

from controller.errors import ArgumentError
from controller.show.source import MAX_FILE_BYTES, InputFileError, check_input_file

__all__ = [
    "MAX_FILE_BYTES",
    "compression_level",
    "duration",
    "host",
    "input_file",
    "integer",
    "interface",
    "number",
    "output_dir",
    "output_file",
    "port",
]

# FSEQ v2 compression levels the writer accepts: libzstd (ZSTD_minCLevel is far lower, but
# FPP takes -25..25 and libzstd stops at 22) and zlib's deflateInit 0..9
LEVELS = {"zstd": (-25, 22), "zlib": (0, 9)}


def _shown(path: Path) -> str:
    return str(path)


def input_file(path: Path, option: str, *, max_bytes: int | None = MAX_FILE_BYTES) -> Path:
    """`path`, when it is a readable regular file of at most `max_bytes` (None: any size)."""
    try:
        check_input_file(path, max_bytes)
    except InputFileError as exc:
        raise ArgumentError(option, f"{_shown(path)}: {exc.message}") from exc
    return path


def _kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((what for test, what in kinds if test(mode)), "a special file")


def _writable_dir(directory: Path, option: str, path: Path) -> None:
    try:
        st = directory.stat()
    except FileNotFoundError as exc:
        msg = f"{_shown(path)}: directory {_shown(directory)} does not exist"
        raise ArgumentError(option, msg) from exc
    except (OSError, ValueError) as exc:
        msg = f"{_shown(path)}: cannot use directory {_shown(directory)}: {_reason(exc)}"
        raise ArgumentError(option, msg) from exc
    if not stat.S_ISDIR(st.st_mode):
        raise ArgumentError(option, f"{_shown(path)}: {_shown(directory)} is not a directory")
    try:  # the real test: access() says yes to root on a read-only mount, /sys or /proc
        fd, probe = tempfile.mkstemp(prefix=".citypulse-probe-", dir=directory)
    except OSError as exc:
        msg = f"{_shown(path)}: cannot write in {_shown(directory)}: {_reason(exc)}"
        raise ArgumentError(option, msg) from exc
    os.close(fd)
    Path(probe).unlink(missing_ok=True)


def _reason(exc: BaseException) -> str:
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return text[:1].lower() + text[1:]


def output_file(
    path: Path, option: str, *, suffixes: tuple[str, ...] = (), what: str = "files"
) -> Path:
    """`path`, when a regular file may be written there (atomically, by rename).

    Args:
        path: the file to write; it may exist only as a regular file.
        option: the option that named it, for the message.
        suffixes: allowed lower-case suffixes such as (".png", ".gif"); empty: any.
        what: what is written, for the message ("profiles").
    """
    if suffixes and path.suffix.lower() not in suffixes:
        raise ArgumentError(option, f"{_shown(path)}: use a {' or '.join(suffixes)} file")
    try:
        st: os.stat_result | None = path.stat()
    except FileNotFoundError:
        st = None
    except (OSError, ValueError) as exc:  # NUL byte, name too long, symlink loop
        raise ArgumentError(option, f"{_shown(path)}: {_reason(exc)}") from exc
    if st is not None and not stat.S_ISREG(st.st_mode):
        msg = (
            f"{_shown(path)} is {_kind(st.st_mode)}; {what} are written only to regular "
            "files (a new file or an existing one)"
        )
        raise ArgumentError(option, msg)
    _writable_dir(path.parent, option, path)
    return path


def output_dir(path: Path, option: str) -> Path:
    """`path`, an existing directory we may write in, or a new one inside such a directory.

    A missing parent is an error: nothing creates a chain of directories by accident.
    """
    try:
        st: os.stat_result | None = path.stat()
    except FileNotFoundError:
        st = None
    except (OSError, ValueError) as exc:
        raise ArgumentError(option, f"{_shown(path)}: {_reason(exc)}") from exc
    if st is None:
        _writable_dir(path.parent, option, path)
    elif stat.S_ISDIR(st.st_mode):
        _writable_dir(path, option, path)
    else:
        raise ArgumentError(option, f"{_shown(path)} exists and is not a directory")
    return path


def number(
    value: float, option: str, *, lo: float, hi: float, lo_open: bool = False, unit: str = ""
) -> float:
    """A finite number in lo..hi, or in (lo, hi] when `lo_open`."""
    if not math.isfinite(value):
        raise ArgumentError(option, f"{value!r} is not a finite number")
    if (value <= lo if lo_open else value < lo) or value > hi:
        shown = f"{value:g}{' ' + unit if unit else ''}"
        span = f"({lo:g}, {hi:g}]" if lo_open else f"{lo:g}..{hi:g}"
        raise ArgumentError(option, f"{shown} out of range {span}")
    return value


def duration(value: float, option: str, *, maximum: float = 86400.0) -> float:
    """Seconds: finite, more than 0, at most `maximum` (default one day)."""
    return number(value, option, lo=0.0, hi=maximum, lo_open=True, unit="s")


def integer(value: int, option: str, *, lo: int, hi: int) -> int:
    if not lo <= value <= hi:
        raise ArgumentError(option, f"{value} out of range {lo}..{hi}")
    return value


def port(value: int, option: str, *, allow_zero: bool = True) -> int:
    """A UDP port; 0 (let the system choose) only when `allow_zero`."""
    return integer(value, option, lo=0 if allow_zero else 1, hi=65535)


def compression_level(value: int | None, compression: str, option: str) -> int | None:
    """A level the FSEQ writer accepts for `compression` (None: its default)."""
    if value is None:
        return None
    if compression not in LEVELS:
        raise ArgumentError(option, f"--compression {compression} takes no level")
    lo, hi = LEVELS[compression]
    if not lo <= value <= hi:
        raise ArgumentError(option, f"{value} out of range {lo}..{hi} for {compression}")
    return value


def host(value: str, option: str) -> str:
    """An IPv4 address, or a host name that resolves to one; returns the address."""
    text = value.strip()
    if not text:
        raise ArgumentError(option, "empty address")
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        if all(c.isdigit() or c == "." for c in text):  # dotted numbers are never a name
            raise ArgumentError(option, f"{value!r} is not an IPv4 address") from None
    if len(text) > 253 or any(c.isspace() or c in "/\\:[]@" for c in text):
        raise ArgumentError(option, f"{value!r} is not an IPv4 address or a host name")
    try:
        infos = socket.getaddrinfo(text, None, socket.AF_INET, socket.SOCK_DGRAM)
    except (OSError, UnicodeError) as exc:
        msg = f"{value!r} is not an IPv4 address, and as a host name: {_reason(exc)}"
        raise ArgumentError(option, msg) from exc
    return str(infos[0][4][0])


def interface(value: str, option: str) -> str:
    """The IPv4 address of one of this host's interfaces (where multicast leaves)."""
    try:
        address = ipaddress.IPv4Address(value.strip())
    except ValueError as exc:
        msg = f"{value!r} is not an IPv4 address (give the address of a local interface)"
        raise ArgumentError(option, msg) from exc
    if address.is_multicast or address.is_unspecified or str(address) == "255.255.255.255":
        raise ArgumentError(option, f"{address} is not the address of an interface")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:  # binding succeeds only for an address this host owns
            probe.bind((str(address), 0))
        except OSError as exc:
            msg = f"{address} is not an address of this host ({_reason(exc)})"
            raise ArgumentError(option, msg) from exc
    return str(address)
