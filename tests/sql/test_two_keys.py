"""POST /sql: Run SQL on AND query access, then the guard, visible tables and sensitive columns, in that order."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.sql.conftest import Warehouse, grant, set_run_sql
from tests.world import World

VISIBLE = "SELECT id, amount FROM orders ORDER BY id LIMIT 3"
INVISIBLE = "SELECT name FROM campaigns"  # Marketing only; the caller is in Finance


def principal(world: World, kind: str) -> list[str]:
    editor = world.a.editor
    return {
        "none": [],
        "user": [f"user:{editor.id}"],
        "team": [f"team:{world.a.teams['Finance']}"],
        "role": ["role:editor"],
        "other": [f"user:{world.a.viewer.id}", "role:viewer", f"team:{world.a.teams['Marketing']}"],
    }[kind]


@pytest.mark.parametrize("toggle", [False, True])
@pytest.mark.parametrize("access", ["none", "other", "user", "team", "role"])
@pytest.mark.parametrize("table", ["visible", "invisible"])
def test_two_key_matrix(
    client: TestClient, world: World, warehouse: Warehouse, toggle: bool, access: str, table: str
) -> None:
    set_run_sql(client, world.a.admin, toggle)
    grant(client, world.a.admin, warehouse.integration_id, principal(world, access))
    response = warehouse.sql(client, world.a.editor, VISIBLE if table == "visible" else INVISIBLE)
    if not toggle:
        expected = (403, "run_sql_disabled")
    elif access in ("none", "other"):
        expected = (403, "no_query_access")
    elif table == "invisible":
        expected = (404, "not_found")
    else:
        expected = (200, None)
    assert response.status_code == expected[0], response.text
    if expected[1]:
        assert response.json()["error"]["code"] == expected[1]
        assert "campaigns" not in response.json()["error"]["message"] or table == "invisible"
    else:
        body = response.json()
        assert body["rows"] == [[1, 10], [2, 20], [3, 30]] and body["row_count"] == 3 and not body["truncated"]
        assert [c["name"] for c in body["columns"]] == ["id", "amount"]


def test_the_guard_runs_before_table_checks_and_nothing_reaches_the_database(
    client: TestClient, world: World, warehouse: Warehouse
) -> None:
    set_run_sql(client, world.a.admin, True)
    grant(client, world.a.admin, warehouse.integration_id, ["role:editor"])
    for sql in (
        "DROP TABLE orders",
        "DELETE FROM orders",
        "SELECT 1; DROP TABLE orders",
        "ATTACH 'x.db' AS x",
        "PRAGMA writable_schema=1",
        "SELECT load_extension('x')",
        "not even sql",
    ):
        response = warehouse.sql(client, world.a.editor, sql)
        assert response.status_code == 400, (sql, response.text)
        assert response.json()["error"]["code"] == "sql_not_allowed"
    count = warehouse.sql(client, world.a.editor, "SELECT count(*) FROM orders").json()
    assert count["rows"] == [[2500]]


def test_unknown_tables_are_not_found_and_system_catalogs_not_allowed(
    client: TestClient, world: World, warehouse: Warehouse
) -> None:
    set_run_sql(client, world.a.admin, True)
    grant(client, world.a.admin, warehouse.integration_id, ["role:editor"])
    assert warehouse.sql(client, world.a.editor, "SELECT * FROM nope").status_code == 404
    for sql in ("SELECT name FROM sqlite_master", "SELECT * FROM main.sqlite_schema"):
        response = warehouse.sql(client, world.a.editor, sql)
        assert (response.status_code, response.json()["error"]["code"]) == (400, "sql_not_allowed"), sql


def test_sensitive_columns_need_sensitive_access(client: TestClient, world: World, warehouse: Warehouse) -> None:
    set_run_sql(client, world.a.admin, True)
    grant(client, world.a.admin, warehouse.integration_id, ["role:editor"], sensitive=[])
    for sql in (
        "SELECT customer_email FROM orders",
        "SELECT * FROM orders",
        "SELECT o.id FROM orders o WHERE o.customer_email LIKE '%x%'",
        "WITH x AS (SELECT customer_email AS e FROM orders) SELECT count(e) FROM x",
        "SELECT upper(customer_email) FROM orders",
    ):
        response = warehouse.sql(client, world.a.editor, sql)
        assert response.status_code == 403, (sql, response.text)
        error = response.json()["error"]
        assert error["code"] == "sensitive_column" and "orders.customer_email" in error["message"]
    assert warehouse.sql(client, world.a.editor, "SELECT id, amount FROM orders LIMIT 1").status_code == 200
    for holder in (f"user:{world.a.editor.id}", f"team:{world.a.teams['Finance']}", "role:editor"):
        grant(client, world.a.admin, warehouse.integration_id, ["role:editor"], sensitive=[holder])
        response = warehouse.sql(client, world.a.editor, "SELECT customer_email FROM orders WHERE id = 1")
        assert response.status_code == 200 and response.json()["rows"] == [["buyer1@example.com"]]


def test_a_table_tagged_sensitive_makes_every_column_sensitive(
    client: TestClient, world: World, warehouse: Warehouse
) -> None:
    set_run_sql(client, world.a.admin, True)
    grant(client, world.a.admin, warehouse.integration_id, ["role:editor"])
    orders = warehouse.resources["wh.main.orders"]
    client.patch(f"/api/v1/resources/{orders['id']}", json={"tags": ["restricted"]}, headers=world.a.admin.headers)
    response = warehouse.sql(client, world.a.editor, "SELECT id FROM orders")
    assert response.status_code == 403 and response.json()["error"]["code"] == "sensitive_column"


def test_row_cap_and_limits(client: TestClient, world: World, warehouse: Warehouse) -> None:
    set_run_sql(client, world.a.admin, True)
    grant(client, world.a.admin, warehouse.integration_id, ["role:editor"])
    big = warehouse.sql(client, world.a.editor, "SELECT id FROM orders").json()
    assert big["row_count"] == 1000 and big["truncated"]
    small = warehouse.sql(client, world.a.editor, "SELECT id FROM orders", limit=5).json()
    assert small["row_count"] == 5 and small["truncated"]
    higher = warehouse.sql(client, world.a.editor, "SELECT id FROM orders", limit=100000).json()
    assert higher["row_count"] == 1000  # callers may only lower the cap
    client.put("/api/v1/settings/ai", json={"sql_row_cap": 10}, headers=world.a.admin.headers)
    assert warehouse.sql(client, world.a.editor, "SELECT id FROM orders").json()["row_count"] == 10
    assert (
        client.put("/api/v1/settings/ai", json={"sql_row_cap": 10}, headers=world.a.editor.headers).status_code == 403
    )


def test_every_run_is_logged_and_counts_towards_popularity(
    client: TestClient, world: World, warehouse: Warehouse
) -> None:
    set_run_sql(client, world.a.admin, True)
    warehouse.sql(client, world.a.editor, VISIBLE)  # refused: no access yet
    grant(client, world.a.admin, warehouse.integration_id, ["role:editor", "role:admin"])
    warehouse.sql(client, world.a.editor, VISIBLE)
    warehouse.sql(client, world.a.editor, "DROP TABLE orders")
    warehouse.sql(client, world.a.admin, VISIBLE)
    own = client.get("/api/v1/sql/runs", headers=world.a.editor.headers).json()["runs"]
    assert [(r["status"], r["error_code"]) for r in own] == [
        ("refused", "sql_not_allowed"),
        ("succeeded", ""),
        ("refused", "no_query_access"),
    ]
    assert own[1]["row_count"] == 3 and own[1]["sql"] == VISIBLE and own[1]["source"] == "api"
    assert client.get("/api/v1/sql/runs", params={"all": "true"}, headers=world.a.editor.headers).status_code == 403
    everyone = client.get("/api/v1/sql/runs", params={"all": "true"}, headers=world.a.admin.headers).json()["runs"]
    assert len(everyone) == 4
    assert client.get("/api/v1/sql/runs", params={"all": "true"}, headers=world.b.admin.headers).json()["runs"] == []
    orders = client.get(
        f"/api/v1/resources/{warehouse.resources['wh.main.orders']['id']}", headers=world.a.admin.headers
    ).json()
    assert orders["popularity"] == 2


def test_another_workspace_cannot_query_or_read_permissions(
    client: TestClient, world: World, warehouse: Warehouse
) -> None:
    set_run_sql(client, world.b.admin, True)
    response = warehouse.sql(client, world.b.admin, VISIBLE)
    assert response.status_code == 404
    assert (
        client.get(
            f"/api/v1/integrations/{warehouse.integration_id}/permissions", headers=world.b.admin.headers
        ).status_code
        == 404
    )


def test_a_query_past_its_time_limit_is_cancelled_and_reported(
    client: TestClient, world: World, warehouse: Warehouse
) -> None:
    set_run_sql(client, world.a.admin, True)
    grant(client, world.a.admin, warehouse.integration_id, ["role:editor"])
    client.put("/api/v1/settings/ai", json={"sql_timeout_seconds": 1}, headers=world.a.admin.headers)
    slow = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000) "
        "SELECT count(*) FROM n, orders WHERE orders.id = 1"
    )
    response = warehouse.sql(client, world.a.editor, slow)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "sql_timeout"
    runs = client.get("/api/v1/sql/runs", headers=world.a.editor.headers).json()["runs"]
    assert runs[0]["status"] == "failed" and runs[0]["error_code"] == "sql_timeout"
    assert runs[0]["duration_ms"] < 5000
