"""L6 the MQTT bus client: a thin async shell over aiomqtt (MQTT 5.0, TCP_NODELAY).

- `BusClient(url=..., client_id=..., ...)` is an async context manager; `connect()` and
  `aclose()` do the same by hand. Each connect builds a fresh aiomqtt client (aiomqtt
  wants one built inside a running loop), with a clean start: subscriptions do not
  survive a reconnect, so a caller that reconnects subscribes again.
- Reconnecting is the caller's business: when the connection drops, `publish`,
  `subscribe` and the `messages()` iterator raise `BusDisconnectedError`; the caller
  calls `aclose()`, then connects again. `connect_with_backoff` does the waiting on the
  injected `Clock` (exponential, capped) and gives up at once on a refusal that retrying
  cannot fix (bad user name or password, not authorised):

      client = BusClient(url=url, client_id="lhasa", will=...)
      try:
          await connect_with_backoff(client, clock=clock)
          await client.subscribe(topics.state)
          async for message in client.messages():
              ...
      except BusDisconnectedError:
          ...  # hold over, then loop back and connect again
      finally:
          await client.aclose()
- TCP_NODELAY is set on the socket. paho-mqtt leaves Nagle's algorithm on, and with QoS 1
  a PUBACK followed by the next PUBLISH then waits for the peer's delayed ACK: about
  40 ms per hop on Linux (RFC 896 with RFC 1122 §4.2.3.2 delayed ACKs). The broker needs
  the same on its side (mosquitto: `set_tcp_nodelay true`).
- MQTT 5.0 §3.3.2.3.3: `publish(..., expiry_s=N)` sets the Message Expiry Interval, so the
  broker drops a message it could not deliver within N seconds (a retained one too).
- The client announces a Maximum Packet Size (MQTT 5.0 §3.1.2.11.4) of `MAX_PACKET`, so
  the broker never sends it anything larger; payloads up to that size reach the caller,
  which checks its own, smaller limit (`controller.protocols.bus.MAX_PAYLOAD`).
- aiomqtt and paho errors never escape: they become `BusError` subclasses of
  `TransportError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import ssl
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, NamedTuple, Self, cast

import aiomqtt
from aiomqtt.exceptions import MqttConnectError
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from controller.transports.bus_address import BrokerAddress, BrokerUrlError, parse_broker_url
from controller.transports.bus_backoff import Backoff, connect_with_backoff
from controller.transports.bus_errors import (
    BusConnectError,
    BusDisconnectedError,
    BusError,
    BusRefusedError,
    BusTimeoutError,
)

__all__ = [
    "MAX_PACKET",
    "Backoff",
    "BrokerAddress",
    "BrokerUrlError",
    "BusClient",
    "BusConnectError",
    "BusDisconnectedError",
    "BusError",
    "BusMessage",
    "BusRefusedError",
    "BusTimeoutError",
    "Will",
    "connect_with_backoff",
    "parse_broker_url",
]

_log = logging.getLogger("citypulse.bus")
MAX_PACKET = 1 << 20  # bytes: larger publications are not delivered to this client
_NODELAY = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Will(NamedTuple):
    """The Last Will the broker publishes if the connection ends without a DISCONNECT."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class BusMessage:
    """One message received on a subscription."""

    topic: str
    payload: bytes
    qos: int
    retain: bool  # True: the broker's stored copy, sent on subscribing
    expiry_s: int | None = None  # remaining Message Expiry Interval, if the sender set one


def _fail_on_early_close(client: aiomqtt.Client) -> None:
    """Make a connection closed before CONNACK fail `__aenter__` at once.

    aiomqtt ignores a disconnect before CONNACK and waits for the CONNACK for ever (our
    `timeout_s` then ends it): a relay or a restarting broker that accepts the TCP
    connection and resets it held a reconnecting node for the whole timeout, 10 s, each
    attempt. The wrap reaches into aiomqtt's paho client and connection future (private,
    pinned by `aiomqtt>=2.5,<3`; tests/bus/test_connect.py checks the behaviour).
    """
    paho = client._client
    original = paho.on_disconnect

    def on_disconnect(*args: Any, **kwargs: Any) -> None:
        if original is not None:
            original(*args, **kwargs)
        connected = client._connected
        if not connected.done():
            connected.set_exception(aiomqtt.MqttError("the connection closed before CONNACK"))

    paho.on_disconnect = on_disconnect


