"""L6 errors of the MQTT bus client: every aiomqtt or paho failure becomes one of these."""

from __future__ import annotations

from controller.errors import TransportError

__all__ = [
    "BusConnectError",
    "BusDisconnectedError",
    "BusError",
    "BusRefusedError",
    "BusTimeoutError",
]


class BusError(TransportError):
    """Something went wrong talking to the MQTT broker."""


class BusConnectError(BusError):
    """No connection: the broker is unreachable, did not answer, or refused (CONNACK).

    `reason_code` is the MQTT 5.0 CONNACK reason code when the broker refused; `permanent`
    is True when retrying with the same settings cannot help (bad credentials, not
    authorised, banned), so `connect_with_backoff` stops at once.
    """

    def __init__(
        self, message: str, *, reason_code: int | None = None, permanent: bool = False
    ) -> None:
        super().__init__(message)
        self.reason_code = reason_code
        self.permanent = permanent


class BusDisconnectedError(BusError):
    """The connection is gone (or was never made); close, then connect again."""


class BusTimeoutError(BusError, TimeoutError):
    """The broker did not acknowledge in time (SUBACK, PUBACK, UNSUBACK)."""


class BusRefusedError(BusError):
    """The broker refused an operation, e.g. a subscription its ACL forbids (SUBACK)."""

    def __init__(self, message: str, *, reason_code: int) -> None:
        super().__init__(message)
        self.reason_code = reason_code
