"""Shortcuts for catalog tests that go through the HTTP API."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

from tests.world import Person


def add_integration(
    client: TestClient, admin: Person, name: str, type: str, config: dict[str, str], team_ids: list[str] | None = None
) -> dict[str, Any]:
    response = client.post(
        "/api/v1/integrations",
        json={"name": name, "type": type, "config": config, "team_ids": team_ids or []},
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def sync(client: TestClient, admin: Person, integration_id: str, timeout: float = 30.0) -> dict[str, Any]:
    """Start a sync through the API and poll until it ends."""
    started = client.post(f"/api/v1/integrations/{integration_id}/sync", headers=admin.headers)
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run: dict[str, Any] = client.get(
            f"/api/v1/integrations/{integration_id}/syncs/{run_id}", headers=admin.headers
        ).json()
        if run["status"] in ("succeeded", "failed"):
            return run
        time.sleep(0.05)
    raise AssertionError(f"sync {run_id} did not finish in {timeout}s")


def by_name(client: TestClient, person: Person, **params: str) -> dict[str, dict[str, Any]]:
    """Visible resources keyed by qualified name (all pages)."""
    found: dict[str, dict[str, Any]] = {}
    cursor = None
    while True:
        query = {**params, "limit": "500", **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/resources", params=query, headers=person.headers).json()
        for resource in page["resources"]:
            found[resource["qualified_name"]] = resource
        cursor = page["next_cursor"]
        if not cursor:
            return found


def search(client: TestClient, person: Person, q: str, **params: str) -> list[dict[str, Any]]:
    response = client.get("/api/v1/search", params={"q": q, **params}, headers=person.headers)
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results
