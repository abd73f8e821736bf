"""`citypulse console --add-user`, and `serve_console` (what `citypulse demo --console` calls)."""

from __future__ import annotations

import asyncio
import io
import signal
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import ClientSession, CookieJar

from controller.cli import main
from controller.clock import MonotonicClock, utc_anchor
from controller.console import serve_console
from controller.console.users import UsersFile
from controller.runtime.tls_material import make_tls

pytestmark = pytest.mark.network

ROOT = Path(__file__).resolve().parents[2]
SHOW = ROOT / "tests" / "data" / "console" / "night.yaml"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `bus init` deployment whose broker never runs: the console keeps trying, and serves."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    directory = tmp_path_factory.mktemp("deploy") / "night"
    assert main(["bus", "init", str(SHOW), str(directory), "--listen", f"127.0.0.1:{port}"]) == 0
    return directory


def test_add_user_reads_the_password_from_stdin_and_saves_a_hash(
    deployment: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    operator = deployment / "credentials" / "operator.toml"
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    assert main(["console", str(SHOW), "--credentials", str(operator), "--add-user", "ada"]) == 0
    users = UsersFile.load(deployment / "console-users.toml")
    assert users.check("ada", "correct horse battery")
    assert "correct horse" not in (deployment / "console-users.toml").read_text()
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["console", str(SHOW), "--credentials", str(operator), "--add-user", "bob"]) == 2
    assert "error[A002]: --add-user: a password has 8 to 1024 characters" in capsys.readouterr().err


def test_the_console_refuses_to_start_without_users(
    tmp_path: Path, deployment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    operator = deployment / "credentials" / "operator.toml"
    argv = ["console", str(SHOW), "--credentials", str(operator), "--users", str(tmp_path / "u")]
    assert main(argv) == 2
    assert "--users: no console users in" in capsys.readouterr().err


async def _log_in(url: str, user: str, password: str) -> int:
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
        async with http.get(url + "api/session") as r:
            token = (await r.json())["login_csrf"]
        body = {"user": user, "password": password}
        async with http.post(url + "api/login", json=body, headers={"X-CSRF-Token": token}) as r:
            return r.status


def test_serve_console_gives_a_url_and_a_login_that_works_once(deployment: Path) -> None:
    running = serve_console(SHOW, deployment)
    try:
        assert running.url.startswith("http://127.0.0.1:")
        assert running.url in running.banner()
        assert running.password in running.banner()
        assert asyncio.run(_log_in(running.url, running.user, running.password)) == 200
        assert asyncio.run(_log_in(running.url, running.user, running.password)) == 401
    finally:
        running.close()
    assert not running._thread.is_alive()


async def _tls_login(url: str, ca: bytes, user: str, password: str) -> tuple[int, str]:
    context = ssl.create_default_context(cadata=ca.decode())
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
        async with http.get(url + "api/session", ssl=context) as r:
            token = (await r.json())["login_csrf"]
        body = {"user": user, "password": password}
        async with http.post(url + "api/login", json=body, headers={"X-CSRF-Token": token},
                             ssl=context) as r:  # fmt: skip
            return r.status, ";".join(r.headers.getall("Set-Cookie", []))


def test_beyond_loopback_the_console_serves_only_over_tls_with_secure_cookies(
    deployment: Path, tmp_path: Path
) -> None:
    tls = make_tls(["127.0.0.1"], show_id="night", now=MonotonicClock().now() + utc_anchor())
    (tmp_path / "c.pem").write_bytes(tls.server_cert)
    (tmp_path / "k.pem").write_bytes(tls.server_key)
    argv = [sys.executable, "-m", "controller", "console", str(SHOW), "--credentials",
            str(deployment / "credentials" / "operator.toml"), "--listen", "0.0.0.0:0",
            "--tls-cert", str(tmp_path / "c.pem"), "--tls-key", str(tmp_path / "k.pem"),
            "--one-time-login", "ada"]  # fmt: skip
    console = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert console.stdout is not None
        line = console.stdout.readline()  # console: https://0.0.0.0:PORT/  one-time login: ...
        words = line.split()
        assert words[1].startswith("https://0.0.0.0:"), line
        url = words[1].replace("0.0.0.0", "127.0.0.1")
        status, cookies = asyncio.run(_tls_login(url, tls.ca_cert, "ada", words[-1]))
        assert status == 200
        assert "Secure" in cookies
        assert "HttpOnly" in cookies
    finally:
        console.send_signal(signal.SIGINT)
        console.wait(15)
        if console.stdout is not None:
            console.stdout.close()


def test_a_busy_address_is_an_error_naming_listen(
    deployment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        argv = ["console", str(SHOW), "--credentials",
                str(deployment / "credentials" / "operator.toml"), "--listen",
                f"127.0.0.1:{port}", "--one-time-login", "ada"]  # fmt: skip
        assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"error[A002]: --listen: 127.0.0.1:{port}: " in err
    assert "Traceback" not in err