class BusClient:
    """One connection to the broker; see the module docstring for the rules.

    - `will`: published by the broker (retained, QoS 1 by default) if this connection ends
      without a DISCONNECT; `aclose()` sends one, so it does not fire then.
    - `keepalive_s`: the broker drops a silent client (and publishes its Will) after 1.5
      times this (MQTT 5.0 §3.1.2.10).
    - `timeout_s`: the deadline for CONNACK, PUBACK, SUBACK and UNSUBACK. Our own
      `asyncio.timeout`, not aiomqtt's `asyncio.wait_for`, which in Python 3.11 can swallow
      a cancellation arriving with the answer (CPython gh-86296). paho's TCP connect runs
      in a thread with its own 5 s limit, so keep `timeout_s` at 5 s or more.
    - `max_queued`: received messages waiting for `messages()`; past it aiomqtt drops
      them (with a warning in its log).
    - `tcp_nodelay=False` exists to show what Nagle's algorithm costs; nodes never use it.
    - `connected` is True from a successful `connect()` until `aclose()`; a link that
      drops in between shows as `BusDisconnectedError` from the next operation.
    """

    def __init__(
        self,
        *,
        url: str | BrokerAddress,
        client_id: str,
        username: str | None = None,
        password: str | None = None,
        will: Will | tuple[str, bytes, int, bool] | None = None,
        tls: ssl.SSLContext | None = None,
        keepalive_s: int = 5,
        timeout_s: float = 10.0,
        max_queued: int = 10_000,
        tcp_nodelay: bool = True,
    ) -> None:
        self.address = url if isinstance(url, BrokerAddress) else parse_broker_url(url)
        if tls is not None and not self.address.tls:
            raise ValueError(f"a TLS context for {self.address}: use an mqtts:// URL")
        self.client_id = client_id
        self._username = username
        self._password = password
        self._will = None if will is None else Will(*will)
        self._tls = tls
        self._keepalive_s = keepalive_s
        self._timeout_s = timeout_s
        self._max_queued = max_queued
        self._tcp_nodelay = tcp_nodelay
        self._client: aiomqtt.Client | None = None

    @property
    def connected(self) -> bool:
        return self._client is not None

    def _build(self, tls: _TlsSockets | None) -> aiomqtt.Client:
        will = None
        if self._will is not None:
            will = aiomqtt.Will(
                self._will.topic, self._will.payload, self._will.qos, self._will.retain
            )
        connect_properties = _properties(PacketTypes.CONNECT)
        connect_properties.MaximumPacketSize = MAX_PACKET
        return aiomqtt.Client(
            self.address.host,
            self.address.port,
            identifier=self.client_id,
            username=self._username,
            password=self._password,
            protocol=aiomqtt.ProtocolVersion.V5,
            will=will,
            keepalive=self._keepalive_s,
            timeout=math.inf,  # deadlines are ours (`asyncio.timeout`), see `_operation`
            properties=connect_properties,
            tls_context=cast(ssl.SSLContext, tls),  # paho only calls wrap_socket on it
            max_queued_incoming_messages=self._max_queued,
            socket_options=[_NODELAY] if self._tcp_nodelay else [],
        )

    async def connect(self) -> None:
        """Connect (TCP, TLS, CONNECT, CONNACK within `timeout_s`) or raise `BusConnectError`."""
        if self._client is not None:
            raise RuntimeError(f"bus client {self.client_id!r} is already connected")
        tls = None
        if self.address.tls:
            tls = _TlsSockets(self._tls or ssl.create_default_context())
        client = self._build(tls)
        _fail_on_early_close(client)
        try:
            async with asyncio.timeout(self._timeout_s):
                await client.__aenter__()
        except BaseException as exc:  # a failed or cancelled connect leaves no socket open
            _discard(client, tls)
            if isinstance(exc, MqttConnectError):
                raise _refused(self.address, exc.rc) from exc
            if isinstance(exc, aiomqtt.MqttError):
                raise BusConnectError(f"cannot connect to {self.address}: {exc}") from exc
            if isinstance(exc, TimeoutError):
                raise BusConnectError(
                    f"cannot connect to {self.address}: no CONNACK within {self._timeout_s:g} s"
                ) from exc
            raise
        if tls is not None:
            tls.sockets.clear()
        self._client = client
        _log.debug("connected to %s as %s", self.address, self.client_id)

    async def aclose(self) -> None:
        """Disconnect (a clean DISCONNECT: the broker does not publish the Will). Idempotent."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            async with asyncio.timeout(self._timeout_s):
                await client.__aexit__(None, None, None)
        except (aiomqtt.MqttError, TimeoutError) as exc:  # gone, or no answer: drop the socket
            _log.debug("disconnect from %s: %r", self.address, exc)
            _discard(client, None)

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @contextlib.asynccontextmanager
    async def _operation(self, doing: str) -> AsyncIterator[None]:
        """Our errors, and our own deadline for the broker's answer (see the class)."""
        try:
            async with asyncio.timeout(self._timeout_s):
                with _mapped(self.address, doing):
                    yield
        except TimeoutError as exc:
            raise BusTimeoutError(
                f"{doing} on {self.address}: no answer within {self._timeout_s:g} s"
            ) from exc

    def _require(self) -> aiomqtt.Client:
        if self._client is None:
            raise BusDisconnectedError(f"bus client {self.client_id!r} is not connected")
        return self._client

    async def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int = 0,
        retain: bool = False,
        *,
        expiry_s: int | None = None,
    ) -> None:
        """Publish; with QoS 1, return once the broker acknowledged (PUBACK)."""
        properties = None
        if expiry_s is not None:
            if not 1 <= expiry_s <= 0xFFFFFFFF:  # MQTT 5.0 §3.3.2.3.3: Four Byte Integer
                raise ValueError(f"expiry_s={expiry_s} out of range 1..4294967295")
            properties = _properties(PacketTypes.PUBLISH)
            properties.MessageExpiryInterval = expiry_s
        client = self._require()
        async with self._operation(f"publish to {topic!r}"):
            await client.publish(topic, payload, qos, retain, properties, timeout=math.inf)

    async def subscribe(self, topic_filter: str, qos: int = 1) -> None:
        """Subscribe (SUBACK); `BusRefusedError` if the broker refuses (an ACL, say)."""
        client = self._require()
        async with self._operation(f"subscribe to {topic_filter!r}"):
            granted = await client.subscribe(topic_filter, qos, timeout=math.inf)
        for code in granted:
            if isinstance(code, ReasonCode) and code.is_failure:
                raise BusRefusedError(
                    f"{self.address} refused the subscription to {topic_filter!r}: {code}",
                    reason_code=code.value,
                )

    async def subscribe_all(self, topic_filters: Sequence[str], qos: int = 1) -> None:
        """Subscribe to every filter in one SUBSCRIBE (one round trip, MQTT 5 §3.8);
        `BusRefusedError` naming the first filter the broker refuses."""
        if not topic_filters:
            return
        client = self._require()
        pairs = [(f, qos) for f in topic_filters]
        async with self._operation(f"subscribe to {len(pairs)} filters"):
            granted = await client.subscribe(pairs, timeout=math.inf)
        for topic_filter, code in zip(topic_filters, granted, strict=False):
            if isinstance(code, ReasonCode) and code.is_failure:
                raise BusRefusedError(
                    f"{self.address} refused the subscription to {topic_filter!r}: {code}",
                    reason_code=code.value,
                )

    async def unsubscribe(self, topic_filter: str) -> None:
        client = self._require()
        async with self._operation(f"unsubscribe from {topic_filter!r}"):
            await client.unsubscribe(topic_filter, timeout=math.inf)

    def messages(self) -> AsyncIterator[BusMessage]:
        """Every message of every subscription, in arrival order, until the link drops.

        Cancelling a wait for the next message (a timeout, say) leaves the iterator usable.
        """
        return _Messages(self._require(), self.address)

    def tcp_nodelay(self) -> bool:
        """Whether the connected socket has TCP_NODELAY set (read back from the kernel)."""
        client = self._require()
        # aiomqtt 2.x gives no public handle on the socket; its paho client does.
        sock = client._client.socket()
        if not isinstance(sock, socket.socket):
            return False
        return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))


