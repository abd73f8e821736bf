"""BusClient against a real mosquitto: delivery, retained state, Wills, latency, expiry, errors."""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from controller.clock import MonotonicClock
from controller.protocols.bus import (
    BusPayloadError,
    ShowState,
    TimeRequest,
    TimeResponse,
    VenueStatus,
    decode,
    encode,
)
from controller.transports.mqtt import (
    BusClient,
    BusConnectError,
    BusDisconnectedError,
    BusMessage,
    BusTimeoutError,
    Will,
)
from tests.bus.broker import Broker
from tests.bus.conftest import Brokers
from tests.bus.payloads import STATE, TOPICS

pytestmark = pytest.mark.network
CLOCK = MonotonicClock()

REPO = Path(__file__).resolve().parents[2]


async def next_message(messages: AsyncIterator[BusMessage], timeout_s: float = 5.0) -> BusMessage:
    async with asyncio.timeout(timeout_s):
        return await anext(messages)


async def test_publish_subscribe_round_trip(broker: Broker) -> None:
    async with (
        BusClient(url=broker.url, client_id="beijing") as conductor,
        BusClient(url=broker.url, client_id="lhasa") as venue,
    ):
        await conductor.subscribe(TOPICS.time_req_all)
        request = TimeRequest(node="lhasa", seq=1, t1=12.5)
        await venue.publish(TOPICS.time_req("lhasa"), encode(request), qos=1)
        message = await next_message(conductor.messages())
    assert message.topic == "citypulse/v1/digital-night/time/req/lhasa"
    assert TOPICS.parse(message.topic) is not None
    assert decode(TimeRequest, message.payload) == request
    assert (message.qos, message.retain, message.expiry_s) == (1, False, None)


async def test_subscribe_all_takes_every_filter_in_one_subscribe(broker: Broker) -> None:
    async with (
        BusClient(url=broker.url, client_id="beijing") as conductor,
        BusClient(url=broker.url, client_id="lhasa") as venue,
    ):
        await conductor.subscribe_all([TOPICS.time_req_all, TOPICS.status_all])
        await venue.publish(
            TOPICS.time_req("lhasa"), encode(TimeRequest(node="lhasa", seq=1, t1=1.0)), qos=1
        )
        await venue.publish(TOPICS.status("lhasa"), b"{}", qos=1)
        topics = {(await next_message(conductor.messages())).topic for _ in range(2)}
    assert topics == {TOPICS.time_req("lhasa"), TOPICS.status("lhasa")}


async def test_sockets_have_tcp_nodelay(broker: Broker) -> None:
    async with BusClient(url=broker.url, client_id="a") as fast:
        assert fast.tcp_nodelay() is True
    async with BusClient(url=broker.url, client_id="b", tcp_nodelay=False) as slow:
        assert slow.tcp_nodelay() is False


async def test_retained_state_reaches_a_late_subscriber(broker: Broker) -> None:
    async with BusClient(url=broker.url, client_id="beijing") as conductor:
        await conductor.publish(TOPICS.state, encode(STATE), qos=1, retain=True)
    async with BusClient(url=broker.url, client_id="lhasa") as venue:
        await venue.subscribe(TOPICS.state)
        message = await next_message(venue.messages())
    assert message.retain is True
    assert decode(ShowState, message.payload) == STATE


def _start_venue(broker: Broker, venue: str) -> subprocess.Popen[bytes]:
    env = os.environ | {"PYTHONPATH": str(REPO)}
    script = Path(__file__).with_name("will_child.py")
    command = [sys.executable, str(script), broker.url, TOPICS.show_id, venue]
    return subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL)


async def test_last_will_fires_when_a_venue_is_killed(broker: Broker) -> None:
    child = _start_venue(broker, "lhasa")
    try:
        async with BusClient(url=broker.url, client_id="monitor") as monitor:
            await monitor.subscribe(TOPICS.status("lhasa"))
            messages = monitor.messages()
            online = decode(VenueStatus, (await next_message(messages, 15.0)).payload)
            assert online.online is True
            child.kill()  # SIGKILL: the connection ends without a DISCONNECT
            will = decode(VenueStatus, (await next_message(messages)).payload)
    finally:
        child.kill()
        child.wait()
    assert will == VenueStatus.offline("lhasa")
    async with BusClient(url=broker.url, client_id="late") as late:  # the Will is retained
        await late.subscribe(TOPICS.status_all)
        retained = await next_message(late.messages())
    assert retained.retain is True
    assert decode(VenueStatus, retained.payload).online is False


