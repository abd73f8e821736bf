"""L8 the console's HTTP and websocket surface (aiohttp): login, commands, the live socket.

    GET  /                 the page (static, from the package: no CDN)
    GET  /static/...       its script, style sheet and icon
    GET  /api/session      who is logged in and their CSRF token; else a login token
    POST /api/login        {"user", "password"}                 (X-CSRF-Token: login token)
    POST /api/logout                                             (X-CSRF-Token: session's)
    POST /api/command      {"verb", "arg"}                       (X-CSRF-Token: session's)
    GET  /ws               the live model and the looks          (session cookie)

Rules:
- Every state-changing request (POST) needs a valid token in `X-CSRF-Token` (the login
  token before login, the session's after) and, when the browser sends one, an `Origin`
  that is this console; else 403. The session cookie is HttpOnly and SameSite=Strict
  (Secure under TLS). The websocket needs the session cookie and this console's Origin.
- A console on a loopback address answers only requests whose Host names it (a page on
  another site resolving its name to 127.0.0.1, DNS rebinding, gets 403).
- Failed logins are logged with the address, and an address that fails too often waits
  (`LoginGuard`): 429 with Retry-After, the password not even checked.
- Responses carry a strict Content-Security-Policy (only this origin's script, style,
  images and socket) and are never framed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from controller.clock import Clock
from controller.console.operator_link import OperatorLink
from controller.console.sessions import LoginGuard, Session, Sessions, same_token
from controller.console.users import OneTimeLogins, UsersFile
from controller.runtime.commands import CommandError

__all__ = ["LOGIN_COOKIE", "SESSION_COOKIE", "ConsoleWeb", "static_dir"]

_log = logging.getLogger("citypulse.console")

SESSION_COOKIE = "citypulse_session"
LOGIN_COOKIE = "citypulse_login"
MAX_BODY = 16 * 1024
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def static_dir() -> Path:
    return Path(str(resources.files("controller.console") / "static"))


def _error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


class ConsoleWeb:
    def __init__(
        self,
        *,
        link: OperatorLink,
        users: UsersFile | None,
        one_time: OneTimeLogins,
        clock: Clock,
        secure: bool,
        hosts: frozenset[str] | None,
        describe: Callable[[], dict[str, Any]],
    ) -> None:
        self.link = link
        self.users = users
        self.one_time = one_time
        self.clock = clock
        self.secure = secure  # TLS: cookies are Secure
        self.hosts = hosts  # Host headers answered (loopback consoles), None: any
        self.describe = describe
        self.sessions = Sessions()
        self.guard = LoginGuard()
        self.sockets: dict[web.WebSocketResponse, str] = {}  # socket -> session token

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard_mw], client_max_size=MAX_BODY)
        app.router.add_get("/", self._index)
        app.router.add_static("/static/", static_dir(), show_index=False, follow_symlinks=False)
        app.router.add_get("/api/session", self._session)
        app.router.add_post("/api/login", self._login)
        app.router.add_post("/api/logout", self._logout)
        app.router.add_post("/api/command", self._command)
        app.router.add_get("/ws", self._socket)
        return app

    # -- every request -----------------------------------------------------------------------
    @web.middleware
    async def _guard_mw(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.hosts is not None and request.host.lower() not in self.hosts:
            return _error(403, f"this console does not answer for host {request.host!r}")
        if request.method == "POST" or request.path == "/ws":
            origin = request.headers.get("Origin")
            if origin is not None and origin != f"{request.scheme}://{request.host}":
                return _error(403, "cross-origin request refused")
        response = await handler(request)
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        if request.path.startswith("/api/"):
            headers.setdefault("Cache-Control", "no-store")
        return response

    def _cookie(self, response: web.StreamResponse, name: str, value: str) -> None:
        response.set_cookie(name, value, httponly=True, samesite="Strict", secure=self.secure,
                            path="/")  # fmt: skip

    def _current(self, request: web.Request) -> Session | None:
        return self.sessions.get(request.cookies.get(SESSION_COOKIE), self.clock.now())

    def _csrf_ok(self, request: web.Request, want: str | None) -> bool:
        return same_token(request.headers.get("X-CSRF-Token"), want)

    async def _json(self, request: web.Request) -> dict[str, Any] | None:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return None
        return body if isinstance(body, dict) else None

    # -- pages and login ---------------------------------------------------------------------
    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(static_dir() / "index.html")

    async def _session(self, request: web.Request) -> web.Response:
        session = self._current(request)
        if session is not None:
            return web.json_response({"user": session.user, "csrf": session.csrf})
        token = secrets.token_urlsafe(32)
        response = web.json_response({"user": None, "login_csrf": token})
        self._cookie(response, LOGIN_COOKIE, token)
        return response

    async def _login(self, request: web.Request) -> web.Response:
        address = request.remote or "?"
        if not self._csrf_ok(request, request.cookies.get(LOGIN_COOKIE)):
            return _error(403, "missing or wrong CSRF token")
        wait = self.guard.retry_after(address, self.clock.now())
        if wait is not None:
            _log.warning("console login from %s refused: too many failures", address)
            return _error(429, f"too many failed logins: wait {wait:.0f} s",
                          **{"Retry-After": str(max(1, round(wait)))})  # fmt: skip
        body = await self._json(request) or {}
        user, password = body.get("user"), body.get("password")
        if not isinstance(user, str) or not isinstance(password, str):
            return _error(400, 'send {"user": ..., "password": ...}')
        if not await self._check(user, password):
            lockout = self.guard.failed(address, self.clock.now())
            _log.warning("console login failed for user %r from %s%s", user[:64], address,
                         f"; locked out for {lockout:.0f} s" if lockout else "")  # fmt: skip
            return _error(401, "wrong user name or password")
        self.guard.succeeded(address)
        session = self.sessions.create(user, self.clock.now())
        _log.warning("console login: %s from %s", user, address)
        response = web.json_response({"user": user, "csrf": session.csrf})
        self._cookie(response, SESSION_COOKIE, session.token)
        response.del_cookie(LOGIN_COOKIE, path="/")
        return response

    async def _check(self, user: str, password: str) -> bool:
        if self.one_time.use(user, password):
            return True
        if self.users is None:
            return False
        users = self.users  # scrypt takes tens of milliseconds: off the event loop
        return await asyncio.get_running_loop().run_in_executor(None, users.check, user, password)

    async def _logout(self, request: web.Request) -> web.Response:
        session = self._current(request)
        if session is None or not self._csrf_ok(request, session.csrf):
            return _error(403, "missing or wrong CSRF token")
        self.sessions.end(session.token)
        for ws, token in list(self.sockets.items()):
            if token == session.token:
                await ws.close(code=4001, message=b"logged out")
        response = web.json_response({"user": None})
        response.del_cookie(SESSION_COOKIE, path="/")
        return response

    # -- commands ----------------------------------------------------------------------------
    async def _command(self, request: web.Request) -> web.Response:
        session = self._current(request)
        if session is None:
            return _error(401, "log in first")
        if not self._csrf_ok(request, session.csrf):
            return _error(403, "missing or wrong CSRF token")
        body = await self._json(request)
        if body is None or not isinstance(body.get("verb"), str):
            return _error(400, 'send {"verb": ..., "arg": ...}')
        arg = body.get("arg")
        if arg is not None and not isinstance(arg, str):
            arg = json.dumps(arg)
        try:
            record = await self.link.submit(session.user, body["verb"], arg)
        except CommandError as exc:
            return _error(400, str(exc))
        return web.json_response(record.as_dict(), status=202)

    # -- the live socket -------------------------------------------------------------------------
    async def _socket(self, request: web.Request) -> web.StreamResponse:
        session = self._current(request)
        if session is None:
            return _error(401, "log in first")
        ws = web.WebSocketResponse(heartbeat=10.0, max_msg_size=4096)
        await ws.prepare(request)
        self.sockets[ws] = session.token
        try:
            await ws.send_json({"type": "hello", "user": session.user, "show": self.describe()})
            async for message in ws:  # the page only listens; anything it says is ignored
                if message.type is WSMsgType.ERROR:
                    break
        finally:
            self.sockets.pop(ws, None)
        return ws

    async def broadcast(self, messages: list[str]) -> None:
        """Send to every live socket whose session is still valid; drop the slow ones."""
        now = self.clock.now()
        for ws, token in list(self.sockets.items()):
            if self.sessions.get(token, now) is None:
                await ws.close(code=4001, message=b"session ended")
                continue
            try:
                async with asyncio.timeout(1.0):
                    for text in messages:
                        await ws.send_str(text)
            except (TimeoutError, ConnectionError, RuntimeError):
                self.sockets.pop(ws, None)
                await ws.close(code=1011, message=b"too slow")
