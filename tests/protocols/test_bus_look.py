"""The `look/<venue>` payload: golden bytes, its refusals, its byte budget and its topic."""

from __future__ import annotations

import base64
import json

import pytest

from controller.protocols import bus
from controller.protocols.bus import MAX_LOOK_CELLS, Look, decode, encode
from controller.protocols.bus_topics import TopicKind, TopicRef, Topics

GOLDEN = b'{"v":1,"venue":"lhasa","tick":-2,"frame":41,"cells":2,"light":"/wAAAID/"}'
LOOK = Look(venue="lhasa", tick=-2, frame=41, cells=2, light="/wAAAID/")


def test_golden_bytes_both_ways() -> None:
    assert encode(LOOK) == GOLDEN
    assert decode(Look, GOLDEN) == LOOK
    assert LOOK.rgb() == bytes([255, 0, 0, 0, 128, 255])


def _look(**fields: object) -> bytes:
    body = {"v": 1, "venue": "lhasa", "tick": 1, "frame": 1, "cells": 1, "light": "AAAA"}
    body.update(fields)
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (_look(cells=2), "field 'light': 3 bytes, not 3 for each of 2 cells"),
        (_look(light="AAB="), "field 'light': not canonical base64 (spare bits or padding)"),
        (_look(light="AA AA"), "field 'light': not base64 (RFC 4648 §4)"),
        (_look(light="AA"), "field 'light': not base64 (RFC 4648 §4)"),
        (_look(light="AAA\u00e9"), "field 'light': not base64 (RFC 4648 §4)"),
        (_look(cells=MAX_LOOK_CELLS + 1), "field 'cells': input should be less than or equal"),
        (_look(venue="a/b"), "field 'venue': node name 'a/b' contains '/'"),
        (_look(frame=-1), "field 'frame': input should be greater than or equal to 0"),
    ],
)
def test_a_bad_look_is_refused_with_the_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(bus.BusPayloadError) as info:
        decode(Look, payload)
    assert info.value.reason.startswith(reason), info.value.reason


def test_the_largest_look_keeps_its_byte_budget() -> None:
    """docs/bus.md: at most 1,024 cells, about 4.3 KB of JSON for a 64-character venue id."""
    light = base64.b64encode(bytes(range(256)) * 12).decode()
    big = Look(venue="v" * 64, tick=2**53, frame=2**53, cells=MAX_LOOK_CELLS, light=light)
    data = encode(big)
    assert decode(Look, data) == big
    assert len(data) <= 4300, len(data)


def test_the_look_topic_is_per_venue() -> None:
    t = Topics("show")
    assert t.look("lhasa") == "citypulse/v1/show/look/lhasa"
    assert t.look_all == "citypulse/v1/show/look/+"
    assert t.parse("citypulse/v1/show/look/lhasa") == TopicRef(TopicKind.LOOK, "lhasa")
    assert t.parse("citypulse/v1/show/look") is None
    assert t.parse("citypulse/v1/show/look/a/b") is None