async def test_a_clean_close_does_not_fire_the_will(broker: Broker) -> None:
    topic = TOPICS.status("lhasa")
    will = Will(topic, encode(VenueStatus.offline("lhasa")))
    async with BusClient(url=broker.url, client_id="lhasa", will=will) as venue:
        online = VenueStatus(venue="lhasa", online=True)
        await venue.publish(topic, encode(online), qos=1, retain=True)
    async with BusClient(url=broker.url, client_id="late") as late:
        await late.subscribe(topic)
        retained = await next_message(late.messages())
    assert decode(VenueStatus, retained.payload).online is True


async def _median_round_trip_ms(
    url: str, *, qos: int, rounds: int, tcp_nodelay: bool = True
) -> float:
    """Time requests answered by a responder through the broker; the median round trip."""
    requester = BusClient(url=url, client_id="lhasa", tcp_nodelay=tcp_nodelay)
    responder = BusClient(url=url, client_id="beijing", tcp_nodelay=tcp_nodelay)

    async def respond() -> None:
        async for message in responder.messages():
            request = decode(TimeRequest, message.payload)
            now = CLOCK.now()
            reply = TimeResponse(seq=request.seq, t1=request.t1, t2=now, t3=CLOCK.now())
            await responder.publish(TOPICS.time_resp(request.node), encode(reply), qos=qos)

    round_trips = []
    async with requester, responder, asyncio.TaskGroup() as group:
        await responder.subscribe(TOPICS.time_req_all, qos=qos)
        await requester.subscribe(TOPICS.time_resp("lhasa"), qos=qos)
        task = group.create_task(respond(), name="responder")
        replies = requester.messages()
        for seq in range(rounds):
            t1 = CLOCK.now()
            request = TimeRequest(node="lhasa", seq=seq, t1=t1)
            await requester.publish(TOPICS.time_req("lhasa"), encode(request), qos=qos)
            reply = decode(TimeResponse, (await next_message(replies)).payload)
            assert (reply.seq, reply.t1) == (seq, t1)
            round_trips.append((CLOCK.now() - t1) * 1000.0)
        task.cancel()
    return statistics.median(round_trips)


@pytest.mark.parametrize("qos", [0, 1])
async def test_time_exchange_round_trip_median_is_under_5_ms(broker: Broker, qos: int) -> None:
    # Nagle plus delayed ACKs would put the median at 40 ms or more (per hop).
    median = await _median_round_trip_ms(broker.url, qos=qos, rounds=50)
    assert median < 5.0, f"median round trip {median:.1f} ms: TCP_NODELAY missing somewhere?"


async def test_without_tcp_nodelay_the_delayed_ack_signature_appears(brokers: Brokers) -> None:
    # The check above can fail: Nagle's algorithm on the client, or on the broker, costs a
    # delayed ACK (40 ms on Linux) per QoS 1 exchange.
    broker = brokers.new("nagle-broker", tcp_nodelay=False)
    assert await _median_round_trip_ms(broker.url, qos=1, rounds=6) > 20.0
    client_side = brokers.new("nagle-client")
    slow = await _median_round_trip_ms(client_side.url, qos=1, rounds=6, tcp_nodelay=False)
    assert slow > 20.0


async def test_message_expiry_drops_a_stale_retained_message(broker: Broker) -> None:
    stale, fresh = TOPICS.cmd_exec, TOPICS.state
    async with BusClient(url=broker.url, client_id="beijing") as conductor:
        await conductor.publish(stale, b'{"v":1}', qos=1, retain=True, expiry_s=1)
        await conductor.publish(fresh, encode(STATE), qos=1, retain=True)
        async with BusClient(url=broker.url, client_id="early") as early:
            await early.subscribe(stale)
            message = await next_message(early.messages())
            assert message.expiry_s == 1  # delivered in time, with what is left of it
        await CLOCK.sleep_until(CLOCK.now() + 1.1)
    async with BusClient(url=broker.url, client_id="late") as late:
        # Retained messages follow their SUBACK in order: had the stale one survived, it
        # would arrive before the state.
        await late.subscribe(stale)
        await late.subscribe(fresh)
        message = await next_message(late.messages())
    assert message.topic == fresh


