"""Run SQL settings: off by default, admin-only, audited, reachable at /settings/sql and /settings/ai alike."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text

from datadesk import store
from datadesk.db import make_engine, transaction
from datadesk.identity import audit
from tests.dbs import fresh_pg_database
from tests.world import World

DEFAULTS = {
    "run_sql_enabled": False,
    "row_cap": 1000,
    "byte_cap": 5_000_000,
    "timeout_seconds": 30,
    "sensitive_tags": ["pii", "sensitive", "restricted"],
}


def test_a_new_workspace_has_run_sql_off_and_the_default_caps(client: TestClient, world: World) -> None:
    assert client.get("/api/v1/settings/sql", headers=world.a.viewer.headers).json() == DEFAULTS


@pytest.mark.parametrize("who", ["editor", "viewer"])
def test_only_admins_change_them(client: TestClient, world: World, who: str) -> None:
    person = world.a.people[who]
    response = client.put("/api/v1/settings/sql", json={"run_sql_enabled": True}, headers=person.headers)
    assert response.status_code == 403
    assert client.get("/api/v1/settings/sql", headers=world.a.admin.headers).json() == DEFAULTS


def test_changes_are_audited_and_seen_through_both_routes(client: TestClient, world: World, sessions) -> None:  # type: ignore[no-untyped-def]
    changes = {"run_sql_enabled": True, "byte_cap": 200_000, "sensitive_tags": ["PII", " secret "]}
    body = client.put("/api/v1/settings/sql", json=changes, headers=world.a.admin.headers).json()
    assert body == {**DEFAULTS, "run_sql_enabled": True, "byte_cap": 200_000, "sensitive_tags": ["pii", "secret"]}
    ai = client.get("/api/v1/settings/ai", headers=world.a.admin.headers).json()
    assert (ai["run_sql_enabled"], ai["sql_byte_cap"], ai["sensitive_tags"]) == (True, 200_000, ["pii", "secret"])
    # /settings/ai keeps taking the Run SQL fields it always took
    client.put("/api/v1/settings/ai", json={"run_sql_enabled": False, "sql_row_cap": 50}, headers=world.a.admin.headers)
    sql = client.get("/api/v1/settings/sql", headers=world.a.admin.headers).json()
    assert (sql["run_sql_enabled"], sql["row_cap"]) == (False, 50)
    # another workspace is untouched
    assert client.get("/api/v1/settings/sql", headers=world.b.admin.headers).json() == DEFAULTS
    with transaction(sessions, world.a.id) as session:
        events = [e for e in audit.recent(session) if e.action == "settings.sql"]
    assert [e.after for e in reversed(events)] == [
        {"run_sql_enabled": True, "byte_cap": 200_000, "sensitive_tags": ["pii", "secret"]},
        {"run_sql_enabled": False, "row_cap": 50},
    ]


@pytest.mark.parametrize(
    "body",
    [{"byte_cap": 10}, {"row_cap": 0}, {"timeout_seconds": 601}, {"run_sql": True}, {"sensitive_tags": [""]}],
)
def test_bad_values_are_422(client: TestClient, world: World, body: dict[str, object]) -> None:
    response = client.put("/api/v1/settings/sql", json=body, headers=world.a.admin.headers)
    assert response.status_code == 422 and response.json()["error"]["code"]


def test_a_caller_may_lower_the_byte_cap_but_not_raise_it(client: TestClient, world: World, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    from tests.catalog.helpers import add_integration, sync

    path = tmp_path / "wide.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE wide (n INTEGER, body TEXT)")
    conn.executemany("INSERT INTO wide VALUES (?, ?)", [(i, "y" * 1000) for i in range(300)])
    conn.commit()
    conn.close()
    admin = world.a.admin
    integration = add_integration(client, admin, "wide", "sqlite", {"url": f"sqlite:///{path}"})
    sync(client, admin, integration["id"])
    client.put("/api/v1/settings/sql", json={"run_sql_enabled": True, "byte_cap": 100_000}, headers=admin.headers)
    client.put(
        f"/api/v1/integrations/{integration['id']}/permissions",
        json={"query_access": ["role:admin"]},
        headers=admin.headers,
    )

    def rows(**extra: object) -> tuple[int, bool]:
        body = {"integration_id": integration["id"], "sql": "SELECT n, body FROM wide", **extra}
        response = client.post("/api/v1/sql", json=body, headers=admin.headers)
        assert response.status_code == 200, response.text
        return response.json()["row_count"], response.json()["truncated"]

    per_row = len('[0,"' + "y" * 1000 + '"]')
    assert rows() == (100_000 // per_row, True)
    assert rows(max_bytes=10_000) == (10_000 // per_row, True)
    assert rows(max_bytes=10_000_000) == (100_000 // per_row, True)  # asking for more changes nothing


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_the_migration_moves_each_workspace_settings(kind: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with contextlib.ExitStack() as stack:
        url = (
            f"sqlite:///{tmp_path / 'old.db'}" if kind == "sqlite" else stack.enter_context(fresh_pg_database("dd_mig"))
        )
        engine = make_engine(url)
        store.upgrade(engine, "20261127_0005")
        with engine.begin() as conn:
            now = {"now": datetime(2026, 1, 1, tzinfo=UTC)}
            conn.execute(text("INSERT INTO workspace (id, slug, name, created_at) VALUES ('w1', 'w1', 'W', :now)"), now)
            conn.execute(
                text(
                    "INSERT INTO ai_settings (workspace_id, enabled, provider, model, base_url, api_key_encrypted,"
                    " sensitive_to_self_hosted, run_sql_enabled, custom_instructions, prompt_retention_days,"
                    " sensitive_tags, daily_token_budget, sql_row_cap, sql_timeout_seconds, updated_at) VALUES"
                    " ('w1', true, 'local', '', '', '', false, true, '', 90, '[\"secret\"]', 0, 77, 12, :now)"
                ),
                now,
            )
        store.upgrade(engine)
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT run_sql_enabled, row_cap, byte_cap, timeout_seconds, sensitive_tags FROM sql_settings")
            ).one()
            ai_columns = {c["name"] for c in inspect(conn).get_columns("ai_settings")}
        engine.dispose()
    assert tuple(row[:4]) == (True, 77, 5_000_000, 12)
    assert row[4] in (["secret"], '["secret"]')
    assert not ai_columns & {"run_sql_enabled", "sql_row_cap", "sql_timeout_seconds", "sensitive_tags"}
