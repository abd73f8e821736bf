"""L8 the console running: the operator link, the web server and the pushes to the pages.

`ConsoleServer` owns one asyncio task group: the bus link (reconnecting), the aiohttp site,
and the push loop that sends every page the live model `push_hz` times a second, with the
looks that arrived since the last push. `serve_console` runs one in a thread of its own for
`citypulse demo --console`: a one-time login, the URL, and `close()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from controller.clock import Clock, MonotonicClock, utc_anchor
from controller.console.model import LiveModel
from controller.console.operator_link import OperatorLink
from controller.console.show_view import ShowView
from controller.console.users import OneTimeLogins, UsersFile
from controller.console.web import ConsoleWeb
from controller.render.effects import default_registry
from controller.runtime.audit import AuditLog
from controller.runtime.credentials import Credentials, load_credentials
from controller.show.load import load_show
from controller.transports.mqtt import BusClient

__all__ = ["ConsoleOptions", "ConsoleServer", "RunningConsole", "is_loopback", "serve_console"]

PUSH_HZ = 10.0


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsoleOptions:
    host: str = "127.0.0.1"
    port: int = 8080  # 0: any free port (`ConsoleServer.url` tells which)
    tls: ssl.SSLContext | None = None
    push_hz: float = PUSH_HZ


def _hosts(host: str, port: int) -> frozenset[str] | None:
    """Host headers a loopback console answers; None (any) for other addresses."""
    if not is_loopback(host):
        return None
    return frozenset(f"{name}:{port}" for name in ("127.0.0.1", "localhost", "[::1]"))


class ConsoleServer:
    def __init__(
        self,
        *,
        show: ShowView,
        creds: Credentials,
        client: BusClient,
        clock: Clock,
        shared_offset: float,
        users: UsersFile | None,
        one_time: OneTimeLogins,
        options: ConsoleOptions,
        audit: AuditLog | None = None,
    ) -> None:
        self.show = show
        self.clock = clock
        self.options = options
        self.model = LiveModel(show)
        self.link = OperatorLink(model=self.model, creds=creds, client=client, clock=clock,
                                 shared_offset=shared_offset, audit=audit)  # fmt: skip
        self.users = users
        self.one_time = one_time
        self.web: ConsoleWeb | None = None
        self.url: str | None = None
        self.ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._sent_looks: dict[str, int] = {}

    def stop(self) -> None:
        self._stop.set()

    async def run(self, on_ready: Callable[[str], None] | None = None) -> None:
        """Serve until `stop()`; once the site listens, `url` is set, `ready` fires and
        `on_ready(url)` is called. `OSError` when the address cannot be bound."""
        opts = self.options
        self.web = ConsoleWeb(
            link=self.link, users=self.users, one_time=self.one_time, clock=self.clock,
            secure=opts.tls is not None, hosts=None, describe=self.show.describe,
        )  # fmt: skip
        runner = web.AppRunner(self.web.app(), access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, opts.host, opts.port, ssl_context=opts.tls)
            await site.start()
            port = self._bound_port(runner, opts.port)
            self.web.hosts = _hosts(opts.host, port)
            scheme = "https" if opts.tls else "http"
            shown = f"[{opts.host}]" if ":" in opts.host else opts.host
            self.url = f"{scheme}://{shown}:{port}/"
            self.ready.set()
            if on_ready is not None:
                on_ready(self.url)
            async with asyncio.TaskGroup() as group:
                link = group.create_task(self.link.link.run(), name="console-bus")
                push = group.create_task(self._push(), name="console-push")
                await self._stop.wait()
                await self.link.link.stop()
                link.cancel()  # it may be waiting for a broker to come back
                push.cancel()
        finally:
            await runner.cleanup()

    @staticmethod
    def _bound_port(runner: web.AppRunner, wanted: int) -> int:
        for address in runner.addresses:  # (host, port[, flow, scope])
            return int(address[1])
        return wanted

    def messages(self) -> list[str]:
        """What the pages get now: the model, then each look that is new since last time."""
        now = self.link.shared_now()
        snapshot = self.model.snapshot(now)
        snapshot["audit"] = list(self.link.audit_lines)[-20:][::-1]
        out = [json.dumps(snapshot, separators=(",", ":"), allow_nan=False)]
        for venue, look in self.model.looks.items():
            count = self.model.look_counts.get(venue, 0)
            if self._sent_looks.get(venue) != count:
                self._sent_looks[venue] = count
                out.append(json.dumps({"type": "look", "venue": venue, "tick": look.tick,
                                       "frame": look.frame, "light": look.light}))  # fmt: skip
        return out

    async def _push(self) -> None:
        period = 1.0 / self.options.push_hz
        next_at = self.clock.now()
        while True:
            if self.web is not None and self.web.sockets:
                await self.web.broadcast(self.messages())
            next_at = max(next_at + period, self.clock.now())
            await self.clock.sleep_until(next_at)


@dataclass(slots=True)
class RunningConsole:
    """A console serving in a thread of its own (see `serve_console`)."""

    url: str
    user: str
    password: str  # one-time: it logs in once
    _server: ConsoleServer
    _loop: asyncio.AbstractEventLoop
    _thread: threading.Thread

    def banner(self) -> str:
        return f"operator console: {self.url}  (one-time login: {self.user} / {self.password})"

    def close(self, timeout: float = 10.0) -> None:
        with contextlib.suppress(RuntimeError):  # the loop already ended
            self._loop.call_soon_threadsafe(self._server.stop)
        self._thread.join(timeout)


def serve_console(
    show: Path,
    deployment: Path,
    *,
    broker: str | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    user: str = "operator",
    start_timeout: float = 30.0,
) -> RunningConsole:
    """Serve the console for `show` with the operator credentials of `deployment` (a `bus
    init` directory), in a daemon thread, on loopback; a one-time login for `user`.

    For `citypulse demo --console`: print `banner()`, and `close()` at the end.
    """
    if not is_loopback(host):
        raise ValueError(f"host={host!r}: serve_console serves loopback only (no TLS here)")
    creds = load_credentials(deployment / "credentials" / "operator.toml")
    view = ShowView.of(load_show(show, default_registry()))
    one_time = OneTimeLogins()
    password = one_time.issue(user)
    clock = MonotonicClock()
    loop = asyncio.new_event_loop()
    holder: dict[str, ConsoleServer] = {}
    failed: list[BaseException] = []

    def main() -> None:
        async def run() -> None:
            client = BusClient(url=broker or creds.broker, client_id="console-demo",
                               username=creds.username, password=creds.password)  # fmt: skip
            server = ConsoleServer(
                show=view, creds=creds, client=client, clock=clock, shared_offset=utc_anchor(),
                users=None, one_time=one_time, options=ConsoleOptions(host=host, port=port),
            )  # fmt: skip
            holder["server"] = server
            await server.run()

        try:
            loop.run_until_complete(run())
        except BaseException as exc:
            failed.append(exc)
        finally:
            loop.close()

    thread = threading.Thread(target=main, name="citypulse-console", daemon=True)
    thread.start()
    deadline = clock.now() + start_timeout
    while not ("server" in holder and holder["server"].url) and thread.is_alive():
        if clock.now() > deadline:
            raise TimeoutError("the console did not start listening")
        clock.wait_until(clock.now() + 0.02)
    if failed or "server" not in holder or holder["server"].url is None:
        raise RuntimeError(f"the console did not start: {failed[0] if failed else 'stopped'}")
    server = holder["server"]
    assert server.url is not None
    return RunningConsole(server.url, user, password, server, loop, thread)
