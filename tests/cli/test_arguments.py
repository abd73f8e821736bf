"""Every command refuses bad paths and values before any work: `error[A00x]`, exit 2.

The table runs each command through `controller.cli.main(argv)` in a worker thread with a
time limit, so a check that is missing fails the test instead of hanging it (a FIFO input
waits for a writer; `simulate --duration inf` never ends). Each row names the option the
error line must name. A property test then throws argument vectors at a few commands:
whatever they get, they exit 0, 1 or 2 and never raise.
"""

from __future__ import annotations

import os
import re
import socket
import stat
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.cli import main, validators
from controller.cli.app import build_parser
from controller.fseq import FseqWriter

ROOT = Path(__file__).resolve().parents[2]
MINI = ROOT / "tests" / "data" / "venue" / "shows" / "mini.yaml"
OFL = ROOT / "tests" / "data" / "ofl"
TIME_LIMIT = 60.0


@dataclass(frozen=True)
class Places:
    """Paths every row can use: good ones and each kind of bad one."""

    tmp: Path
    missing: Path  # no such file
    no_dir: Path  # a directory that does not exist
    directory: Path
    fifo: Path
    read_only: Path | None  # a directory nobody may write in (None: cannot make one here)
    fseq: Path  # a valid FSEQ file
    expect: Path  # a valid show-test file for MINI


def _read_only_dir(tmp: Path) -> Path | None:
    """A directory we cannot write in, root included: /sys, else a chmod 0555 directory."""
    candidates = [Path("/sys")]
    if os.geteuid() != 0:
        locked = tmp / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        candidates.insert(0, locked)
    for d in candidates:
        try:
            fd, probe = tempfile.mkstemp(dir=d)
        except OSError:
            return d
        os.close(fd)
        Path(probe).unlink()
    return None


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Places]:
    tmp = tmp_path_factory.mktemp("args")
    (tmp / "dir.fseq").mkdir()
    (tmp / "dir.png").mkdir()
    os.mkfifo(tmp / "fifo.yaml")
    fseq = tmp / "good.fseq"
    with FseqWriter.open(fseq, channel_count=512, frame_count=2, step_ms=25) as writer:
        writer.write_frame(bytes(512))
        writer.write_frame(bytes(512))
    expect = tmp / "mini.expect.yaml"
    expect.write_text(f"show: {MINI}\nvenue: mini\nchecks: []\n", encoding="utf-8")
    found = Places(
        tmp=tmp,
        missing=tmp / "missing.yaml",
        no_dir=tmp / "no" / "such",
        directory=tmp / "dir.fseq",
        fifo=tmp / "fifo.yaml",
        read_only=_read_only_dir(tmp),
        fseq=fseq,
        expect=expect,
    )
    yield found
    if found.read_only is not None and found.read_only.is_relative_to(tmp):
        found.read_only.chmod(0o755)