class _TlsSockets:
    """Stands in for the SSLContext given to paho-mqtt and remembers the sockets it wrapped.

    paho-mqtt 2.x leaves a TLS socket open when the handshake fails (certificate refused,
    say); `connect` closes what this recorded.
    """

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        self.sockets: list[ssl.SSLSocket] = []

    @property
    def check_hostname(self) -> bool:
        return self._context.check_hostname

    def wrap_socket(
        self,
        sock: socket.socket,
        server_hostname: str | None = None,
        do_handshake_on_connect: bool = True,
    ) -> ssl.SSLSocket:
        wrapped = self._context.wrap_socket(
            sock, server_hostname=server_hostname, do_handshake_on_connect=do_handshake_on_connect
        )
        self.sockets.append(wrapped)
        return wrapped


def _discard(client: aiomqtt.Client, tls: _TlsSockets | None) -> None:
    """Close whatever socket a failed connection left behind."""
    # paho-mqtt has no public "drop the connection now"; `_sock_close` also tells aiomqtt
    # (on_socket_close), which stops watching the socket.
    with contextlib.suppress(OSError):
        client._client._sock_close()
    for sock in tls.sockets if tls is not None else ():
        sock.close()


class _Messages:
    """aiomqtt's message iterator, yielding `BusMessage` and raising our errors."""

    def __init__(self, client: aiomqtt.Client, address: BrokerAddress) -> None:
        self._messages = client.messages
        self._address = address

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> BusMessage:
        with _mapped(self._address, "receive"):
            return _message(await anext(self._messages))


