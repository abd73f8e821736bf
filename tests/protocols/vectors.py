"""Golden packet vectors: `tests/data/vectors/<protocol>/<name>.hex`.

One field per line: hex bytes (`XX*N` repeats a byte N times), then an optional `# comment`
naming the field. The vectors are written by hand from the reference tables, never produced
by the encoder under test.
"""

from __future__ import annotations

from pathlib import Path

VECTORS = Path(__file__).resolve().parent.parent / "data" / "vectors"


def load(protocol: str, name: str) -> bytes:
    """The bytes of one vector file, comments and whitespace stripped."""
    out = bytearray()
    for line in (VECTORS / protocol / f"{name}.hex").read_text(encoding="utf-8").splitlines():
        for token in line.split("#", 1)[0].split():
            byte, _, count = token.partition("*")
            out += bytes.fromhex(byte) * int(count or "1")
    return bytes(out)
