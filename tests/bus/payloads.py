"""Payloads the bus tests send."""

from __future__ import annotations

from controller.protocols.bus import ShowState, Topics

TOPICS = Topics("digital-night")
STATE = ShowState(
    show_id="digital-night",
    content_hash="a" * 64,
    files={"show.yaml": "b" * 64},
    state="armed",
    anchor_frame=0,
    anchor_tick=400,
    epoch=1_760_000_000.0,
    fps=40,
    version=1,
    blackout=False,
    master=1.0,
    conductor="beijing",
    issued_at=1_760_000_000.0,
)
