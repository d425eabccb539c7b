"""A small SQLite warehouse, synced into workspace A, with one Marketing-only table and a pii column."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.catalog.helpers import add_integration, by_name, sync
from tests.world import Person, World

WAREHOUSE = """
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_email TEXT, amount INTEGER, placed_on TEXT);
CREATE TABLE campaigns (id INTEGER PRIMARY KEY, name TEXT, budget INTEGER);
INSERT INTO campaigns VALUES (1, 'Spring', 100);
"""


@dataclass
class Warehouse:
    path: Path
    integration_id: str
    resources: dict[str, dict[str, Any]]

    def sql(self, client: TestClient, person: Person, sql: str, **extra: Any) -> Any:
        return client.post(
            "/api/v1/sql", json={"integration_id": self.integration_id, "sql": sql, **extra}, headers=person.headers
        )


@pytest.fixture
def warehouse(client: TestClient, world: World, tmp_path: Path) -> Warehouse:
    path = tmp_path / "wh.db"
    conn = sqlite3.connect(path)
    conn.executescript(WAREHOUSE)
    conn.executemany(
        "INSERT INTO orders VALUES (?, ?, ?, ?)",
        [(i, f"buyer{i}@example.com", i * 10, "2026-01-01") for i in range(1, 2501)],
    )
    conn.commit()
    conn.close()
    integration = add_integration(client, world.a.admin, "wh", "sqlite", {"url": f"sqlite:///{path}"})
    assert sync(client, world.a.admin, integration["id"])["status"] == "succeeded"
    resources = by_name(client, world.a.admin)
    a = world.a
    client.patch(
        f"/api/v1/resources/{resources['wh.main.campaigns']['id']}",
        json={"team_ids": [a.teams["Marketing"]]},
        headers=a.admin.headers,
    )
    client.patch(
        f"/api/v1/resources/{resources['wh.main.orders.customer_email']['id']}",
        json={"tags": ["pii"]},
        headers=a.admin.headers,
    )
    return Warehouse(path, integration["id"], resources)


def set_run_sql(client: TestClient, admin: Person, on: bool) -> None:
    response = client.put("/api/v1/settings/ai", json={"run_sql_enabled": on}, headers=admin.headers)
    assert response.status_code == 200, response.text


def grant(
    client: TestClient, admin: Person, integration_id: str, query: list[str], sensitive: list[str] | None = None
) -> None:
    body: dict[str, list[str]] = {"query_access": query}
    if sensitive is not None:
        body["sensitive_access"] = sensitive
    response = client.put(f"/api/v1/integrations/{integration_id}/permissions", json=body, headers=admin.headers)
    assert response.status_code == 200, response.text
