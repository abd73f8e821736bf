"""Scale-out: city B's mosquitto bridges `citypulse/v1/#` both ways to city A's (the main venue)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from controller.protocols.bus import ShowState, VenueStatus, decode, encode
from controller.transports.mqtt import BusClient
from tests.bus.broker import Broker
from tests.bus.payloads import STATE, TOPICS

pytestmark = pytest.mark.network

REPO = Path(__file__).resolve().parents[2]


async def test_retained_state_published_at_a_reaches_a_late_subscriber_at_b(
    bridged: tuple[Broker, Broker],
) -> None:
    city_a, city_b = bridged
    async with BusClient(url=city_a.url, client_id="beijing") as conductor:
        await conductor.publish(TOPICS.state, encode(STATE), qos=1, retain=True)
    async with BusClient(url=city_b.url, client_id="lhasa") as venue:
        await venue.subscribe(TOPICS.state)
        async with asyncio.timeout(5):
            message = await anext(venue.messages())
    assert message.retain is True  # B holds its own retained copy
    assert decode(ShowState, message.payload) == STATE


async def test_status_published_at_b_reaches_a_live_and_retained(
    bridged: tuple[Broker, Broker],
) -> None:
    city_a, city_b = bridged
    status = VenueStatus(venue="lhasa", online=True, timebase_state="locked", rtt_ms=60.0)
    async with BusClient(url=city_a.url, client_id="beijing") as conductor:
        await conductor.subscribe(TOPICS.status_all)
        async with BusClient(url=city_b.url, client_id="lhasa") as venue:
            await venue.publish(TOPICS.status("lhasa"), encode(status), qos=1, retain=True)
        async with asyncio.timeout(5):
            live = await anext(conductor.messages())
    assert decode(VenueStatus, live.payload) == status
    async with BusClient(url=city_a.url, client_id="monitor") as monitor:
        await monitor.subscribe(TOPICS.status_all)
        async with asyncio.timeout(5):
            retained = await anext(monitor.messages())
    assert retained.retain is True
    assert decode(VenueStatus, retained.payload) == status


async def test_a_will_fired_at_b_reaches_a(bridged: tuple[Broker, Broker]) -> None:
    city_a, city_b = bridged
    script = Path(__file__).with_name("will_child.py")
    env = os.environ | {"PYTHONPATH": str(REPO)}
    command = [sys.executable, str(script), city_b.url, TOPICS.show_id, "lhasa"]
    child = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL)
    try:
        async with BusClient(url=city_a.url, client_id="beijing") as conductor:
            await conductor.subscribe(TOPICS.status("lhasa"))
            messages = conductor.messages()
            async with asyncio.timeout(15):
                online = decode(VenueStatus, (await anext(messages)).payload)
            assert online.online is True
            child.kill()
            async with asyncio.timeout(5):
                will = decode(VenueStatus, (await anext(messages)).payload)
    finally:
        child.kill()
        child.wait()
    assert will == VenueStatus.offline("lhasa")


async def test_topics_outside_the_tree_are_not_bridged(bridged: tuple[Broker, Broker]) -> None:
    city_a, city_b = bridged
    async with (
        BusClient(url=city_a.url, client_id="beijing") as conductor,
        BusClient(url=city_b.url, client_id="lhasa") as venue,
    ):
        await conductor.subscribe("#")
        await venue.publish("private/lhasa/debug", b"local only", qos=1)
        await venue.publish(TOPICS.status("lhasa"), b"bridged", qos=1)
        async with asyncio.timeout(5):
            message = await anext(conductor.messages())
    assert message.topic == TOPICS.status("lhasa")  # the private one never crossed
