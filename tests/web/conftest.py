"""A documented warehouse in workspace A, helpers to sign in through the pages, and a live server for the browser."""

from __future__ import annotations

import re
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from datadesk.app import create_app
from datadesk.settings import Settings
from tests.catalog.helpers import add_integration, by_name, sync
from tests.world import PASSWORD, Person, World

ORDERS = 25
_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


@dataclass
class Warehouse:
    integration_id: str
    resources: dict[str, dict[str, Any]]
    path: Path

    def id(self, name: str) -> str:
        return str(self.resources[name]["id"])


@pytest.fixture
def warehouse(client: TestClient, world: World, tmp_path: Path) -> Warehouse:
    """A SQLite shop synced into workspace A (Everyone sees it), documented through the API."""
    path = tmp_path / "shop.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, country TEXT);
        CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id),
                             amount INTEGER, placed_on TEXT);
        CREATE VIEW big_orders AS SELECT * FROM orders WHERE amount > 100;
        """
    )
    conn.executemany("INSERT INTO customers VALUES (?, ?, ?)", [(i, f"c{i}@example.com", "NL") for i in range(1, 6)])
    conn.executemany(
        "INSERT INTO orders VALUES (?, ?, ?, ?)", [(i, 1 + i % 5, i * 10, "2026-01-01") for i in range(1, ORDERS + 1)]
    )
    conn.commit()
    conn.close()
    integration = add_integration(client, world.a.admin, "shop", "sqlite", {"url": f"sqlite:///{path}"})
    assert sync(client, world.a.admin, integration["id"])["status"] == "succeeded"
    resources = by_name(client, world.a.admin)
    a = world.a
    patch(
        client,
        a.admin,
        resources["shop.main.orders"]["id"],
        {
            "description": "Every order placed in the **web shop**, one row per order.",
            "owners": [{"kind": "team", "id": a.teams["Finance"]}],
            "tags": ["core", "finance"],
        },
    )
    patch(client, a.admin, resources["shop.main.customers"]["id"], {"description": "People who bought something."})
    patch(client, a.admin, resources["shop.main.customers.email"]["id"], {"tags": ["pii"]})
    term = client.post(
        "/api/v1/resources",
        json={
            "type": "glossary_term",
            "name": "Gross revenue",
            "definition": "Sum of order amounts before refunds.",
            "links": [resources["shop.main.orders"]["id"]],
        },
        headers=a.editor.headers,
    )
    assert term.status_code == 201, term.text
    resources["glossary.Gross revenue"] = term.json()
    return Warehouse(integration["id"], resources, path)


def patch(client: TestClient, person: Person, resource_id: str, body: dict[str, Any]) -> None:
    response = client.patch(f"/api/v1/resources/{resource_id}", json=body, headers=person.headers)
    assert response.status_code == 200, response.text


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def sign_in(client: TestClient, person: Person, workspace: str = "alpha") -> str:
    """Log in through the login form; returns the CSRF token of the new session."""
    client.cookies.clear()
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={"email": person.email, "password": PASSWORD, "workspace": workspace, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/").text)


# --- a real server for the browser ------------------------------------------------------------


@dataclass
class LiveServer:
    url: str
    settings: Settings


@pytest.fixture
def live_server(settings: Settings, client: TestClient) -> Iterator[LiveServer]:
    """The app served by uvicorn on 127.0.0.1 (a free port), on the test's store."""
    import uvicorn

    app = create_app(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    yield LiveServer(f"http://127.0.0.1:{port}", settings)
    server.should_exit = True
    thread.join(timeout=15)
    sock.close()
    app.state.engine.dispose()


# --- the browser ------------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright; missing Chromium is a failure, never a skip."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Browser tests need Debian's Chromium at {CHROMIUM}: run `apt-get install -y chromium` "
            "(.ci/run installs it; Playwright's own browser download is not used).",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    except Exception:
        playwright.stop()
        raise
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.fixture
def page(browser: Any, live_server: LiveServer, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser tab on the live server; a screenshot of how it ended goes to artifacts/."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1366, "height": 900})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        tab.screenshot(path=str(ARTIFACTS / f"{request.node.name}-end.png"), full_page=True)
    finally:
        context.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def log_in(page: Any, person: Person, workspace: str = "alpha") -> None:
    """Log in through the login form, as a person would."""
    page.goto("/login")
    page.fill("input[name=email]", person.email)
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=workspace]", workspace)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"^http://127\.0\.0\.1:\d+/(\?.*)?$"))
