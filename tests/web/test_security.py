"""Sessions, CSRF, the Content-Security-Policy, error pages, admin-only pages and secrets kept out of pages."""

from __future__ import annotations

import re
from http.cookies import SimpleCookie

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from datadesk.web.security import CONTENT_SECURITY_POLICY
from datadesk.web.session import COOKIE
from tests.web.conftest import Warehouse, csrf_of, sign_in
from tests.world import PASSWORD, World

ADMIN_PAGES = ["/admin/members", "/admin/teams", "/admin/integrations", "/admin/ai", "/admin/audit"]


def set_cookie_of(response) -> SimpleCookie:  # type: ignore[no-untyped-def]
    cookie: SimpleCookie = SimpleCookie()
    cookie.load(response.headers["set-cookie"])
    return cookie


def test_pages_need_a_session(client: TestClient, world: World, warehouse: Warehouse) -> None:
    for path in ["/", f"/resources/{warehouse.id('shop.main.orders')}", "/ai", "/glossary", *ADMIN_PAGES]:
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login"), path
    assert client.get("/ai", follow_redirects=False).headers["location"] == "/login?next=%2Fai"
    hx = client.get("/ai", headers={"HX-Request": "true"}, follow_redirects=False)
    assert hx.headers["hx-redirect"] == "/login?next=%2Fai"