async def test_a_bad_payload_is_refused_and_the_next_good_one_is_read(broker: Broker) -> None:
    async with (
        BusClient(url=broker.url, client_id="beijing") as conductor,
        BusClient(url=broker.url, client_id="lhasa") as venue,
    ):
        await venue.subscribe(TOPICS.state)
        messages = venue.messages()
        await conductor.publish(TOPICS.state, b'{"v":1,"show_id":"digital-night"', qos=1)
        await conductor.publish(TOPICS.state, b"x" * 70_000, qos=1)
        await conductor.publish(TOPICS.state, encode(STATE), qos=1)
        reasons = []
        for _ in range(2):
            with pytest.raises(BusPayloadError) as info:
                decode(ShowState, (await next_message(messages)).payload)
            reasons.append(info.value.reason)
        assert decode(ShowState, (await next_message(messages)).payload) == STATE
    assert reasons == [
        "not JSON: expecting ',' delimiter at line 1 column 33",
        "payload of 70000 bytes over the 65536-byte limit",
    ]


async def test_broker_outage_raises_disconnected_and_the_same_url_works_again(
    broker: Broker,
) -> None:
    client = BusClient(url=broker.url, client_id="lhasa")
    await client.connect()
    try:
        await client.subscribe(TOPICS.state)
        messages = client.messages()
        broker.kill()
        with pytest.raises(BusDisconnectedError, match=r"receive on mqtt://127\.0\.0\.1:"):
            await next_message(messages)
        with pytest.raises(BusDisconnectedError):
            await client.publish(TOPICS.status("lhasa"), b"{}", qos=1)
    finally:
        await client.aclose()
    broker.start()  # same port
    async with BusClient(url=broker.url, client_id="lhasa") as again:
        await again.subscribe(TOPICS.state)  # a reconnect starts clean: subscribe again
        await again.publish(TOPICS.state, encode(STATE), qos=1)
        assert decode(ShowState, (await next_message(again.messages())).payload) == STATE


async def test_unreachable_broker_is_a_connect_error(brokers: Brokers) -> None:
    silent = brokers.new("silent", start=False)  # a free port nobody listens on
    with pytest.raises(
        BusConnectError, match=r"^cannot connect to mqtt://127\.0\.0\.1:\d+: "
    ) as info:
        async with BusClient(url=silent.url, client_id="lhasa"):
            pass
    assert info.value.permanent is False


async def test_a_server_that_never_answers_is_a_connect_timeout_leaving_no_socket() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        url = f"mqtt://127.0.0.1:{server.getsockname()[1]}"
        client = BusClient(url=url, client_id="lhasa", timeout_s=0.3)
        with pytest.raises(BusConnectError, match=r": no CONNACK within 0\.3 s$"):
            await client.connect()
        assert not client.connected
        connection, _ = server.accept()
        with connection:
            connection.settimeout(5.0)
            received = b""
            while chunk := connection.recv(4096):  # until EOF: the client closed its end
                received += chunk
    assert received[0] == 0x10  # a CONNECT packet (MQTT 5.0 §2.1.2), then nothing


async def test_a_connection_reset_before_connack_fails_at_once_not_at_the_timeout() -> None:
    # A relay whose far side is down (or a broker restarting) accepts, then resets: the
    # attempt must end then, so a reconnecting node tries again within its back-off.
    async def reset_at_once(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.transport.abort()

    server = await asyncio.start_server(reset_at_once, "127.0.0.1", 0)
    async with server:
        url = f"mqtt://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        client = BusClient(url=url, client_id="lhasa", timeout_s=10.0)
        started = CLOCK.now()
        with pytest.raises(BusConnectError, match=r"closed before CONNACK|reset|refused"):
            await client.connect()
        took = CLOCK.now() - started
    assert not client.connected
    assert took < 2.0  # not the 10 s CONNACK deadline


async def test_a_stalled_broker_is_a_timeout(broker: Broker) -> None:
    async with BusClient(url=broker.url, client_id="lhasa", timeout_s=0.3) as client:
        broker.pause()
        try:
            with pytest.raises(BusTimeoutError, match=r"no answer within 0\.3 s$"):
                await client.publish(TOPICS.status("lhasa"), b"{}", qos=1)
        finally:
            broker.resume()
        await client.publish(TOPICS.status("lhasa"), b"{}", qos=1)  # still connected
