"""Connecting: back-off on the injected clock, credentials, a config written elsewhere, TLS."""

from __future__ import annotations

import asyncio
import getpass
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from controller.protocols.bus import ShowState, decode, encode
from controller.runtime.bus_link import BusLink
from controller.transports.mqtt import (
    Backoff,
    BusClient,
    BusConnectError,
    connect_with_backoff,
)
from tests.bus.broker import Broker, free_port
from tests.bus.conftest import Brokers
from tests.bus.payloads import STATE, TOPICS

pytestmark = pytest.mark.network


class JumpClock:
    """Virtual time that jumps to each deadline at once, recording every wait."""

    def __init__(self) -> None:
        self.t = 0.0
        self.waits: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep_until(self, deadline: float) -> None:
        self.waits.append(deadline - self.t)
        self.t = max(self.t, deadline)
        await asyncio.sleep(0)  # noqa: TID251 - yield to the loop, no time passes

    def wait_until(self, deadline: float) -> None:
        self.t = max(self.t, deadline)


def test_backoff_doubles_up_to_its_cap() -> None:
    backoff = Backoff(initial_s=0.1, factor=2.0, max_s=0.5)
    assert [backoff.delay_s(n) for n in range(1, 6)] == [0.1, 0.2, 0.4, 0.5, 0.5]


async def test_connect_with_backoff_waits_on_the_clock_until_the_broker_is_up(
    brokers: Brokers,
) -> None:
    broker = brokers.new("late", start=False)
    clock = JumpClock()
    failures: list[int] = []

    def on_retry(failed: int, error: BusConnectError, delay_s: float) -> None:
        failures.append(failed)
        assert not error.permanent
        if failed == 2:
            broker.start()

    client = BusClient(url=broker.url, client_id="lhasa")
    try:
        attempts = await connect_with_backoff(client, clock=clock, on_retry=on_retry)
        assert client.connected
    finally:
        await client.aclose()
    assert attempts == 3
    assert failures == [1, 2]
    assert clock.waits == pytest.approx([0.1, 0.2])


async def test_connect_with_backoff_gives_up_after_its_attempts(brokers: Brokers) -> None:
    broker = brokers.new("never", start=False)
    clock = JumpClock()
    client = BusClient(url=broker.url, client_id="lhasa")
    with pytest.raises(BusConnectError, match=r"^cannot connect to "):
        await connect_with_backoff(client, clock=clock, backoff=Backoff(attempts=3))
    assert clock.waits == pytest.approx([0.1, 0.2])
    assert not client.connected


async def test_a_link_told_to_stop_while_its_broker_is_down_stops(brokers: Brokers) -> None:
    """A node stopped (Ctrl-C) while its broker does not answer must not wait for it."""
    broker = brokers.new("down", start=False)
    clock = JumpClock()
    link = BusLink(client=BusClient(url=broker.url, client_id="lhasa"), clock=clock,
                   filters=("citypulse/v1/#",), handler=lambda message: None)  # fmt: skip
    running = asyncio.ensure_future(link.run())
    while len(clock.waits) < 3:  # retrying, and the waits jump: ends only when stopped
        await asyncio.sleep(0.001)  # noqa: TID251 - real time for the refused connects
    await link.stop()
    await asyncio.wait_for(running, timeout=5.0)
    assert not link.connected


def _password_file(directory: Path, users: dict[str, str]) -> Path:
    path = directory / "passwd"
    for i, (user, password) in enumerate(users.items()):
        create = ["-c"] if i == 0 else []
        subprocess.run(
            ["mosquitto_passwd", *create, "-b", str(path), user, password],
            check=True,
            capture_output=True,
        )
    return path


def _deployment_config(directory: Path, port: int) -> Path:
    """A config of the kind `citypulse bus init` writes: passwords, an ACL, persistence."""
    passwd = _password_file(directory, {"conductor": "c-secret", "venue-lhasa": "l-secret"})
    acl = directory / "acl"
    acl.write_text(
        "user conductor\ntopic readwrite citypulse/v1/#\n\n"
        "user venue-lhasa\ntopic read citypulse/v1/+/state\n"
        "topic write citypulse/v1/+/status/lhasa\n",
        encoding="utf-8",
    )
    config = directory / "mosquitto.conf"
    config.write_text(
        f"per_listener_settings false\nlistener {port} 127.0.0.1\nallow_anonymous false\n"
        f"password_file {passwd}\nacl_file {acl}\nset_tcp_nodelay true\n"
        f"persistence true\npersistence_location {directory}/\nuser {getpass.getuser()}\n",
        encoding="utf-8",
    )
    return config


async def test_a_config_written_elsewhere_runs_with_its_credentials_and_acl(
    brokers: Brokers, tmp_path: Path
) -> None:
    port = free_port()
    broker = brokers.from_config(_deployment_config(tmp_path, port))
    assert broker.url == f"mqtt://127.0.0.1:{port}"
    state_payload = encode(STATE)
    conductor = BusClient(
        url=broker.url, client_id="beijing", username="conductor", password="c-secret"
    )
    venue = BusClient(
        url=broker.url, client_id="lhasa", username="venue-lhasa", password="l-secret"
    )
    async with conductor, venue:
        await venue.subscribe(TOPICS.state)
        await venue.subscribe(TOPICS.cmd_submit)  # granted, but the ACL delivers nothing
        await conductor.publish(TOPICS.cmd_submit, b'{"v":1}', qos=1)
        await conductor.publish(TOPICS.state, state_payload, qos=1, retain=True)
        async with asyncio.timeout(5):
            message = await anext(venue.messages())
    assert message.topic == TOPICS.state
    assert decode(ShowState, message.payload) == STATE


async def test_bad_credentials_are_a_permanent_refusal(brokers: Brokers, tmp_path: Path) -> None:
    broker = brokers.from_config(_deployment_config(tmp_path, free_port()))
    clock = JumpClock()
    client = BusClient(url=broker.url, client_id="x", username="venue-lhasa", password="wrong")
    with pytest.raises(BusConnectError, match="refused the connection: Not authorized") as info:
        await connect_with_backoff(client, clock=clock)
    assert info.value.permanent is True
    assert info.value.reason_code == 0x87  # MQTT 5.0 §3.2.2.2: Not authorized
    assert clock.waits == []  # no retry


def _self_signed(directory: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl not found: run scripts/setup")
    cert, key = directory / "broker.crt", directory / "broker.key"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_mqtts_connects_with_a_trusted_certificate_and_keeps_nodelay(
    brokers: Brokers, tmp_path: Path
) -> None:
    cert, key = _self_signed(tmp_path)
    broker = brokers.new("tls", certfile=cert, keyfile=key)
    assert broker.url.startswith("mqtts://")
    trusted = ssl.create_default_context(cafile=str(cert))
    async with BusClient(url=broker.url, client_id="lhasa", tls=trusted) as client:
        assert client.tcp_nodelay() is True
        await client.subscribe("citypulse/v1/digital-night/state")
        await client.publish("citypulse/v1/digital-night/state", b"tls", qos=1)
        async with asyncio.timeout(5):
            assert (await anext(client.messages())).payload == b"tls"
    untrusted = BusClient(url=broker.url, client_id="lhasa")  # system CAs only
    with pytest.raises(BusConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        await untrusted.connect()


def test_a_tls_context_needs_an_mqtts_url(broker: Broker) -> None:
    with pytest.raises(ValueError, match=r"use an mqtts:// URL"):
        BusClient(url=broker.url, client_id="x", tls=ssl.create_default_context())
