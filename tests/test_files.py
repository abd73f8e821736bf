"""Files written whole (`controller.files`): replaced atomically, never half-written, never
a FIFO or a device swapped for a file, permission bits kept, secrets never readable."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from controller.files import NotRegularFileError, replace_atomic, write_atomic


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_a_file_is_replaced_whole_and_no_temporary_file_is_left(tmp_path: Path) -> None:
    out = tmp_path / "p.yaml"
    write_atomic(out, "old\n")
    inode = out.stat().st_ino
    write_atomic(out, b"new\n")
    assert out.read_bytes() == b"new\n"
    assert out.stat().st_ino != inode  # a new file took its place: readers saw old or new
    assert _leftovers(tmp_path) == []


def test_text_is_written_as_utf8_with_its_newlines_as_given(tmp_path: Path) -> None:
    out = tmp_path / "t.txt"
    write_atomic(out, "Lhasa \u62c9\u8428\r\nend\n", durable=False)
    assert out.read_bytes() == "Lhasa \u62c9\u8428\r\nend\n".encode()


def test_a_symlink_stays_and_its_target_is_replaced(tmp_path: Path) -> None:
    real = tmp_path / "real.yaml"
    real.write_text("old\n", "utf-8")
    link = tmp_path / "link.yaml"
    link.symlink_to(real)
    write_atomic(link, "new\n")
    assert link.is_symlink()
    assert real.read_text("utf-8") == "new\n"


def test_an_existing_files_permission_bits_are_kept(tmp_path: Path) -> None:
    out = tmp_path / "shared.yaml"
    out.write_text("old\n", "utf-8")
    out.chmod(0o640)
    write_atomic(out, "new\n")
    assert stat.S_IMODE(out.stat().st_mode) == 0o640


def test_a_new_file_gets_what_open_would_give_it(tmp_path: Path) -> None:
    umask = os.umask(0o027)
    try:
        write_atomic(tmp_path / "new.yaml", "x\n")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "new.yaml").stat().st_mode) == 0o640


def test_a_secret_is_private_from_its_first_byte(tmp_path: Path) -> None:
    out = tmp_path / "users.toml"
    seen: list[int] = []

    def write(tmp: Path) -> None:
        seen.append(stat.S_IMODE(tmp.stat().st_mode))  # before a byte of it is written
        tmp.write_text("alice = 'hash'\n", "utf-8")

    replace_atomic(out, write, mode=0o600)
    assert seen == [0o600]
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_an_existing_private_file_is_never_readable_while_it_is_replaced(tmp_path: Path) -> None:
    out = tmp_path / "key.toml"
    out.write_text("old\n", "utf-8")
    out.chmod(0o600)
    seen: list[int] = []
    replace_atomic(out, lambda tmp: seen.append(stat.S_IMODE(tmp.stat().st_mode)))
    assert seen == [0o600]
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    out = tmp_path / "cities.png"
    out.write_bytes(b"old picture")

    def write(tmp: Path) -> None:
        tmp.write_bytes(b"half a pic")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        replace_atomic(out, write)
    assert out.read_bytes() == b"old picture"
    assert _leftovers(tmp_path) == []


def test_the_temporary_file_keeps_the_suffix_so_a_writer_can_pick_the_format(
    tmp_path: Path,
) -> None:
    names: list[str] = []
    replace_atomic(tmp_path / "preview.gif", lambda tmp: names.append(tmp.name) or tmp.touch())
    (name,) = names
    assert name.startswith(".preview.gif.")
    assert name.endswith(".gif")


def test_a_fifo_or_a_directory_is_refused_and_left_alone(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    for target, kind in ((fifo, "a FIFO"), (tmp_path, "a directory")):
        before = os.stat(target)
        with pytest.raises(NotRegularFileError, match=f"is {kind}; only a regular file"):
            write_atomic(target, "x\n")
        after = os.stat(target)
        assert (after.st_ino, stat.S_IFMT(after.st_mode)) == (
            before.st_ino,
            stat.S_IFMT(before.st_mode),
        )
    assert _leftovers(tmp_path) == []


def test_a_missing_directory_is_an_os_error_and_nothing_is_written(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_atomic(tmp_path / "no" / "such" / "file.json", "{}")
    assert list(tmp_path.iterdir()) == []