def _properties(packet_type: int) -> Properties:
    return Properties(packet_type)  # type: ignore[no-untyped-call]  # paho leaves it untyped


def _message(message: aiomqtt.Message) -> BusMessage:
    expiry = None
    properties = message.properties
    if properties is not None and hasattr(properties, "MessageExpiryInterval"):
        expiry = int(properties.MessageExpiryInterval)
    return BusMessage(
        topic=message.topic.value,
        payload=message.payload,
        qos=message.qos,
        retain=bool(message.retain),
        expiry_s=expiry,
    )


# MQTT 5.0 §3.2.2.2 CONNACK reason codes a retry with the same settings cannot cure.
_PERMANENT_REFUSALS = frozenset(
    {
        0x84,  # Unsupported Protocol Version
        0x85,  # Client Identifier not valid
        0x86,  # Bad User Name or Password
        0x87,  # Not authorized
        0x8A,  # Banned
        0x8C,  # Bad authentication method
    }
)


def _refused(address: BrokerAddress, rc: int | ReasonCode | None) -> BusConnectError:
    value = rc.value if isinstance(rc, ReasonCode) else rc
    text = str(rc) if isinstance(rc, ReasonCode) else f"code {rc}"
    return BusConnectError(
        f"{address} refused the connection: {text}",
        reason_code=value,
        permanent=value in _PERMANENT_REFUSALS,
    )


@contextlib.contextmanager
def _mapped(address: BrokerAddress, doing: str) -> Iterator[None]:
    """aiomqtt's errors as ours. With no aiomqtt deadline (timeout=inf), every MqttError
    of an operation on a connected client means the link is gone."""
    try:
        yield
    except aiomqtt.MqttError as exc:
        raise BusDisconnectedError(f"{doing} on {address}: {exc}") from exc