def test_session_cookie_flags(client: TestClient, world: World) -> None:
    anonymous = client.get("/login")
    morsel = set_cookie_of(anonymous)[COOKIE]
    assert morsel["httponly"] and morsel["samesite"].lower() == "lax" and morsel["path"] == "/"
    assert not morsel["secure"]  # plain http (a reverse proxy terminating TLS forwards https)
    token = csrf_of(anonymous.text)
    response = client.post(
        "/login",
        data={"email": world.a.editor.email, "password": PASSWORD, "workspace": "alpha", "csrf_token": token},
        follow_redirects=False,
    )
    morsel = set_cookie_of(response)[COOKIE]
    assert morsel["httponly"] and morsel["samesite"].lower() == "lax"
    # The cookie is signed: any change to it is a logged-out visitor.
    value = response.cookies[COOKIE]
    assert client.get("/", follow_redirects=False).status_code == 200
    client.cookies.clear()
    client.cookies.set(COOKIE, value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert client.get("/", follow_redirects=False).status_code == 303


def test_secure_cookie_over_https(app: FastAPI, world: World) -> None:
    with TestClient(app, base_url="https://testserver") as secure:
        assert set_cookie_of(secure.get("/login"))[COOKIE]["secure"]


def test_login_refuses_wrong_password_and_needs_csrf(client: TestClient, world: World) -> None:
    token = csrf_of(client.get("/login").text)
    form = {"email": world.a.editor.email, "password": "wrong password", "workspace": "alpha", "csrf_token": token}
    wrong = client.post("/login", data=form)
    assert wrong.status_code == 401 and "Wrong email, password or workspace." in wrong.text
    form["password"] = PASSWORD
    assert client.post("/login", data={**form, "csrf_token": "forged"}).status_code == 403
    client.cookies.clear()
    assert client.post("/login", data=form).status_code == 403  # no session cookie: no CSRF token to match


def test_csrf_refused_on_every_change(client: TestClient, world: World, warehouse: Warehouse, sessions) -> None:  # type: ignore[no-untyped-def]
    token = sign_in(client, world.a.editor)
    orders = warehouse.id("shop.main.orders")
    url = f"/resources/{orders}/edit/description"
    for bad in ({}, {"csrf_token": "nope"}, {"csrf_token": token + "x"}):
        response = client.post(url, data={"text": "Changed by a forged form.", **bad})
        assert response.status_code == 403, bad
        assert "out of date or did not come from datadesk" in response.text
    assert client.post(url, data={"text": "x"}, headers={"X-CSRF-Token": "nope"}).status_code == 403
    detail = client.get(f"/resources/{orders}").text
    assert "Changed by a forged form." not in detail
    assert client.post(url, data={"text": "Changed for real.", "csrf_token": token}).status_code == 200
    assert client.post(url, data={"text": "Changed by htmx."}, headers={"X-CSRF-Token": token}).status_code == 200
    assert "Changed by htmx." in client.get(f"/resources/{orders}").text


def test_content_security_policy_on_every_page(client: TestClient, world: World, warehouse: Warehouse) -> None:
    assert CONTENT_SECURITY_POLICY.startswith("default-src 'self'; img-src 'self' data:;")
    anonymous = [client.get("/login"), client.get("/static/datadesk.css"), client.get("/nope")]
    sign_in(client, world.a.viewer)
    signed_in = [client.get(p) for p in ("/", "/ai", "/glossary", "/admin/members", "/resources/nope")]
    for response in anonymous + signed_in:
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, response.url
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
    html = client.get("/").text
    assert "<script>" not in html and " style=" not in html  # no inline script or style for the CSP to block
    assert re.search(r"<[^>]+\son[a-z]+=", html) is None  # no inline event handlers
    for src in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert src.startswith(("/", "#")), src  # nothing from another host


def test_json_api_keeps_error_json(client: TestClient, world: World) -> None:
    response = client.get("/api/v1/resources")
    assert response.status_code == 401 and response.json()["error"]["code"] == "missing_token"
    missing = client.get("/api/v1/nope")
    assert missing.status_code == 404 and missing.json() == {"error": {"code": "not_found", "message": "Not found."}}
    assert "content-security-policy" not in response.headers  # the API docs load their own assets
    assert client.get("/api/v1/docs").status_code == 200


def test_friendly_error_pages(client: TestClient, world: World, warehouse: Warehouse) -> None:
    page = client.get("/no/such/page")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "Not found" in page.text and '"error"' not in page.text
    sign_in(client, world.a.viewer)
    missing = client.get("/resources/0123456789abcdef0123456789abcdef")
    assert missing.status_code == 404 and "does not exist, or you cannot see it" in missing.text
    forbidden = client.get("/admin/ai")
    assert forbidden.status_code == 403 and "Not allowed" in forbidden.text


def test_a_server_error_is_a_page_without_details(app: FastAPI, client: TestClient, world: World) -> None:
    from datadesk.web import catalog_pages

    sign_in(client, world.a.viewer)
    original = catalog_pages.service.list_resources

    def broken(**_kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("secret internals")

    catalog_pages.service.list_resources = broken  # type: ignore[assignment]
    try:
        response = client.get("/")
    finally:
        catalog_pages.service.list_resources = original  # type: ignore[assignment]
    assert response.status_code == 500 and "Something went wrong" in response.text
    assert "secret internals" not in response.text and "Traceback" not in response.text
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


@pytest.mark.parametrize("who", ["editor", "viewer"])
def test_admin_pages_are_admins_only(client: TestClient, world: World, warehouse: Warehouse, who: str) -> None:
    token = sign_in(client, world.a.people[who])
    home = client.get("/").text
    assert "/admin/" not in home and ">Admin<" not in home
    for path in [*ADMIN_PAGES, f"/admin/integrations/{warehouse.integration_id}"]:
        response = client.get(path)
        assert response.status_code == 403, path
        assert "Not allowed" in response.text and "/admin/members" not in response.text
    for path, form in [
        ("/admin/members", {"email": "new@alpha.example.com", "role": "admin"}),
        ("/admin/teams", {"name": "Sneaky"}),
        ("/admin/ai", {"provider": "local", "run_sql_enabled": "1"}),
        (
            f"/admin/integrations/{warehouse.integration_id}/permissions",
            {"query_access": f"user:{world.a.people[who].id}"},
        ),
        (f"/admin/integrations/{warehouse.integration_id}/sync", {}),
    ]:
        assert client.post(path, data={**form, "csrf_token": token}).status_code == 403, path
    sign_in(client, world.a.admin)
    assert "Sneaky" not in client.get("/admin/teams").text
    assert "Let the assistant run SQL" in client.get("/admin/ai").text


def test_admins_see_admin_pages(client: TestClient, world: World, warehouse: Warehouse) -> None:
    sign_in(client, world.a.admin)
    home = client.get("/").text
    for path in [*ADMIN_PAGES, f"/admin/integrations/{warehouse.integration_id}"]:
        assert f'href="{path}"' in home or path.count("/") > 2
        assert client.get(path).status_code == 200, path


def test_no_secret_ever_in_a_page(client: TestClient, world: World, warehouse: Warehouse) -> None:
    token = sign_in(client, world.a.admin)
    password, api_key = "pg-Pa55word-canary", "sk-live-canary-0123456789abcdef"
    created = client.post(
        "/admin/integrations",
        data={
            "name": "pg",
            "type": "postgres",
            "url": f"postgresql://reader:{password}@127.0.0.1:1/nowhere",
            "csrf_token": token,
        },
    )
    assert created.status_code == 400 and "Could not connect" in created.text  # tested before saving
    assert password not in created.text
    saved = client.post(
        "/admin/ai",
        data={
            "provider": "openai",
            "api_key": api_key,
            "enabled": "1",
            "prompt_retention_days": "90",
            "daily_token_budget": "1000",
            "sql_row_cap": "100",
            "sql_timeout_seconds": "10",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    settings_page = client.get("/admin/ai").text
    assert "A key is stored" in settings_page and "US (api.openai.com)" in settings_page
    # An integration whose URL holds a password, stored without a connection test.
    from datadesk.catalog import integrations as integration_service
    from datadesk.db import transaction

    with transaction(client.app.state.sessions, world.a.id) as session:  # type: ignore[attr-defined]
        integration_service.create_integration(
            session=session,
            caller=world.a.caller("admin"),
            settings=client.app.state.settings,  # type: ignore[attr-defined]
            name="pg",
            type="postgres",
            config={"url": f"postgresql://reader:{password}@db.internal/shop"},
            team_ids=[],
            test=False,
        )
    listed = client.get("/admin/integrations").text
    assert "postgresql://reader:***@db.internal/shop" in listed
    session_token = client.cookies.get(COOKIE)
    pages = [client.get(p).text for p in [*ADMIN_PAGES, "/", "/ai", "/glossary"]]
    pages += [
        client.get(f"/admin/integrations/{i}").text for i in re.findall(r'/admin/integrations/([0-9a-f]{32})"', listed)
    ]
    for html in pages:
        assert password not in html and api_key not in html
        assert world.a.admin.token not in html and (session_token or "") not in html


def test_logout_revokes_the_token(client: TestClient, world: World) -> None:
    token = sign_in(client, world.a.editor)
    stolen = client.cookies.get(COOKIE)
    assert client.post("/logout", data={"csrf_token": token}, follow_redirects=False).headers["location"] == "/login"
    assert client.get("/", follow_redirects=False).status_code == 303
    client.cookies.clear()
    client.cookies.set(COOKIE, stolen or "")
    assert client.get("/", follow_redirects=False).status_code == 303  # the copy is dead too


def test_switching_workspace(client: TestClient, world: World) -> None:
    from datadesk.db import transaction
    from datadesk.identity import service as identity
    from datadesk.identity.models import Role

    with transaction(client.app.state.sessions, world.b.id) as session:  # type: ignore[attr-defined]
        identity.add_member(
            session=session,
            caller=world.b.caller("admin"),
            email=world.a.editor.email,
            role=Role.viewer,
            password=PASSWORD,
        )
    token = sign_in(client, world.a.editor)
    before = client.cookies.get(COOKIE)
    assert "ALPHA" in client.get("/").text
    moved = client.post(
        "/login",
        data={
            "email": world.a.editor.email,
            "password": PASSWORD,
            "workspace": "beta",
            "next": "/",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert moved.status_code == 303
    page = client.get("/").text
    assert "BETA" in page and "viewer" in page
    client.cookies.clear()
    client.cookies.set(COOKIE, before or "")
    assert client.get("/", follow_redirects=False).status_code == 303  # the alpha session was ended


def test_next_never_leaves_the_server(client: TestClient, world: World) -> None:
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        token = csrf_of(client.get("/login").text)
        response = client.post(
            "/login",
            data={
                "email": world.a.viewer.email,
                "password": PASSWORD,
                "workspace": "alpha",
                "next": target,
                "csrf_token": token,
            },
            follow_redirects=False,
        )
        assert response.headers["location"] == "/", target
        client.cookies.clear()


def test_htmx_is_vendored_not_fetched(client: TestClient) -> None:
    from pathlib import Path

    import datadesk.web

    static = Path(datadesk.web.__file__).parent / "static"
    served = client.get("/static/htmx.min.js")
    assert served.status_code == 200 and "javascript" in served.headers["content-type"]
    assert served.content == (static / "htmx.min.js").read_bytes()
    notes = (static / "VENDORED.md").read_text()
    assert "2.0.11" in notes and "0BSD" in notes
    login = client.get("/login").text
    assert '<script src="/static/htmx.min.js" defer></script>' in login and "cdn" not in login.lower()
