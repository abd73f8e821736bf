"""The hostile-packet corpus: each file gets exactly the treatment its header names.

Each `tests/data/invalid/packets/*.hex` is a packet in the golden-vector format (hex bytes,
`XX*N` repeats, `# comment`) that starts with header lines:
`# protocol: NAME` (a `SimulatorCore` wire protocol), `# expect: malformed|applied`, and
for `applied`, `# latched: UNIVERSE HEX...`, the first slots latched (the rest are 0).
A malformed packet is counted once, logged once, changes nothing and leaves the core
working; an applied one latches exactly what it carried.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from controller.cli.common import VenueJob
from simulator.core import PROTOCOLS, WireProtocol
from tests.simulator.helpers import collect_warnings
from tests.simulator.test_core_hostile import PEER, all_routes_core, still_works

CORPUS = Path(__file__).resolve().parents[1] / "data" / "invalid" / "packets"
CASES = sorted(CORPUS.glob("*.hex"))
HEADER = re.compile(r"# (?P<key>protocol|expect|latched): (?P<value>.+)")


def _read(case: Path) -> tuple[dict[str, str], bytes]:
    header: dict[str, str] = {}
    data = bytearray()
    for line in case.read_text(encoding="utf-8").splitlines():
        m = HEADER.fullmatch(line.strip())
        if m is not None:
            header[m["key"]] = m["value"].strip()
        for token in line.split("#", 1)[0].split():
            byte, _, count = token.partition("*")
            data += bytes.fromhex(byte) * int(count or "1")
    return header, bytes(data)


def test_corpus_covers_every_protocol() -> None:
    protocols = {_read(case)[0]["protocol"] for case in CASES}
    assert protocols == set(PROTOCOLS)
    assert len(CASES) >= 12


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_hostile_packet_gets_the_treatment_its_header_names(mini: VenueJob, case: Path) -> None:
    header, data = _read(case)
    protocol: WireProtocol = header["protocol"]  # type: ignore[assignment]
    assert protocol in PROTOCOLS
    core = all_routes_core(mini)
    with collect_warnings() as warnings:
        core.receive(0.0, protocol, data, PEER)
    stats = core.statistics()
    if header["expect"] == "malformed":
        assert (stats.packets.total, stats.malformed.total, warnings.count) == (1, 1, 1)
        assert getattr(stats.malformed, protocol) == 1
        assert not core.dmx.any()
        still_works(core, protocol)
        return
    assert header["expect"] == "applied"
    universe, *slots = header["latched"].split()
    expected = bytes.fromhex("".join(slots))
    row = core.universes.index(int(universe))
    assert (stats.malformed.total, warnings.count) == (0, 0)
    assert core.dmx[row].tobytes() == expected + bytes(512 - len(expected))
