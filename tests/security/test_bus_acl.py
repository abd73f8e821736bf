"""`bus init`'s deployment against a real mosquitto: logins, and who may publish what.

Each check publishes the forbidden messages first and an allowed one last, from the same
connection at QoS 1: the broker handles one client's publications in order, so when the
allowed message is the first to reach the subscriber, none of the forbidden ones will.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import pytest

from controller.cli import main
from controller.runtime.credentials import Credentials
from tests.security.deployments import (
    DIGITAL_NIGHT,
    client,
    credentials,
    free_port,
    running_broker,
)

pytestmark = pytest.mark.network
ROOT_TOPIC = "citypulse/v1/digital-night"
RECEIVE_TIMEOUT_S = 10.0  # a bound for a broken test, not a timing assumption


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One broker for the module: every check leaves the broker as it found it."""
    directory = tmp_path_factory.mktemp("bus") / "deploy"
    port = free_port()
    argv = ["bus", "init", str(DIGITAL_NIGHT), str(directory), "--listen", f"127.0.0.1:{port}"]
    assert main(argv) == 0
    with running_broker(directory, port):
        yield directory


async def first_delivered(
    watcher: Credentials, sender: Credentials, forbidden: list[str], allowed: str
) -> str:
    """Publish every `forbidden` topic, then `allowed`; the first topic `watcher` receives."""
    async with client(watcher, "watcher") as watch:
        await watch.subscribe(f"{ROOT_TOPIC}/#", qos=1)
        async with client(sender, "sender") as send:
            for topic in [*forbidden, allowed]:
                await send.publish(topic, b"{}", qos=1)
        async with asyncio.timeout(RECEIVE_TIMEOUT_S):
            message = await anext(aiter(watch.messages))
        return str(message.topic)


async def test_anonymous_and_wrong_passwords_are_refused(deployment: Path) -> None:
    venue = credentials(deployment, "venue-lhasa")
    address = venue.broker_address
    for username, password in ((None, None), ("venue-lhasa", "wrong"), ("nobody", "x")):
        with pytest.raises(aiomqtt.MqttError, match="Not authorized"):
            async with aiomqtt.Client(
                address.host,
                address.port,
                identifier="intruder",
                username=username,
                password=password,
                protocol=aiomqtt.ProtocolVersion.V5,
            ):
                pass


async def test_a_venue_publishes_only_its_own_status_and_time_requests(deployment: Path) -> None:
    forbidden = [
        f"{ROOT_TOPIC}/cmd/submit",
        f"{ROOT_TOPIC}/cmd/exec",
        f"{ROOT_TOPIC}/cmd/result",
        f"{ROOT_TOPIC}/state",
        f"{ROOT_TOPIC}/conductor/online",
        f"{ROOT_TOPIC}/time/resp/lhasa",
        f"{ROOT_TOPIC}/status/beijing",
        f"{ROOT_TOPIC}/time/req/beijing",
        "citypulse/v1/other-show/cmd/submit",
    ]
    conductor, lhasa = credentials(deployment, "conductor"), credentials(deployment, "venue-lhasa")
    got = await first_delivered(conductor, lhasa, forbidden, f"{ROOT_TOPIC}/status/lhasa")
    assert got == f"{ROOT_TOPIC}/status/lhasa"
    got = await first_delivered(conductor, lhasa, forbidden, f"{ROOT_TOPIC}/time/req/lhasa")
    assert got == f"{ROOT_TOPIC}/time/req/lhasa"


async def test_a_venue_publishes_only_its_own_look(deployment: Path) -> None:
    forbidden = [f"{ROOT_TOPIC}/look/beijing", f"{ROOT_TOPIC}/look/lhasa/x"]
    conductor, lhasa = credentials(deployment, "conductor"), credentials(deployment, "venue-lhasa")
    got = await first_delivered(conductor, lhasa, forbidden, f"{ROOT_TOPIC}/look/lhasa")
    assert got == f"{ROOT_TOPIC}/look/lhasa"
    operator = credentials(deployment, "operator")
    got = await first_delivered(conductor, operator, [f"{ROOT_TOPIC}/look/lhasa"],
                                f"{ROOT_TOPIC}/cmd/submit")  # fmt: skip
    assert got == f"{ROOT_TOPIC}/cmd/submit"


