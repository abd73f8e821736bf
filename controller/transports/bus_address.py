"""L6 broker URLs: `mqtt://host[:port]` (port 1883) and `mqtts://host[:port]` (TLS, 8883).

IANA service names: 1883 is `mqtt`, 8883 is `secure-mqtt`. IPv6 literals go in brackets
(RFC 3986 §3.2.2). Credentials never go in a URL (they would end up in logs and process
lists): they come from the node's credentials file.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from controller.errors import ControllerError

__all__ = ["BrokerAddress", "BrokerUrlError", "parse_broker_url"]

_DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


class BrokerUrlError(ControllerError, ValueError):
    """A broker URL that is not `mqtt://host[:port]` or `mqtts://host[:port]`."""


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool = False

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'mqtts' if self.tls else 'mqtt'}://{host}:{self.port}"


def parse_broker_url(url: str) -> BrokerAddress:
    """`mqtt://host:port` -> BrokerAddress, or `BrokerUrlError` saying what is wrong."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise BrokerUrlError(
            f"broker URL {url!r} must start with mqtt:// or mqtts:// (e.g. mqtt://127.0.0.1:1883)"
        )
    if parts.username is not None or parts.password is not None:
        raise BrokerUrlError(
            "broker URL must not carry a user name or password"
            " (they come from --credentials FILE)"  # and the URL is not echoed: it has a secret
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise BrokerUrlError(
            f"broker URL {url!r} has a path, query or fragment; expected host:port"
        )
    host = parts.hostname
    if not host:
        raise BrokerUrlError(f"broker URL {url!r} has no host")
    try:
        port = parts.port
    except ValueError as exc:
        raise BrokerUrlError(f"broker URL {url!r}: port must be a number 1..65535") from exc
    if port == 0:
        raise BrokerUrlError(f"broker URL {url!r}: port must be a number 1..65535")
    return BrokerAddress(host, port or _DEFAULT_PORTS[scheme], tls=scheme == "mqtts")
