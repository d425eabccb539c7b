"""Attacks on the sidebar's workspace switch (9709ae9) and on *** in integration URLs (8a1c14c).

Each test passes when the system is safe. Those saying "was a hole" failed on 8a1c14c, before the fix
that followed it.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker

from datadesk.catalog.integrations import _unmask
from datadesk.db import StoreSession
from datadesk.errors import Invalid
from datadesk.identity.models import Role
from datadesk.web.session import COOKIE
from tests.catalog.helpers import add_integration
from tests.catalog.test_integrations import SECRET_PASSWORD, pg_url
from tests.dbs import PG_HOST, PG_PORT
from tests.identity.test_attack_switch import add_to
from tests.web.conftest import csrf_of, sign_in
from tests.world import PASSWORD, World

Sessions = sessionmaker[StoreSession]
PLANTED = "planted-by-alpha-admin"


def web_login(client: TestClient, email: str, password: str, workspace: str = "alpha") -> str:
    client.cookies.clear()
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={"email": email, "password": password, "workspace": workspace, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/").text)


def web_switch(client: TestClient, csrf: str | None, workspace: str) -> Any:
    data = {"workspace": workspace} | ({"csrf_token": csrf} if csrf is not None else {})
    return client.post("/switch", data=data, follow_redirects=False)


# --- the sidebar switch -------------------------------------------------------------------------


def test_a_planted_web_login_shows_and_reaches_nothing_of_b(client: TestClient, world: World) -> None:
    added = client.post(
        "/api/v1/members",
        json={"email": world.b.admin.email, "role": "viewer", "password": PLANTED},
        headers=world.a.admin.headers,
    )
    assert added.status_code == 201
    csrf = web_login(client, world.b.admin.email, PLANTED)
    page = client.get("/").text
    assert (
        'action="/switch"' not in page
        and "BETA" not in page
        and "beta" not in page.lower().replace(world.b.admin.email, "")
    )
    for slug in ("beta", "BETA", " beta", "no-such-workspace"):
        refused = web_switch(client, csrf, slug)
        assert refused.status_code == 404, (slug, refused.status_code)
        assert "BETA" not in refused.text and world.b.id not in refused.text
    assert client.get("/", follow_redirects=False).status_code == 200  # still signed in, still in A
    assert '<span class="workspace-name">ALPHA</span>' in client.get("/").text


def test_the_switch_form_needs_this_sessions_csrf_token(client: TestClient, world: World) -> None:
    other_csrf = sign_in(client, world.b.viewer, "beta")
    csrf = sign_in(client, world.a.admin)
    assert other_csrf != csrf
    for sent in (None, "", other_csrf, csrf + "x"):
        refused = web_switch(client, sent, "alpha")
        assert refused.status_code == 403, sent
    assert web_switch(client, csrf, "alpha").status_code == 303  # the real one works (renews in place)


def test_a_replayed_cookie_from_before_a_switch_is_signed_out(
    client: TestClient, sessions: Sessions, world: World
) -> None:
    add_to(sessions, world.b.id, world.a.editor.email, Role.viewer)
    csrf = sign_in(client, world.a.editor)
    old_cookie = client.cookies.get(COOKIE)
    assert web_switch(client, csrf, "beta").status_code == 303
    client.cookies.clear()
    client.cookies.set(COOKIE, old_cookie or "")
    replay = client.get("/", follow_redirects=False)
    assert replay.status_code in (303, 307, 401) and "BETA" not in replay.text
    again = web_switch(client, csrf, "beta")
    assert again.status_code in (303, 307, 401) and again.headers.get("location", "/login").startswith("/login")


# --- *** in an integration URL ------------------------------------------------------------------

OLD_PG = {"url": "postgresql://postgres:s3cret@db.internal:5432/test"}
OLD_MY = {"url": "mysql+pymysql://root:s3cret@db.internal:3306/test"}


@pytest.mark.parametrize(
    ("old", "url"),
    [
        # safe already: the place visibly changes, or the *** is not the URL's password
        (OLD_PG, "postgresql://postgres:***@evil.example:5432/test"),
        (OLD_PG, "postgresql://postgres:***@evil@db.internal:5432/test"),
        (OLD_PG, "postgresql://postgres:***@DB.INTERNAL:5432/test"),
        (OLD_PG, "postgresql://postgres:***@[::1]:5432/test"),
        (OLD_PG, "postgresql://postgres:%2A%2A%2A@evil.example:5432/test"),
        (OLD_MY, "mysql+pymysql://root:***@db.internal/test"),
        # were holes: libpq / psycopg and pymysql take the server from the query string, which _unmask ignores
        (OLD_PG, "postgresql://postgres:***@db.internal:5432/test?host=evil.example"),
        (OLD_PG, "postgresql://postgres:***@db.internal:5432/test?hostaddr=203.0.113.9"),
        (OLD_PG, "postgresql://postgres:***@db.internal:5432/test?port=6543"),
        (OLD_PG, "postgresql://postgres:***@db.internal:5432/test?host=/tmp"),
        (OLD_PG, "postgresql://postgres:***@db.internal:5432/test?host=db.internal,evil.example"),
        (OLD_MY, "mysql+pymysql://root:***@db.internal:3306/test?unix_socket=/tmp/evil.sock"),
    ],
)
def test_a_masked_password_is_kept_only_for_the_same_server(old: dict[str, str], url: str) -> None:
    try:
        kept = _unmask({"url": url}, old)
    except Invalid:
        return
    assert "s3cret" not in kept["url"], f"the stored password goes to {kept['url']}"


class FakePostgres:
    """A listener that speaks just enough of the PostgreSQL protocol to ask for the password in clear."""

    def __init__(self) -> None:
        self.passwords: list[str] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _read(self, conn: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise ConnectionError
            data += chunk
        return data

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(5)
            try:
                while True:  # SSLRequest / GSSENCRequest: refuse; then the startup message
                    length = struct.unpack("!I", self._read(conn, 4))[0]
                    body = self._read(conn, length - 4)
                    if struct.unpack("!I", body[:4])[0] in (80877103, 80877104):
                        conn.sendall(b"N")
                        continue
                    break
                conn.sendall(b"R" + struct.pack("!II", 8, 3))  # AuthenticationCleartextPassword
                if self._read(conn, 1) == b"p":
                    length = struct.unpack("!I", self._read(conn, 4))[0]
                    self.passwords.append(self._read(conn, length - 4).rstrip(b"\0").decode())
                error = b"SFATAL\0C28P01\0Mpassword authentication failed\0\0"
                conn.sendall(b"E" + struct.pack("!I", len(error) + 4) + error)
            except (OSError, ConnectionError, struct.error):
                pass
            finally:
                conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def fake_postgres() -> Iterator[FakePostgres]:
    server = FakePostgres()
    yield server
    server.close()


def _redirect(masked: str, port: int) -> str:
    assert masked == f"postgresql://postgres:***@{PG_HOST}:{PG_PORT}/test"
    return f"{masked}?host=127.0.0.1&port={port}&sslmode=disable&gssencmode=disable"


def test_the_api_never_sends_the_stored_password_to_a_server_named_in_the_query(
    client: TestClient, world: World, fake_postgres: FakePostgres
) -> None:
    """Was a hole: PATCH /integrations/{id} with host and port unchanged but ?host=&port= in the query keeps the stored
    password (catalog.integrations._unmask) and the connection test (and every later sync) hands it to that server
    (connectors.postgres._connect merges url.query over host/port)."""
    created = add_integration(client, world.a.admin, "warehouse", "postgres", {"url": pg_url()})
    url = _redirect(created["config"]["url"], fake_postgres.port)
    client.patch(f"/api/v1/integrations/{created['id']}", json={"config": {"url": url}}, headers=world.a.admin.headers)
    assert SECRET_PASSWORD not in fake_postgres.passwords, "the stored password reached the editor's server"


def test_the_admin_form_never_sends_the_stored_password_to_a_server_named_in_the_query(
    client: TestClient, world: World, fake_postgres: FakePostgres
) -> None:
    """Was a hole: the same through POST /admin/integrations/{id}/connection."""
    created = add_integration(client, world.a.admin, "warehouse", "postgres", {"url": pg_url()})
    csrf = sign_in(client, world.a.admin)
    url = _redirect(created["config"]["url"], fake_postgres.port)
    client.post(
        f"/admin/integrations/{created['id']}/connection",
        data={"url": url, "csrf_token": csrf},
        follow_redirects=False,
    )
    assert SECRET_PASSWORD not in fake_postgres.passwords, "the stored password reached the editor's server"


def test_a_web_login_with_the_right_password_still_works(client: TestClient, world: World) -> None:
    """Control: the helpers above sign in for real."""
    web_login(client, world.a.viewer.email, PASSWORD)
