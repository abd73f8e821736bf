"""The test broker itself: a clear failure without mosquitto, restarts on one port, persistence."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from controller.transports.mqtt import BusClient
from tests.bus import broker as broker_module
from tests.bus.broker import Broker
from tests.bus.conftest import Brokers
from tests.bus.payloads import TOPICS

pytestmark = pytest.mark.network


def test_missing_mosquitto_fails_and_says_to_run_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(broker_module, "MOSQUITTO", tmp_path / "no-mosquitto")
    with pytest.raises(pytest.fail.Exception, match="not found: run scripts/setup"):
        Broker(tmp_path).start()


async def _retained_state(url: str) -> bytes | None:
    async with BusClient(url=url, client_id="probe") as client:
        await client.subscribe(TOPICS.state)  # a retained state follows this SUBACK ...
        await client.subscribe(TOPICS.cmd_result)
        await client.publish(TOPICS.cmd_result, b"marker", qos=1)  # ... before this
        async with asyncio.timeout(5):
            message = await anext(client.messages())
    return message.payload if message.topic == TOPICS.state else None


@pytest.mark.parametrize("persistence", [False, True])
async def test_restart_keeps_the_port_and_retained_state_only_with_persistence(
    brokers: Brokers, persistence: bool
) -> None:
    broker = brokers.new(persistence=persistence)
    port = broker.port
    async with BusClient(url=broker.url, client_id="beijing") as conductor:
        await conductor.publish(TOPICS.state, b"state", qos=1, retain=True)
    assert await _retained_state(broker.url) == b"state"
    broker.restart()  # SIGTERM: mosquitto saves its database on the way out
    assert broker.port == port
    assert await _retained_state(broker.url) == (b"state" if persistence else None)
