"""Behind a TLS proxy: the session cookie is Secure when a trusted proxy says https, and only then."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import pytest
import uvicorn

from datadesk import store
from datadesk.cli.serve import server_options
from datadesk.db import make_engine
from tests.conftest import TEST_SECRET
from tests.processes import DATADESK, free_port, stop, wait_until_up

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
EMAIL, PASSWORD, WORKSPACE = "ada@example.com", "ada-password", "acme"


def _session_cookie(response: httpx.Response) -> SimpleCookie:
    cookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        cookie.load(header)
    assert "datadesk_session" in cookie, response.headers
    return cookie


def _secure(response: httpx.Response) -> bool:
    return bool(_session_cookie(response)["datadesk_session"]["secure"])


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A fresh embedded store with one workspace and its admin, made by `datadesk init`."""
    home = tmp_path_factory.mktemp("proxy") / "home"
    home.mkdir()
    values = {**os.environ, "DATADESK_HOME": str(home), "DATADESK_SECRET_KEY": TEST_SECRET}
    values.pop("DATADESK_DATABASE_URL", None)
    values.pop("DATADESK_FORWARDED_ALLOW_IPS", None)
    init = [
        *("init", "--workspace", WORKSPACE, "--admin-email", EMAIL, "--admin-password", PASSWORD),
    ]
    done = subprocess.run([DATADESK, *init], env=values, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return values


@pytest.fixture(scope="module")
def served(env: dict[str, str]) -> Iterator[str]:
    """`datadesk serve --forwarded-allow-ips 127.0.0.1` on a free port, as an operator starts it."""
    port = free_port()
    command = [DATADESK, "serve", "--port", str(port), "--forwarded-allow-ips", "127.0.0.1"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(server, url)
        yield url
    finally:
        stop(server)


def _login(client: httpx.Client, url: str, headers: dict[str, str]) -> httpx.Response:
    """Log in through the form, carrying the anonymous session by hand (a Secure cookie is not sent over http)."""
    page = client.get(f"{url}/login", headers=headers)
    assert page.status_code == 200, page.text
    anonymous = _session_cookie(page)["datadesk_session"].value
    found = _CSRF.search(page.text)
    assert found, "no CSRF field on the login form"
    response = client.post(
        f"{url}/login",
        data={"email": EMAIL, "password": PASSWORD, "workspace": WORKSPACE, "csrf_token": found.group(1)},
        headers={**headers, "cookie": f"datadesk_session={anonymous}"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return response


@pytest.mark.parametrize(
    ("source", "headers", "secure"),
    [
        ("127.0.0.1", {"x-forwarded-proto": "https"}, True),  # the proxy it trusts, terminating TLS
        ("127.0.0.1", {}, False),  # the same proxy, plain http
        ("127.0.0.2", {"x-forwarded-proto": "https"}, False),  # anyone else cannot claim https
    ],
)
def test_serve_makes_the_session_cookie_secure_only_for_a_trusted_proxy_saying_https(
    served: str, source: str, headers: dict[str, str], secure: bool
) -> None:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=30) as client:
        signed_in = _login(client, served, headers)
    assert _secure(signed_in) is secure
    cookie = _session_cookie(signed_in)["datadesk_session"]
    assert cookie["httponly"] and cookie["samesite"].lower() == "lax"


def test_the_setting_names_the_trusted_proxies_when_the_flag_is_not_given(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("DATADESK_HOME", "DATADESK_SECRET_KEY"):
        monkeypatch.setenv(name, env[name])
    monkeypatch.delenv("DATADESK_DATABASE_URL", raising=False)
    monkeypatch.setenv("DATADESK_FORWARDED_ALLOW_IPS", "10.8.0.0/24, 192.0.2.7")
    store.upgrade(make_engine(f"sqlite:///{Path(env['DATADESK_HOME']) / 'datadesk.db'}"))
    options = server_options("127.0.0.1", 0, 1)
    assert options["proxy_headers"] is True and options["forwarded_allow_ips"] == "10.8.0.0/24, 192.0.2.7"
    config = uvicorn.Config(**options)
    config.load()  # wraps the app exactly as `datadesk serve` has uvicorn do

    async def login_page_cookie(client_address: str) -> bool:
        transport = httpx.ASGITransport(app=config.loaded_app, client=(client_address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://datadesk.example") as client:
            return _secure(await client.get("/login", headers={"x-forwarded-proto": "https"}))

    assert asyncio.run(login_page_cookie("10.8.0.9")) is True
    assert asyncio.run(login_page_cookie("192.0.2.7")) is True
    assert asyncio.run(login_page_cookie("127.0.0.1")) is False  # no longer trusted: the setting replaced the default
    assert server_options("127.0.0.1", 0, 1, "*")["forwarded_allow_ips"] == "*"  # the flag wins over the setting
