"""OSC output: blob and attribute modes, bundled at the deadline; parsed by python-osc."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage

from controller.outputs.factory import build_outputs
from controller.outputs.routing import Route
from controller.protocols import osc
from controller.render.renderer import render
from controller.runtime.job import load_venue
from controller.show.rig import Protocol
from controller.testing import ManualClock

MINI = Path(__file__).parents[1] / "data" / "venue" / "shows" / "mini.yaml"
WALL = 1_800_000_000.0


class Capture:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def sendto(self, data: bytes, address: tuple[str, int]) -> None:
        self.sent.append(data)


def _messages(datagrams: list[bytes]) -> list[OscMessage]:
    out = []
    for d in datagrams:
        bundle = OscBundle(d)
        assert bundle.timestamp == osc.from_timetag(osc.to_timetag(WALL + 5.5))
        out += [m for m in bundle if isinstance(m, OscMessage)]
    return out


def _setup(
    mode: str, universes: tuple[int, ...], **route_options: Any
) -> tuple[object, Capture, object]:
    job = load_venue(MINI, "mini")
    route = Route(
        protocol=Protocol.OSC,
        universes=universes,
        wire=universes,
        host="127.0.0.1",
        port=9000,
        osc_mode=mode,
        **route_options,
    )
    sink = Capture()
    (out,) = build_outputs(
        [route],
        job.patch.universes,
        venue="mini",
        show_name="t",
        clock=ManualClock(),
        fps=40,
        sinks=lambda r: sink,
        venue_plan=(job.plan, job.patch),
        wall_offset=WALL,
    )
    return job, sink, out


def _dmx(job: object, t: float) -> np.ndarray:
    plan, patch = job.plan, job.patch  # type: ignore[attr-defined]
    frame = render(plan, t, plan.new_frame())
    return patch.apply(frame, patch.new_output())


def test_blob_mode_sends_each_universe_as_a_blob_at_commit_not_stage() -> None:
    job, sink, out = _setup("blob", (1, 2, 3))
    dmx = _dmx(job, 6.0)
    out.stage(5.4, dmx)  # type: ignore[attr-defined]
    assert sink.sent == []  # nothing before the deadline
    out.commit(5.5)  # type: ignore[attr-defined]
    msgs = _messages(sink.sent)
    assert [m.address for m in msgs] == [f"/citypulse/mini/{u}" for u in (1, 2, 3)]
    for m, row in zip(msgs, dmx, strict=True):
        assert m.params[0] == row.tobytes()


def test_attribute_mode_sends_changes_then_refreshes() -> None:
    job, sink, out = _setup("attributes", (1,))
    out.send_frame(5.5, _dmx(job, 6.0))  # type: ignore[attr-defined]
    first = {m.address: m.params[0] for m in _messages(sink.sent)}
    # floods 01..04 and the mover and dimmer on universe 1; solid red on the floods
    assert first["/citypulse/mini/fixture/flood-01/red"] == 1.0
    assert first["/citypulse/mini/fixture/flood-01/green"] == 0.0
    assert first["/citypulse/mini/fixture/flood-01/intensity"] == 1.0
    assert "/citypulse/mini/fixture/mover/pan" in first
    assert not any("/strip" in a for a in first)  # pixel cells stay in blob mode
    sink.sent.clear()
    out.send_frame(5.5 + 0.025, _dmx(job, 6.0))  # type: ignore[attr-defined]
    assert sink.sent == []  # nothing changed, no refresh due
    out.send_frame(5.5 + 1.1, _dmx(job, 6.0))  # type: ignore[attr-defined]
    assert len(_messages_any(sink.sent)) == len(first)  # refresh: everything again


def _messages_any(datagrams: list[bytes]) -> list[OscMessage]:
    return [m for d in datagrams for m in OscBundle(d) if isinstance(m, OscMessage)]


def _wide(**route_options: Any) -> tuple[object, Capture, object]:
    """Blob mode with 24 routed copies of the mini universes (24 blobs of 512 slots)."""
    job, sink, out = _setup("blob", (1, 2, 3), **route_options)
    route = replace(out.route, universes=(1, 2, 3) * 8, wire=tuple(range(24)))  # type: ignore[attr-defined]
    out.route = route  # type: ignore[attr-defined]
    out.rows = np.array([0, 1, 2] * 8)  # type: ignore[attr-defined]
    out.paths = [f"/u/{w}" for w in route.wire]  # type: ignore[attr-defined]
    return job, sink, out


def test_blob_bundles_fit_one_ethernet_frame_by_default() -> None:
    """Regression (issue #7 item 9): 6.9 KB bundles went out as five IP fragments."""
    job, sink, out = _wide()
    out.send_frame(5.5, _dmx(job, 6.0))  # type: ignore[attr-defined]
    assert max(len(d) for d in sink.sent) <= 1472
    assert len(sink.sent) == 12  # two 532-byte blob elements after each 16-byte header
    assert [m.address for m in _messages(sink.sent)] == [f"/u/{w}" for w in range(24)]


def test_a_larger_datagram_is_an_explicit_route_option() -> None:
    job, sink, out = _wide(max_datagram=8192)
    out.send_frame(5.5, _dmx(job, 6.0))  # type: ignore[attr-defined]
    assert [len(d) for d in sink.sent] == [16 + 15 * 532, 16 + 9 * 532]
    assert len(_messages(sink.sent)) == 24


def test_bundles_carry_the_frame_deadline_not_the_commit_time() -> None:
    """Regression (issue #7 item 10): a commit 3 ms late stamped its bundles 3 ms late."""
    job, sink, out = _setup("blob", (1, 2, 3))
    out.stage(5.4, _dmx(job, 6.0), deadline=5.5)  # type: ignore[attr-defined]
    out.commit(5.503)  # type: ignore[attr-defined]
    assert len(_messages(sink.sent)) == 3  # every bundle stamped WALL + 5.5


def test_without_a_deadline_bundles_carry_the_commit_time() -> None:
    job, sink, out = _setup("blob", (1,))
    out.stage(5.4, _dmx(job, 6.0))  # type: ignore[attr-defined]
    out.commit(5.5)  # type: ignore[attr-defined]
    assert len(_messages(sink.sent)) == 1