def call(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`main(argv)` in a thread: a hang fails the test after TIME_LIMIT instead of blocking."""
    result: list[int | BaseException] = []

    def target() -> None:
        try:
            result.append(main(argv))
        except BaseException as exc:
            result.append(exc)

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(TIME_LIMIT)
    out, err = capsys.readouterr()
    assert not worker.is_alive(), f"{argv} still running after {TIME_LIMIT:g} s\n{err}"
    (code,) = result
    assert not isinstance(code, BaseException), f"{argv} raised {code!r}\n{err}"
    assert "Traceback" not in out + err
    return code, out, err


Row = tuple[str, Callable[[Places], list[str]], str]
M = str(MINI)
SIM = ["--output", "sim", "--virtual", "--go", "--duration", "1"]

ROWS: list[Row] = [
    # check reports each unreadable show as a located diagnostic and goes on
    ("check-missing", lambda p: ["check", str(p.missing)], "error[Y003]: file not found"),
    ("check-dir", lambda p: ["check", str(p.tmp)], "error[Y003]: not a regular file (a directory)"),
    ("check-fifo", lambda p: ["check", str(p.fifo)], "error[Y003]: not a regular file (a FIFO)"),
    ("check-dev-zero", lambda _: ["check", "/dev/zero"], "error[Y003]: not a regular file"),
    # render
    ("render-show-missing", lambda p: ["render", str(p.missing), "-o", str(p.tmp / "a.fseq")], "SHOW"),
    ("render-show-dir", lambda p: ["render", str(p.tmp), "-o", str(p.tmp / "a.fseq")], "SHOW"),
    ("render-show-fifo", lambda p: ["render", str(p.fifo), "-o", str(p.tmp / "a.fseq")], "SHOW"),
    ("render-show-dev-zero", lambda p: ["render", "/dev/zero", "-o", str(p.tmp / "a.fseq")], "SHOW"),
    ("render-out-no-dir", lambda p: ["render", M, "-o", str(p.no_dir / "a.fseq")], "--output"),
    ("render-out-is-dir", lambda p: ["render", M, "-o", str(p.directory)], "--output"),
    ("render-out-read-only", lambda p: ["render", M, "-o", f"{p.read_only}/a.fseq"], "--output"),
    ("render-out-suffix", lambda p: ["render", M, "-o", str(p.tmp / "a.bin")], "--output"),
    ("render-level-zstd", lambda p: ["render", M, "-o", str(p.tmp / "a.fseq"), "--level", "99"], "--level"),
    (
        "render-level-zlib",
        lambda p: ["render", M, "-o", str(p.tmp / "a.fseq"), "--compression", "zlib", "--level", "-1"],
        "--level",
    ),
    ("render-master-nan", lambda p: ["render", M, "-o", str(p.tmp / "a.fseq"), "--master", "nan"], "--master"),
    ("render-duration-inf", lambda p: ["render", M, "-o", str(p.tmp / "a.fseq"), "--duration", "inf"], "--duration"),
    # preview
    ("preview-show-fifo", lambda p: ["preview", str(p.fifo), "-o", str(p.tmp / "a.png")], "SHOW"),
    ("preview-out-no-dir", lambda p: ["preview", M, "-o", str(p.no_dir / "a.png")], "--output"),
    ("preview-out-is-dir", lambda p: ["preview", M, "-o", str(p.tmp / "dir.png")], "--output"),
    ("preview-out-read-only", lambda p: ["preview", M, "-o", f"{p.read_only}/a.png"], "--output"),
    ("preview-fps-inf", lambda p: ["preview", M, "-o", str(p.tmp / "a.gif"), "--fps", "inf"], "--fps"),
    ("preview-width", lambda p: ["preview", M, "-o", str(p.tmp / "a.png"), "--width", "0"], "--width"),
    # run: --record and --preview are checked before the session, not after it
    ("run-show-dev-zero", lambda _: ["run", "/dev/zero", *SIM], "SHOW"),
    ("run-record-no-dir", lambda p: ["run", M, *SIM, "--record", str(p.no_dir / "r.rec")], "--record"),
    ("run-record-is-dir", lambda p: ["run", M, *SIM, "--record", str(p.directory)], "--record"),
    ("run-record-read-only", lambda p: ["run", M, *SIM, "--record", f"{p.read_only}/r.rec"], "--record"),
    ("run-preview-no-dir", lambda p: ["run", M, *SIM, "--preview", str(p.no_dir / "r.png")], "--preview"),
    ("run-preview-is-dir", lambda p: ["run", M, *SIM, "--preview", str(p.tmp / "dir.png")], "--preview"),
    ("run-preview-read-only", lambda p: ["run", M, *SIM, "--preview", f"{p.read_only}/r.png"], "--preview"),
    ("run-interface-text", lambda _: ["run", M, *SIM, "--interface", "abc"], "--interface"),
    ("run-interface-foreign", lambda _: ["run", M, *SIM, "--interface", "192.0.2.1"], "--interface"),
    ("run-interface-multicast", lambda _: ["run", M, *SIM, "--interface", "239.255.0.1"], "--interface"),
    ("run-duration-inf", lambda _: ["run", M, "--output", "sim", "--virtual", "--go", "--duration", "inf"], "--duration"),
    ("run-hold-wait-nan", lambda _: ["run", M, *SIM, "--hold-wait", "nan"], "--hold-wait"),
    ("run-osc-in", lambda _: ["run", M, *SIM, "--osc-in", "70000"], "--osc-in"),
    ("run-shards-zero", lambda _: ["run", M, "--go", "--shards", "0"], "--shards"),
    ("run-shards-virtual", lambda _: ["run", M, *SIM, "--shards", "2"], "--shards"),
    # simulate
    ("simulate-show-fifo", lambda p: ["simulate", str(p.fifo), "--duration", "1"], "SHOW"),
    ("simulate-host-empty", lambda _: ["simulate", M, "--host", "", "--duration", "1"], "--host"),
    ("simulate-host-bad", lambda _: ["simulate", M, "--host", "999.1.1.1", "--duration", "1"], "--host"),
    ("simulate-host-space", lambda _: ["simulate", M, "--host", "a b", "--duration", "1"], "--host"),
    ("simulate-duration-inf", lambda _: ["simulate", M, "--duration", "inf"], "--duration"),
    ("simulate-duration-nan", lambda _: ["simulate", M, "--duration", "nan"], "--duration"),
    ("simulate-port", lambda _: ["simulate", M, "--sacn-port", "65536", "--duration", "1"], "--sacn-port"),
    ("simulate-record-no-dir", lambda p: ["simulate", M, "--duration", "1", "--record", str(p.no_dir / "r")], "--record"),
    ("simulate-preview-is-dir", lambda p: ["simulate", M, "--duration", "1", "--preview", str(p.tmp / "dir.png")], "--preview"),
    # discover
    ("discover-to-empty", lambda _: ["discover", "--to", "", "--wait", "0.1"], "--to"),
    ("discover-to-bad", lambda _: ["discover", "--to", "300.1.1.1", "--wait", "0.1"], "--to"),
    ("discover-port-zero", lambda _: ["discover", "--to", "127.0.0.1", "--port", "0"], "--port"),
    ("discover-wait-inf", lambda _: ["discover", "--to", "127.0.0.1", "--wait", "inf"], "--wait"),
    ("discover-show-dir", lambda p: ["discover", str(p.tmp), "--wait", "0.1"], "SHOW"),
    # test
    ("test-expect-missing", lambda p: ["test", "--expect", str(p.missing)], "--expect"),
    ("test-expect-fifo", lambda p: ["test", "--expect", str(p.fifo)], "--expect"),
    ("test-show-dir", lambda p: ["test", str(p.tmp), "--expect", str(p.expect)], "SHOW"),
    # fseq
    ("fseq-info-missing", lambda p: ["fseq", "info", str(p.missing)], "FILE"),
    ("fseq-info-dir", lambda p: ["fseq", "info", str(p.tmp)], "FILE"),
    ("fseq-info-fifo", lambda p: ["fseq", "info", str(p.fifo)], "FILE"),
    ("fseq-info-dev-zero", lambda _: ["fseq", "info", "/dev/zero"], "FILE"),
    ("fseq-diff-a", lambda p: ["fseq", "diff", str(p.missing), str(p.fseq)], "A"),
    ("fseq-diff-b", lambda p: ["fseq", "diff", str(p.fseq), str(p.fifo)], "B"),
    ("fseq-diff-max", lambda p: ["fseq", "diff", str(p.fseq), str(p.fseq), "--max", "-1"], "--max"),
    ("fseq-diff-show", lambda p: ["fseq", "diff", str(p.fseq), str(p.fseq), "--show", str(p.fifo)], "--show"),
    # fixtures
    ("ofl-missing", lambda p: ["fixtures", "import-ofl", str(p.missing)], "FILE.json"),
    ("ofl-fifo", lambda p: ["fixtures", "import-ofl", str(p.fifo)], "FILE.json"),
    ("ofl-dev-zero", lambda _: ["fixtures", "import-ofl", "/dev/zero"], "FILE.json"),
    ("ofl-out-no-dir", lambda p: ["fixtures", "import-ofl", str(_ofl()), "-o", str(p.no_dir / "x.yaml")], "--output"),
    ("ofl-out-dev-null", lambda _: ["fixtures", "import-ofl", str(_ofl()), "-o", "/dev/null"], "--output"),
    ("ofl-out-read-only", lambda p: ["fixtures", "import-ofl", str(_ofl()), "-o", f"{p.read_only}/x.yaml"], "--output"),
    # bench
    ("city-no-parent", lambda p: ["bench", "generate-city", "--universes", "1", "-o", str(p.no_dir / "c")], "--output"),
    ("city-is-file", lambda p: ["bench", "generate-city", "--universes", "1", "-o", str(p.fseq)], "--output"),
    ("city-read-only", lambda p: ["bench", "generate-city", "--universes", "1", "-o", f"{p.read_only}/c"], "--output"),
    ("bench-render-show", lambda p: ["bench", "render", "--show", str(p.fifo), "--universes", ""], "--show"),
    ("bench-render-at", lambda _: ["bench", "render", "--show", "", "--at", "inf"], "--at"),
    ("bench-output-seconds", lambda _: ["bench", "output", "--seconds", "nan"], "--seconds"),
    ("bench-output-timing", lambda _: ["bench", "output", "--timing-universes", "0"], "--timing-universes"),
    ("bench-sync-show", lambda p: ["bench", "sync", "--show", str(p.fifo)], "--show"),
    ("bench-host-seconds", lambda _: ["bench", "host", "--seconds", "0.5"], "--seconds"),
    ("bench-sync-rtt", lambda _: ["bench", "sync", "--show", M, "--rtt-ms", "nan"], "--rtt-ms"),
    ("bench-sync-one-venue", lambda _: ["bench", "sync", "--show", M], "--show"),
    # bus
    ("bus-show-fifo", lambda p: ["bus", "init", str(p.fifo), str(p.tmp / "bus")], "error[Y003]: not a regular file (a FIFO)"),
    ("bus-dir-no-parent", lambda p: ["bus", "init", M, str(p.no_dir / "bus")], "DIR"),
    ("bus-dir-read-only", lambda p: ["bus", "init", M, f"{p.read_only}/bus"], "DIR"),
    ("bus-listen", lambda p: ["bus", "init", M, str(p.tmp / "bus"), "--listen", "x"], "--listen"),
    # bus nodes: the venue player, the conductor, the operator's commands
    ("venue-show-fifo", lambda p: ["venue", str(p.fifo), "--venue", "mini", "--credentials", str(p.missing)], "SHOW"),
    ("venue-duration-inf", lambda p: ["venue", M, "--venue", "mini", "--credentials", str(p.missing), "--duration", "inf"], "--duration"),
    ("venue-audit-no-dir", lambda p: ["venue", M, "--venue", "mini", "--credentials", str(p.missing), "--audit", str(p.no_dir / "a")], "--audit"),
    ("venue-credentials-fifo", lambda p: ["venue", M, "--venue", "mini", "--credentials", str(p.fifo)], "error[K101]: not a regular file (a FIFO)"),
    ("conductor-show-dir", lambda p: ["conductor", str(p.tmp), "--credentials", str(p.missing)], "SHOW"),
    ("conductor-duration-nan", lambda p: ["conductor", M, "--credentials", str(p.missing), "--duration", "nan"], "--duration"),
    ("cmd-timeout-inf", lambda p: ["cmd", "go", "--credentials", str(p.missing), "--timeout", "inf"], "--timeout"),
    ("cmd-credentials-dev-zero", lambda _: ["cmd", "go", "--credentials", "/dev/zero"], "error[K101]: not a regular file (a character device)"),
    # the operator console
    ("console-show-fifo", lambda p: ["console", str(p.fifo), "--credentials", str(p.missing)], "SHOW"),
    ("console-listen", lambda p: ["console", M, "--credentials", str(p.missing), "--listen", "x"], "--listen"),
    ("console-listen-public-no-tls", lambda p: ["console", M, "--credentials", str(p.missing), "--listen", "0.0.0.0:8080"], "--listen"),
    ("console-tls-half", lambda p: ["console", M, "--credentials", str(p.missing), "--tls-cert", str(p.fseq)], "--tls-key"),
    ("console-add-user-name", lambda p: ["console", M, "--credentials", str(p.missing), "--add-user", "a b"], "--add-user"),
    ("console-audit-no-dir", lambda p: ["console", M, "--credentials", str(p.missing), "--audit", str(p.no_dir / "a")], "--audit"),
    # the three-city demo
    ("demo-show-fifo", lambda p: ["demo", "--show", str(p.fifo)], "--show"),
    ("demo-seconds-short", lambda _: ["demo", "--show", M, "--seconds", "5"], "--seconds"),
    ("demo-out-no-parent", lambda p: ["demo", "--show", M, "--out", str(p.no_dir / "out")], "--out"),
    ("demo-broker-without-deployment", lambda _: ["demo", "--show", M, "--broker", "mqtt://127.0.0.1:1"], "--broker"),
    # argparse's own refusals keep the same shape
    ("schema-kind", lambda _: ["schema", "bogus"], "kind"),
]  # fmt: skip


def _ofl() -> Path:
    return next(OFL.rglob("*.json"))


@pytest.mark.parametrize(("make", "option"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_a_bad_path_or_value_is_refused_before_any_work(
    places: Places,
    capsys: pytest.CaptureFixture[str],
    make: Callable[[Places], list[str]],
    option: str,
) -> None:
    argv = make(places)
    if "None/" in " ".join(argv):
        pytest.skip("no directory here is read-only for this user")
    before = sorted(p.name for p in places.tmp.iterdir())
    code, out, err = call(argv, capsys)
    assert code == 2, err
    lines = err.splitlines()
    if option.startswith("error["):  # check: a located diagnostic per show
        assert any(option in line for line in lines), err
    else:
        pattern = re.compile(rf"error\[A00\d\]: (argument )?{re.escape(option)}[: ]")
        assert [line for line in lines if pattern.search(line)], err
        assert len(lines) <= 2, err  # the error (and argparse's usage line): nothing ran
    assert out == ""
    assert sorted(p.name for p in places.tmp.iterdir()) == before  # nothing written


def test_output_checks_happen_before_the_show_is_loaded(
    places: Places, capsys: pytest.CaptureFixture[str]
) -> None:
    """A broken show and a bad --record: the option is reported (nothing was loaded)."""
    argv = ["run", str(places.missing), *SIM, "--record", str(places.no_dir / "r.rec")]
    code, _, err = call(argv, capsys)
    assert code == 2
    assert err.startswith("citypulse run: error[A002]: SHOW: ")


def test_every_command_has_rows() -> None:
    actions = build_parser()._actions  # argparse lists the subcommands nowhere public
    (commands,) = [a.choices for a in actions if a.dest == "command"]
    assert isinstance(commands, dict)
    covered = {r[1](_FAKE)[0] for r in ROWS}
    assert covered == set(commands)


_FAKE = Places(
    tmp=Path("t"),
    missing=Path("m"),
    no_dir=Path("n"),
    directory=Path("d"),
    fifo=Path("f"),
    read_only=Path("r"),
    fseq=Path("s"),
    expect=Path("e"),
)


# -- the shared validators, directly -------------------------------------------------------------


def test_compression_levels_match_what_the_writer_accepts(tmp_path: Path) -> None:
    for compression, (lo, hi) in validators.LEVELS.items():
        for level, ok in ((lo - 1, False), (lo, True), (hi, True), (hi + 1, False)):
            target = tmp_path / f"{compression}{level}.fseq"
            if ok:
                with FseqWriter.open(
                    target,
                    channel_count=1,
                    frame_count=1,
                    step_ms=25,
                    compression=compression,
                    level=level,  # type: ignore[arg-type]
                ) as writer:
                    writer.write_frame(b"\0")
            else:
                with pytest.raises(ValueError, match="out of range"):
                    FseqWriter.open(
                        target,
                        channel_count=1,
                        frame_count=1,
                        step_ms=25,
                        compression=compression,
                        level=level,  # type: ignore[arg-type]
                    )


def test_interface_accepts_an_address_of_this_host() -> None:
    assert validators.interface("127.0.0.1", "--interface") == "127.0.0.1"


def test_host_resolves_a_name_to_an_ipv4_address() -> None:
    assert validators.host(" localhost ", "--host") == "127.0.0.1"
    assert validators.host("127.0.0.1", "--host") == "127.0.0.1"


def test_output_file_accepts_a_new_name_and_an_existing_regular_file(tmp_path: Path) -> None:
    new = tmp_path / "new.fseq"
    assert validators.output_file(new, "-o", suffixes=(".fseq",)) == new
    new.write_bytes(b"x")
    assert validators.output_file(new, "-o") == new
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.fseq"]  # the probe is gone


def test_output_dir_accepts_an_existing_or_a_new_directory(tmp_path: Path) -> None:
    assert validators.output_dir(tmp_path, "-o") == tmp_path
    assert validators.output_dir(tmp_path / "new", "-o") == tmp_path / "new"
    assert not (tmp_path / "new").exists()


def test_messages_name_value_and_range() -> None:
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: validators.duration(float("inf"), "--duration"), "--duration: inf is not a finite number"),
        (lambda: validators.duration(0.0, "--duration"), "--duration: 0 s out of range (0, 86400]"),
        (lambda: validators.number(-1.0, "--hold-wait", lo=0, hi=3600, unit="s"), "--hold-wait: -1 s out of range 0..3600"),
        (lambda: validators.port(70000, "--port"), "--port: 70000 out of range 0..65535"),
        (lambda: validators.port(0, "--port", allow_zero=False), "--port: 0 out of range 1..65535"),
        (lambda: validators.compression_level(99, "zstd", "--level"), "--level: 99 out of range -25..22 for zstd"),
        (lambda: validators.compression_level(1, "none", "--level"), "--level: --compression none takes no level"),
        (lambda: validators.host("", "--host"), "--host: empty address"),
        (lambda: validators.host("999.1.1.1", "--host"), "--host: '999.1.1.1' is not an IPv4 address"),
        (lambda: validators.interface("0.0.0.0", "--interface"), "--interface: 0.0.0.0 is not the address of an interface"),
        (lambda: validators.input_file(Path(""), "SHOW"), "SHOW: .: not a regular file (a directory)"),
        (lambda: validators.input_file(Path("/dev/zero"), "SHOW"), "SHOW: /dev/zero: not a regular file (a character device)"),
        (lambda: validators.output_file(Path("/dev/null"), "-o"), "-o: /dev/null is a character device; files are written only to regular files (a new file or an existing one)"),
    ]  # fmt: skip
    for make, message in cases:
        with pytest.raises(validators.ArgumentError) as info:
            make()
        assert str(info.value) == message


def test_a_socket_as_output_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.fseq"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        assert stat.S_ISSOCK(path.stat().st_mode)
        with pytest.raises(validators.ArgumentError, match="is a socket"):
            validators.output_file(path, "-o")


# -- fuzz: never a traceback ------------------------------------------------------------------------

_TMP = Path(tempfile.gettempdir())
_PATHS = [
    M, "", "\0", "x" * 300, "/dev/zero", "/dev/null", "/", "/nonexistent/x", "/sys/x.fseq",
    str(MINI.parent), str(MINI.with_suffix(".fseq")),
]  # fmt: skip
_NUMBERS = [
    "0",
    "-1",
    "1",
    "0.5",
    "2",
    "nan",
    "inf",
    "-inf",
    "1e309",
    "abc",
    "",
    "99999999999999999999",
]
_OPTIONS = {
    "render": ["-o", "--venue", "--compression", "--level", "--master", "--from", "--duration"],
    "preview": ["-o", "--venue", "--at", "--from", "--to", "--fps", "--width", "--sheet"],
    "fseq info": [],
    "fseq diff": ["--show", "--venue", "--max", "--json"],
    "fixtures import-ofl": ["-o"],
    "bench generate-city": ["--universes", "-o"],
    "check": ["--json", "--strict"],
    "test": ["--expect", "--venue", "--json"],
}


@st.composite
def _argv(draw: st.DrawFn, out_dir: Path) -> list[str]:
    command = draw(st.sampled_from(sorted(_OPTIONS)))
    value = st.one_of(
        st.sampled_from(_PATHS),
        st.sampled_from(_NUMBERS),
        st.sampled_from([str(out_dir / "o.fseq"), str(out_dir / "o.png"), str(out_dir / "city")]),
        st.text(st.characters(exclude_categories=["Cs"]), max_size=12),
    )
    argv = command.split()
    argv += draw(st.lists(value, min_size=0, max_size=2))
    for _ in range(draw(st.integers(0, 4))):
        argv.append(draw(st.sampled_from([*_OPTIONS[command], "--bogus", "-h", "--"])))
        argv.append(draw(value))
    return argv


@settings(
    max_examples=min(80, settings().max_examples),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_argument_vectors_never_raise(
    data: st.DataObject, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = data.draw(_argv(tmp_path))
    code, _, _ = call(argv, capsys)
    assert code in (0, 1, 2), argv
    if sys.platform.startswith("linux"):
        assert not any(p.name.startswith(".citypulse-probe-") for p in tmp_path.iterdir())
