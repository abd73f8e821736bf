"""L8 what every bus node's command line shares: broker, credentials, audit log, logging, and
running an asyncio node until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import ssl
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from controller.errors import ArgumentError, ControllerError
from controller.runtime.audit import AuditLog
from controller.runtime.credentials import Credentials, load_credentials
from controller.transports.bus_address import BrokerUrlError, parse_broker_url
from controller.transports.mqtt import BusClient, Will

__all__ = [
    "add_bus_arguments",
    "audit_function",
    "bus_client",
    "configure_logging",
    "credentials_for",
    "run_until_signalled",
]


def add_bus_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--credentials",
        type=Path,
        required=True,
        metavar="FILE",
        help="this node's credentials (DIR/credentials/<role>.toml from `citypulse bus init`)",
    )
    p.add_argument(
        "--broker", metavar="URL", help="mqtt://host:port or mqtts://host:port (default: the "
        "credentials' broker)",
    )  # fmt: skip
    p.add_argument("--verbose", "-v", action="store_true", help="log what the node does")


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s: %(message)s",
        stream=sys.stderr,
    )


def credentials_for(args: argparse.Namespace, *, role_prefix: str) -> Credentials:
    """Load `--credentials` (located errors) and check it is a `role_prefix...` role."""
    creds = load_credentials(args.credentials)
    if not creds.role.startswith(role_prefix):
        raise ArgumentError(
            "--credentials", f"{args.credentials}: role {creds.role!r}; this command needs "
            f"the {role_prefix!r} credentials",
        )  # fmt: skip
    if args.broker is not None:
        try:
            parse_broker_url(args.broker)
        except BrokerUrlError as exc:
            raise ArgumentError("--broker", str(exc)) from exc
    return creds


def bus_client(
    args: argparse.Namespace, creds: Credentials, *, client_id: str, will: Will | None
) -> BusClient:
    url = args.broker or creds.broker
    tls = None
    if url.startswith("mqtts://"):
        tls = ssl.create_default_context(cafile=str(creds.tls_ca) if creds.tls_ca else None)
    return BusClient(
        url=url, client_id=client_id, username=creds.username, password=creds.password,
        will=will, tls=tls,
    )  # fmt: skip


def audit_function(path: Path | None, node: str) -> tuple[Callable[..., None], AuditLog | None]:
    """The cores' audit callback: to `path` (append-only JSON lines), or nowhere."""
    if path is None:
        return (lambda event, **fields: None), None
    try:
        log = AuditLog.open(path, node=node)
    except (OSError, ControllerError) as exc:
        raise ArgumentError("--audit", f"{path}: {exc}") from exc
    return log.record, log


def run_until_signalled(
    main: Callable[[], Coroutine[Any, Any, int]], stop: Callable[[], None]
) -> int:
    """Run `main()` on a new event loop; SIGINT and SIGTERM call `stop()` (a clean end)."""

    async def runner() -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop)
        return await main()

    return asyncio.run(runner())
