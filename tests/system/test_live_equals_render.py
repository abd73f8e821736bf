"""What a live run puts on the wire is, frame for frame, what `citypulse render` writes.

Every venue of the Digital Night show plays in real time (`citypulse run --output sim`:
the rig's Art-Net, sACN, OSC and ENTTEC routes over real loopback sockets and a pty into
`citypulse simulate` in its own process, which records every universe it latches). The
same section is rendered to FSEQ with `citypulse render`. Each recorded universe must equal,
byte for byte, that universe of consecutive FSEQ frames from the first one on; a frame the
player dropped may skip ahead, never back, and never more often than it reported drops.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from controller.fseq import FseqReader
from simulator.recorder import read_recording

ROOT = Path(__file__).resolve().parents[2]
SHOW = ROOT / "shows" / "digital-night.yaml"
SECONDS = 2.0
SECTION = ("--from", "pulse+2")  # moving content: every frame differs from the last


def cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "controller", *argv],
        cwd=ROOT, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


def match(records: list[bytes], frames: list[bytes]) -> tuple[list[int], int]:
    """FSEQ frame index of each record, searching forward; -1 where none matched."""
    found, next_at, skips = [], 0, 0
    for data in records:
        hit = next(
            (i for i in range(next_at, min(next_at + 4, len(frames))) if frames[i] == data), -1
        )
        if hit < 0:
            found.append(-1)
            continue
        skips += hit - next_at
        found.append(hit)
        next_at = hit + 1
    return found, skips


@pytest.mark.network
@pytest.mark.parametrize("venue", ["beijing", "lhasa", "singapore"])
def test_every_frame_on_the_wire_is_a_frame_of_the_fseq_render(venue: str, tmp_path: Path) -> None:
    fseq, rec = tmp_path / f"{venue}.fseq", tmp_path / f"{venue}.cprec"
    rendered = cli("render", str(SHOW), "--venue", venue, "-o", str(fseq), *SECTION,
                   "--duration", str(SECONDS + 1))  # fmt: skip
    assert rendered.returncode == 0, rendered.stderr
    played = cli("run", str(SHOW), "--venue", venue, "--output", "sim", *SECTION, "--go",
                 "--duration", str(SECONDS), "--end", "hold", "--record", str(rec), "--json")  # fmt: skip
    assert played.returncode == 0, played.stderr
    report = json.loads(played.stdout)
    with FseqReader.open(fseq) as reader:
        universes = json.loads(reader.variable_headers["cp"].rstrip(b"\0"))["universes"]
        frames = [reader.frame(i) for i in range(reader.frame_count)]
    per_universe: dict[int, list[bytes]] = defaultdict(list)
    _, records = read_recording(rec)
    for r in records:
        per_universe[r.universe].append(r.data)
    assert sorted(per_universe) == sorted(universes)  # every universe reached the simulator
    lit = 0
    for row, universe in enumerate(universes):
        slices = [bytes(np.asarray(f[row * 512 : (row + 1) * 512])) for f in frames]
        found, skips = match(per_universe[universe], slices)
        assert -1 not in found, (
            f"{venue} universe {universe}: record {found.index(-1)} matches no frame"
        )
        # the first frame on the wire is the first frame of the section, unless the player
        # dropped it: every frame skipped (at the start too) is a drop the player reported
        assert found[0] + skips <= report["frames_dropped"]
        assert len(found) >= SECONDS * 40 * 0.9
        lit += any(slices[i] != bytes(512) for i in found)
    assert lit > 0  # not a trivially black section
