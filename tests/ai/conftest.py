"""A warehouse whose rows hold canaries, synced into workspace A, and the fake provider server."""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from datadesk.ai.providers import sdk as wire
from tests.catalog.helpers import add_integration, by_name, sync
from tests.fakes.llm_server import FakeLLMServer, fake_llm  # noqa: F401  (fixture)
from tests.world import Person, World

CANARY = f"CANARY{uuid.uuid4().hex[:12]}"

DDL = """
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_email TEXT, note TEXT, amount INTEGER);
CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, full_name TEXT, country TEXT);
CREATE TABLE salary_secrets (id INTEGER PRIMARY KEY, employee TEXT, salary INTEGER);
CREATE TABLE campaign_hidden (id INTEGER PRIMARY KEY, name TEXT, budget INTEGER);
"""


@dataclass
class Shop:
    integration_id: str
    resources: dict[str, dict[str, Any]]
    canaries: list[str] = field(default_factory=list)
    path: Path = Path()

    def id(self, name: str) -> str:
        return self.resources[f"wh.main.{name}"]["id"]


@pytest.fixture(autouse=True)
def _fast_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wire, "TIMEOUT_SECONDS", 2.0)


@pytest.fixture
def shop(client: TestClient, world: World, tmp_path: Path) -> Shop:
    path = tmp_path / "wh.db"
    conn = sqlite3.connect(path)
    conn.executescript(DDL)
    canaries = [f"{CANARY}-{i}" for i in range(6)]
    conn.executemany(
        "INSERT INTO orders VALUES (?, ?, ?, ?)",
        [(i, f"{canaries[0]}@example.com", canaries[1], 4242 + i) for i in range(1, 30)],
    )
    conn.executemany(
        "INSERT INTO customers VALUES (?, ?, ?, ?)",
        [(i, f"{canaries[2]}@example.com", canaries[3], "NL") for i in range(1, 30)],
    )
    conn.execute("INSERT INTO salary_secrets VALUES (1, ?, 99999)", (canaries[4],))
    conn.execute("INSERT INTO campaign_hidden VALUES (1, ?, 5)", (canaries[5],))
    conn.commit()
    conn.close()
    integration = add_integration(client, world.a.admin, "wh", "sqlite", {"url": f"sqlite:///{path}"})
    assert sync(client, world.a.admin, integration["id"])["status"] == "succeeded"
    resources = by_name(client, world.a.admin)
    a = world.a

    def patch(name: str, body: dict[str, Any]) -> None:
        response = client.patch(f"/api/v1/resources/{resources[name]['id']}", json=body, headers=a.admin.headers)
        assert response.status_code == 200, response.text

    patch(
        "wh.main.orders",
        {
            "description": "Every order placed in the web shop.",
            "owners": [{"kind": "team", "id": a.teams["Finance"]}],
            "tags": ["core"],
        },
    )
    patch("wh.main.customers", {"description": "People who bought something."})
    patch("wh.main.customers.email", {"tags": ["pii"], "description": "Login address of the customer."})
    patch("wh.main.salary_secrets", {"tags": ["pii"], "description": "Pay of each employee."})
    patch("wh.main.campaign_hidden", {"team_ids": [a.teams["Marketing"]], "description": "Marketing budgets."})
    term = client.post(
        "/api/v1/resources",
        json={
            "type": "glossary_term",
            "name": "Gross revenue",
            "definition": "Sum of order amounts before refunds.",
            "links": [resources["wh.main.orders"]["id"]],
        },
        headers=a.editor.headers,
    )
    assert term.status_code == 201
    resources["glossary.Gross revenue"] = term.json()
    return Shop(integration["id"], resources, canaries, path)


@pytest.fixture
def other_workspace_table(client: TestClient, world: World, tmp_path: Path) -> str:
    path = tmp_path / "beta.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE beta_only_table (id INTEGER PRIMARY KEY, orders_note TEXT)")
    conn.commit()
    conn.close()
    integration = add_integration(client, world.b.admin, "beta", "sqlite", {"url": f"sqlite:///{path}"})
    sync(client, world.b.admin, integration["id"])
    return "beta_only_table"


def configure(client: TestClient, admin: Person, **settings: Any) -> dict[str, Any]:
    response = client.put("/api/v1/settings/ai", json=settings, headers=admin.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def use(client: TestClient, admin: Person, fake: FakeLLMServer, provider: str, **extra: Any) -> None:
    """Point the workspace at the fake server, in the given provider's wire format."""
    base_url = fake.openai_base_url if provider == "openai" else fake.anthropic_base_url
    configure(client, admin, provider=provider, base_url=base_url, api_key="sk-test-key-123456789", model="m", **extra)


def ask(client: TestClient, person: Person, question: str, **extra: Any) -> Any:
    return client.post("/api/v1/ai/ask", json={"question": question, **extra}, headers=person.headers)


def allow_sql(
    client: TestClient, world: World, shop: Shop, query: list[str], sensitive: list[str] | None = None
) -> None:
    configure(client, world.a.admin, run_sql_enabled=True)
    body: dict[str, list[str]] = {"query_access": query}
    if sensitive is not None:
        body["sensitive_access"] = sensitive
    response = client.put(
        f"/api/v1/integrations/{shop.integration_id}/permissions", json=body, headers=world.a.admin.headers
    )
    assert response.status_code == 200, response.text
