"""L7 an operator's commands: from a verb and its text argument to a signed envelope.

`citypulse cmd` and the operator console share this path, so a command sent from either is
the same bytes on `cmd/submit`: `operator_command(verb, arg, origin=...)` builds and checks
the `Command`, `sign_command(creds, command, now)` signs it with the operator's key (an
envelope living `TTL_S` seconds), and `submit_once` publishes it on a connected client and
waits for the conductor's verdict. `origin` says who asked (`cli`, `console:<user>`); the
conductor keeps it in its audit log.
"""

from __future__ import annotations

import asyncio

from controller.clock import MonotonicClock, utc_anchor
from controller.protocols import bus
from controller.protocols.signing import new_nonce, sign
from controller.runtime.commands import Command, CommandError, CommandKind
from controller.runtime.credentials import Credentials
from controller.transports.mqtt import BusClient

__all__ = [
    "OPERATOR_VERBS",
    "TTL_S",
    "command_args",
    "host_shared_now",
    "operator_command",
    "sign_command",
    "submit_once",
]

OPERATOR_VERBS = ("arm", "go", "hold", "resume", "blackout", "goto", "seek", "master")
TTL_S = 30.0  # lifetime of an operator's envelope (the replay window allows up to 60 s)


def host_shared_now() -> float:
    """This host's UTC: an operator's host is NTP-disciplined like the conductor's."""
    return MonotonicClock().now() + utc_anchor()


def command_args(verb: str, arg: str | None) -> tuple[str | float | bool, ...]:
    """The typed arguments of `verb` from its text argument; `CommandError` says why not."""
    if verb in ("arm", "go", "hold", "resume", "status"):
        if arg is not None:
            raise CommandError(f"{verb} takes no argument, got {arg!r}")
        return ()
    if arg is None:
        raise CommandError(f"{verb} needs an argument")
    if verb == "blackout":
        if arg not in ("on", "off"):
            raise CommandError(f"blackout takes on or off, got {arg!r}")
        return (arg == "on",)
    if verb == "goto":
        return (arg,)
    try:
        return (float(arg),)
    except ValueError:
        raise CommandError(f"{verb} takes a number, got {arg!r}") from None


def operator_command(
    verb: str,
    arg: str | None,
    *,
    origin: str,
    exec_at: float | None = None,
    force: bool = False,
) -> Command:
    """A new operator command (fresh id); `CommandError` for a bad verb or argument."""
    if verb not in OPERATOR_VERBS:
        raise CommandError(f"{verb!r} is not one of {', '.join(OPERATOR_VERBS)}")
    values = command_args(verb, arg)
    return Command(kind=CommandKind(verb), args=values, origin=origin,
                   id=f"op-{new_nonce()[:12]}", exec_at=exec_at, force=force)  # fmt: skip


def sign_command(creds: Credentials, command: Command, now: float) -> bytes:
    """The envelope for `cmd/submit`, signed with the operator's key at shared time `now`."""
    if creds.signing_key is None:
        raise CommandError(f"the {creds.role!r} credentials carry no signing key")
    return sign(command.as_dict(), creds.role, creds.signing_key, now, TTL_S, new_nonce())


async def submit_once(
    client: BusClient, topics: bus.Topics, envelope: bytes, command_id: str, timeout: float
) -> bus.CommandResult | None:
    """Publish `envelope` on a connected client; the verdict on `command_id`, or None."""
    await client.subscribe(topics.cmd_result)
    await client.publish(topics.cmd_submit, envelope, qos=1)
    try:
        async with asyncio.timeout(timeout):
            async for message in client.messages():
                try:
                    result = bus.decode(bus.CommandResult, message.payload)
                except bus.BusPayloadError:
                    continue
                if result.id == command_id:
                    return result
    except TimeoutError:
        return None
    return None
