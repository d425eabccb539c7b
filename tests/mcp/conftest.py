"""A running datadesk server (uvicorn on a free port) and a small catalog in two workspaces.

Workspace A syncs a SQLite warehouse with a Marketing-only table and view, a pii column and view
lineage, and has glossary terms for Everyone and for Marketing; workspace B syncs the same warehouse
and has its own term, so the same names exist on both sides with different ids.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio
import httpx2
import pytest
import uvicorn
from fastapi.testclient import TestClient
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from datadesk.app import create_app
from datadesk.settings import Settings
from tests.catalog.helpers import add_integration, by_name, sync
from tests.world import Person, World

WAREHOUSE = """
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_email TEXT, amount INTEGER, placed_on TEXT);
CREATE TABLE campaigns (id INTEGER PRIMARY KEY, name TEXT, budget INTEGER);
CREATE VIEW big_orders AS SELECT id, amount FROM orders WHERE amount > 100;
CREATE VIEW campaign_spend AS
  SELECT c.name, sum(o.amount) AS spend FROM campaigns c JOIN orders o ON o.id = c.id GROUP BY c.name;
INSERT INTO campaigns VALUES (1, 'Spring', 100);
"""
A_TERM = "Net revenue"
MARKETING_TERM = "Attributed pipeline"
B_TERM = "Zeta confidential metric"
# httpx waits 5 s by default; a loaded CI machine can take longer to answer a first call.
CLIENT_TIMEOUT = 60.0

T = TypeVar("T")


def run(main: Callable[[], Awaitable[T]]) -> T:
    """Run one async scenario from a plain test."""
    return anyio.run(main)


@dataclass
class Catalog:
    """Workspace A's resources keyed by qualified name, and what A's Finance people must never get."""

    integration_id: str
    b_integration_id: str
    a: dict[str, dict[str, Any]]
    b: dict[str, dict[str, Any]]
    terms: dict[str, str]  # name -> id

    def id(self, qualified_name: str) -> str:
        return str(self.a[qualified_name]["id"])

    def sql(self, client: TestClient, person: Person, sql: str, integration_id: str | None = None) -> Any:
        body = {"integration_id": integration_id or self.integration_id, "sql": sql}
        return client.post("/api/v1/sql", json=body, headers=person.headers)


def _term(client: TestClient, person: Person, name: str, definition: str, team_ids: list[str]) -> str:
    response = client.post(
        "/api/v1/resources",
        json={"type": "glossary_term", "name": name, "definition": definition, "team_ids": team_ids},
        headers=person.headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture
def catalog(client: TestClient, world: World, tmp_path: Path) -> Catalog:
    path = tmp_path / "wh.db"
    conn = sqlite3.connect(path)
    conn.executescript(WAREHOUSE)
    conn.executemany(
        "INSERT INTO orders VALUES (?, ?, ?, ?)",
        [(i, f"buyer{i}@example.com", i * 10, "2026-01-01") for i in range(1, 51)],
    )
    conn.commit()
    conn.close()
    a, b = world.a, world.b
    integration = add_integration(client, a.admin, "wh", "sqlite", {"url": f"sqlite:///{path}"})
    assert sync(client, a.admin, integration["id"])["status"] == "succeeded"
    b_integration = add_integration(client, b.admin, "wh", "sqlite", {"url": f"sqlite:///{path}"})
    assert sync(client, b.admin, b_integration["id"])["status"] == "succeeded"
    resources = by_name(client, a.admin)
    for name in ("wh.main.campaigns", "wh.main.campaign_spend"):
        response = client.patch(
            f"/api/v1/resources/{resources[name]['id']}",
            json={"team_ids": [a.teams["Marketing"]]},
            headers=a.admin.headers,
        )
        assert response.status_code == 200, response.text
    response = client.patch(
        f"/api/v1/resources/{resources['wh.main.orders.customer_email']['id']}",
        json={"tags": ["pii"]},
        headers=a.admin.headers,
    )
    assert response.status_code == 200, response.text
    terms = {
        A_TERM: _term(client, a.admin, A_TERM, "Revenue after refunds and discounts.", []),
        MARKETING_TERM: _term(
            client, a.admin, MARKETING_TERM, "Revenue attributed to campaigns.", [a.teams["Marketing"]]
        ),
        B_TERM: _term(client, b.admin, B_TERM, "Revenue the beta workspace keeps to itself.", []),
    }
    # `resources` was read before Marketing got its own: A's admin (in Finance) no longer sees those.
    return Catalog(integration["id"], b_integration["id"], resources, by_name(client, b.admin), terms)


def set_run_sql(client: TestClient, admin: Person, on: bool) -> None:
    response = client.put("/api/v1/settings/ai", json={"run_sql_enabled": on}, headers=admin.headers)
    assert response.status_code == 200, response.text


def grant(client: TestClient, admin: Person, integration_id: str, query: list[str]) -> None:
    response = client.put(
        f"/api/v1/integrations/{integration_id}/permissions", json={"query_access": query}, headers=admin.headers
    )
    assert response.status_code == 200, response.text


# --- a running server -------------------------------------------------------------------------


@pytest.fixture
def mcp_url(settings: Settings) -> Iterator[str]:
    """The /mcp URL of a second app on the test's store, served by uvicorn in a thread."""
    app = create_app(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
        app.state.engine.dispose()


@asynccontextmanager
async def connect(url: str, token: str) -> AsyncIterator[Client]:
    """The mcp SDK's own client, sending the person's token on every request."""
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=CLIENT_TIMEOUT) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        yield client


def text_of(result: Any) -> str:
    assert len(result.content) == 1 and result.content[0].type == "text"
    return str(result.content[0].text)


def unfence(text: str, tag: str = "catalog_metadata") -> Any:
    """The JSON inside a tool's untrusted-data fence (checking the fence is whole and labelled)."""
    lines = text.split("\n")
    assert len(lines) == 3, text
    assert lines[0].startswith(f'<{tag} trust="untrusted"') and lines[-1] == f"</{tag}>", text
    return json.loads(lines[1])


def error_of(result: Any) -> Any:
    assert result.is_error, text_of(result)
    return json.loads(text_of(result))