async def test_an_operator_only_submits_commands(deployment: Path) -> None:
    forbidden = [
        f"{ROOT_TOPIC}/cmd/exec",
        f"{ROOT_TOPIC}/cmd/result",
        f"{ROOT_TOPIC}/state",
        f"{ROOT_TOPIC}/status/lhasa",
        f"{ROOT_TOPIC}/time/resp/lhasa",
    ]
    conductor, operator = credentials(deployment, "conductor"), credentials(deployment, "operator")
    got = await first_delivered(conductor, operator, forbidden, f"{ROOT_TOPIC}/cmd/submit")
    assert got == f"{ROOT_TOPIC}/cmd/submit"


async def test_the_conductor_publishes_what_venues_read(deployment: Path) -> None:
    topics = [
        f"{ROOT_TOPIC}/state",
        f"{ROOT_TOPIC}/cmd/exec",
        f"{ROOT_TOPIC}/cmd/result",
        f"{ROOT_TOPIC}/time/resp/lhasa",
        f"{ROOT_TOPIC}/conductor/online",
        f"{ROOT_TOPIC}/cmd/submit",
    ]
    conductor, lhasa = credentials(deployment, "conductor"), credentials(deployment, "venue-lhasa")
    async with client(lhasa, "lhasa") as venue:
        await venue.subscribe(f"{ROOT_TOPIC}/#", qos=1)
        async with client(conductor, "conductor") as send:
            for topic in [*topics, f"{ROOT_TOPIC}/status/lhasa"]:  # the last one is not his
                await send.publish(topic, b"{}", qos=1)
            await send.publish(f"{ROOT_TOPIC}/state", b"end", qos=1)
        received = []
        async with asyncio.timeout(RECEIVE_TIMEOUT_S):
            async for message in venue.messages:
                if message.payload == b"end":
                    break
                received.append(str(message.topic))
    assert received == topics


LIAR = """
import asyncio, sys, aiomqtt
host, port, user, password, topic = sys.argv[1:]
async def main():
    will = aiomqtt.Will(topic, b"evil", 1, False)
    try:
        async with aiomqtt.Client(host, int(port), identifier="liar", username=user,
                                  password=password, will=will,
                                  protocol=aiomqtt.ProtocolVersion.V5):
            print("connected", flush=True)
            await asyncio.Event().wait()
    except aiomqtt.MqttError as exc:
        print("refused", exc, flush=True)
asyncio.run(main())
"""


async def test_a_venue_cannot_publish_a_command_as_its_last_will(deployment: Path) -> None:
    """mosquitto checks a Last Will against the ACL too: a forbidden one is never published."""
    conductor, lhasa = credentials(deployment, "conductor"), credentials(deployment, "venue-lhasa")
    address = lhasa.broker_address
    async with client(conductor, "watcher") as watch:
        await watch.subscribe(f"{ROOT_TOPIC}/#", qos=1)
        argv = [address.host, str(address.port), lhasa.username, lhasa.password]
        with subprocess.Popen(
            [sys.executable, "-c", LIAR, *argv, f"{ROOT_TOPIC}/cmd/submit"],
            stdout=subprocess.PIPE,
            text=True,
        ) as liar:
            assert liar.stdout is not None
            assert liar.stdout.readline() == "connected\n"
            liar.send_signal(signal.SIGKILL)  # no DISCONNECT: the broker sends the will, if any
            liar.wait()
        async with client(lhasa, "honest") as honest:
            await honest.publish(f"{ROOT_TOPIC}/status/lhasa", b"{}", qos=1)
        async with asyncio.timeout(RECEIVE_TIMEOUT_S):
            message = await anext(aiter(watch.messages))
        assert str(message.topic) == f"{ROOT_TOPIC}/status/lhasa"
