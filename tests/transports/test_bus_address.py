"""Broker URLs: what `--broker` accepts, and the exact words for what it refuses."""

from __future__ import annotations

import pytest

from controller.errors import ControllerError
from controller.transports.bus_address import BrokerAddress, BrokerUrlError, parse_broker_url


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("mqtt://127.0.0.1:1883", BrokerAddress("127.0.0.1", 1883)),
        ("mqtt://broker.example", BrokerAddress("broker.example", 1883)),
        ("mqtts://broker.example", BrokerAddress("broker.example", 8883, tls=True)),
        ("MQTT://Host:99/", BrokerAddress("host", 99)),
        ("mqtt://[::1]:18830", BrokerAddress("::1", 18830)),
    ],
)
def test_urls_parse(url: str, address: BrokerAddress) -> None:
    assert parse_broker_url(url) == address


def test_an_address_prints_as_a_url() -> None:
    assert str(BrokerAddress("::1", 18830)) == "mqtt://[::1]:18830"
    assert str(BrokerAddress("h", 8883, tls=True)) == "mqtts://h:8883"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "http://h",
            "broker URL 'http://h' must start with mqtt:// or mqtts:// (e.g. mqtt://127.0.0.1:1883)",
        ),
        (
            "127.0.0.1:1883",
            (
                "broker URL '127.0.0.1:1883' must start with mqtt:// or mqtts://"
                " (e.g. mqtt://127.0.0.1:1883)"
            ),
        ),
        (
            "mqtt://user:s3cret@h",
            "broker URL must not carry a user name or password (they come from --credentials FILE)",
        ),
        (
            "mqtt://h/topic",
            "broker URL 'mqtt://h/topic' has a path, query or fragment; expected host:port",
        ),
        (
            "mqtt://h?x=1",
            "broker URL 'mqtt://h?x=1' has a path, query or fragment; expected host:port",
        ),
        ("mqtt://", "broker URL 'mqtt://' has no host"),
        ("mqtt://h:0", "broker URL 'mqtt://h:0': port must be a number 1..65535"),
        ("mqtt://h:65536", "broker URL 'mqtt://h:65536': port must be a number 1..65535"),
        ("mqtt://h:x", "broker URL 'mqtt://h:x': port must be a number 1..65535"),
    ],
)
def test_bad_urls_are_refused_with_the_reason(url: str, message: str) -> None:
    with pytest.raises(BrokerUrlError) as info:
        parse_broker_url(url)
    assert str(info.value) == message
    assert isinstance(info.value, ControllerError)
    assert "s3cret" not in str(info.value)
