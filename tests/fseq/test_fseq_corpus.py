"""The hostile-FSEQ corpus: `citypulse fseq info|diff` print exactly what each file's header says.

Each `tests/data/invalid/fseq/*.hex` is an FSEQ file in the golden-vector format (hex bytes,
`XX*N` repeats, `# comment`) whose first lines describe it, then say what
`citypulse fseq info FILE` and `citypulse fseq diff FILE FILE` do:
`# info: EXIT [error|warning CODE]` and `# diff: EXIT [error|warning CODE]`. The diagnostic
is the only stderr line, in the form `PATH: error[F1xx]: message`; nothing else reaches
stderr and no traceback ever does.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from controller.cli.app import main

CORPUS = Path(__file__).resolve().parents[1] / "data" / "invalid" / "fseq"
CASES = sorted(CORPUS.glob("*.hex"))
EXPECT = re.compile(
    r"# (?P<command>info|diff): (?P<exit>\d)(?: (?P<sev>error|warning) (?P<code>F1\d\d))?"
)
CODES = {"F101", "F102", "F103", "F104", "F105", "F106", "F107"}


def _read(case: Path) -> tuple[dict[str, tuple[int, str | None, str | None]], bytes]:
    expected: dict[str, tuple[int, str | None, str | None]] = {}
    data = bytearray()
    for line in case.read_text(encoding="utf-8").splitlines():
        m = EXPECT.fullmatch(line.strip())
        if m is not None:
            expected[m["command"]] = (int(m["exit"]), m["sev"], m["code"])
        for token in line.split("#", 1)[0].split():
            byte, _, count = token.partition("*")
            data += bytes.fromhex(byte) * int(count or "1")
    return expected, bytes(data)


def test_corpus_covers_every_code() -> None:
    codes = {e[2] for case in CASES for e in _read(case)[0].values()}
    assert codes - {None} == CODES


@pytest.mark.parametrize("command", ["info", "diff"])
@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_hostile_fseq_gets_the_exit_code_and_diagnostic_its_header_names(
    case: Path, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expected, data = _read(case)
    exit_code, severity, code = expected[command]
    path = tmp_path / f"{case.stem}.fseq"
    path.write_bytes(data)
    argv = (
        ["fseq", "info", str(path)] if command == "info" else ["fseq", "diff", str(path), str(path)]
    )
    assert main(argv) == exit_code
    _, err = capsys.readouterr()
    lines = err.splitlines()
    if code is None:
        assert lines == []
        return
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{path}: {severity}[{code}]: "), err
