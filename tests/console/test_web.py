"""The console's HTTP surface over a real socket: login, CSRF, rate limits, the live socket."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import ClientSession, CookieJar, WSServerHandshakeError
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from controller.console.model import LiveModel
from controller.console.operator_link import OperatorLink
from controller.console.show_view import ShowView
from controller.console.users import OneTimeLogins, UsersFile
from controller.console.web import LOGIN_COOKIE, SESSION_COOKIE, ConsoleWeb
from controller.render.effects import default_registry
from controller.runtime.credentials import Credentials
from controller.show.load import load_show
from controller.testing import ManualClock
from controller.transports.mqtt import BusClient

pytestmark = pytest.mark.network

ROOT = Path(__file__).resolve().parents[2]
TRIO = ROOT / "tests" / "data" / "lockstep" / "trio.yaml"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def view() -> ShowView:
    return ShowView.of(load_show(TRIO, default_registry()))


class Console:
    def __init__(self, web: ConsoleWeb, server: TestServer, http: ClientSession) -> None:
        self.web, self.server, self.http = web, server, http

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    async def login_token(self) -> str:
        async with self.http.get(self.url("/api/session")) as r:
            token: str = (await r.json())["login_csrf"]
            return token

    async def login(
        self, user: str = "ada", password: str = PASSWORD
    ) -> tuple[int, dict[str, str]]:
        token = await self.login_token()
        async with self.http.post(self.url("/api/login"), json={"user": user, "password": password},
                                  headers={"X-CSRF-Token": token}) as r:  # fmt: skip
            return r.status, await r.json()


@pytest.fixture
async def console(view: ShowView, tmp_path: Path) -> AsyncIterator[Console]:
    users = UsersFile(tmp_path / "users.toml")
    users.set_password("ada", PASSWORD)
    creds = Credentials(role="operator", node="operator", show="trio", broker="mqtt://127.0.0.1:9",
                        username="operator", password="x",
                        signing_key=Ed25519PrivateKey.generate())  # fmt: skip
    client = BusClient(url="mqtt://127.0.0.1:9", client_id="t", username="u", password="p")
    clock = ManualClock(100.0)
    link = OperatorLink(model=LiveModel(view), creds=creds, client=client, clock=clock,
                        shared_offset=1_800_000_000.0)  # fmt: skip
    web = ConsoleWeb(link=link, users=users, one_time=OneTimeLogins(), clock=clock, secure=False,
                     hosts=None, describe=view.describe)  # fmt: skip
    server = TestServer(web.app(), host="127.0.0.1")
    await server.start_server()
    web.hosts = frozenset({f"127.0.0.1:{server.port}"})
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
        yield Console(web, server, http)
    await server.close()


async def test_the_page_and_its_files_come_from_the_package_with_a_strict_policy(
    console: Console,
) -> None:
    async with console.http.get(console.url("/")) as r:
        page = await r.text()
        assert r.status == 200
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
        assert r.headers["X-Frame-Options"] == "DENY"
    assert '<script src="/static/console.js"' in page
    assert "http" not in page.replace("http-equiv", "")  # nothing from another site
    for name in ("console.js", "console.css"):
        async with console.http.get(console.url(f"/static/{name}")) as r:
            assert r.status == 200


async def test_login_sets_an_httponly_strict_session_cookie(console: Console) -> None:
    token = await console.login_token()
    async with console.http.post(console.url("/api/login"), headers={"X-CSRF-Token": token},
                                 json={"user": "ada", "password": PASSWORD}) as r:  # fmt: skip
        assert r.status == 200
        body = await r.json()
        cookie = r.headers.getall("Set-Cookie")
    session = next(c for c in cookie if c.startswith(SESSION_COOKIE + "="))
    assert "HttpOnly" in session
    assert "SameSite=Strict" in session
    assert body["user"] == "ada"
    assert body["csrf"]
    async with console.http.get(console.url("/api/session")) as r:
        assert (await r.json()) == {"user": "ada", "csrf": body["csrf"]}


async def test_a_wrong_password_is_refused_and_logged(
    console: Console, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="citypulse.console"):
        status, body = await console.login(password="wrong password!")
    assert (status, body) == (401, {"error": "wrong user name or password"})
    assert "console login failed for user 'ada' from 127.0.0.1" in caplog.text


async def test_a_login_without_its_csrf_token_is_refused(console: Console) -> None:
    await console.login_token()  # the cookie is there, the header is not
    async with console.http.post(console.url("/api/login"),
                                 json={"user": "ada", "password": PASSWORD}) as r:  # fmt: skip
        assert r.status == 403
    assert LOGIN_COOKIE in {c.key for c in console.http.cookie_jar}


async def test_failed_logins_are_rate_limited_even_with_the_right_password(
    console: Console,
) -> None:
    for _ in range(5):
        assert (await console.login(password="wrong password!"))[0] == 401
    status, body = await console.login()
    assert status == 429
    assert "too many failed logins" in body["error"]
    console.web.clock.advance(31.0)  # type: ignore[attr-defined]
    assert (await console.login())[0] == 200


async def test_a_command_needs_the_session_and_its_csrf_token(console: Console) -> None:
    async with console.http.post(console.url("/api/command"), json={"verb": "go"}) as r:
        assert r.status == 401
    status, session = await console.login()
    assert status == 200
    async with console.http.post(console.url("/api/command"), json={"verb": "go"}) as r:
        assert (r.status, await r.json()) == (403, {"error": "missing or wrong CSRF token"})
    headers = {"X-CSRF-Token": session["csrf"]}
    async with console.http.post(console.url("/api/command"), json={"verb": "dance"},
                                 headers=headers) as r:  # fmt: skip
        assert r.status == 400
    async with console.http.post(console.url("/api/command"), json={"verb": "goto", "arg": "wait"},
                                 headers=headers) as r:  # fmt: skip
        record = await r.json()
        assert r.status == 202
    assert (record["user"], record["text"]) == ("ada", "GOTO wait")
    assert record["fate"] == "rejected"  # this console has no broker
    assert "not connected" in record["reason"]
    (line,) = [a for a in console.web.link.audit_lines if a["event"] == "received"]
    assert line["origin"] == "console:ada"


async def test_cross_origin_and_foreign_host_requests_are_refused(console: Console) -> None:
    _, session = await console.login()
    headers = {"X-CSRF-Token": session["csrf"], "Origin": "http://evil.example"}
    async with console.http.post(console.url("/api/command"), json={"verb": "go"},
                                 headers=headers) as r:  # fmt: skip
        assert (r.status, await r.json()) == (403, {"error": "cross-origin request refused"})
    async with console.http.get(console.url("/"), headers={"Host": "evil.example:80"}) as r:
        assert r.status == 403  # DNS rebinding onto a loopback console


async def test_the_socket_needs_a_session_then_says_hello_with_the_show(console: Console) -> None:
    with pytest.raises(WSServerHandshakeError) as refused:
        await console.http.ws_connect(console.url("/ws"))
    assert refused.value.status == 401
    await console.login()
    async with console.http.ws_connect(console.url("/ws")) as ws:
        hello = await ws.receive_json(timeout=5)
        assert hello["type"] == "hello"
        assert hello["user"] == "ada"
        assert [t["venue"] for t in hello["show"]["twins"]] == ["alpha", "beta", "gamma"]
        await console.web.broadcast(['{"type":"model"}'])
        assert (await ws.receive_json(timeout=5)) == {"type": "model"}


async def test_logging_out_ends_the_session_and_closes_its_sockets(console: Console) -> None:
    _, session = await console.login()
    async with console.http.ws_connect(console.url("/ws")) as ws:
        await ws.receive_json(timeout=5)
        async with console.http.post(console.url("/api/logout"),
                                     headers={"X-CSRF-Token": session["csrf"]}) as r:  # fmt: skip
            assert r.status == 200
        message = await ws.receive(timeout=5)
        assert ws.close_code == 4001 or message.data == 4001
    async with console.http.get(console.url("/api/session")) as r:
        assert (await r.json())["user"] is None
