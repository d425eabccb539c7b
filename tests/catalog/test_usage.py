"""Usage from the sources' statement histories and datadesk's own query log: counts, users, popularity, lineage.

Real servers throughout: private ones this module starts (PostgreSQL preloading pg_stat_statements,
MariaDB with performance_schema on) and the shared ones, which keep no history and make the sync say so.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select
from typer.testing import CliRunner

from datadesk import store
from datadesk.catalog import apply, usage
from datadesk.catalog.models import Integration, Lineage, Resource
from datadesk.catalog.usage_models import QueryRunResource, ResourceUsage, UsageSample
from datadesk.cli import app as cli
from datadesk.connectors import history
from datadesk.connectors.base import Snapshot, StatementStat, TableMeta
from datadesk.connectors.postgres import PostgresConnector
from datadesk.db import Base, transaction
from datadesk.sql.models import QueryRun
from tests.catalog.helpers import add_integration, by_name
from tests.catalog.helpers import sync as run_sync
from tests.conftest import FIXTURES, TEST_SECRET
from tests.connectors.test_history import (  # noqa: F401  (private_pg, private_maria: module fixtures, one server each)
    PrivateMariaDB,
    PrivatePostgres,
    private_maria,
    private_pg,
)
from tests.dbs import fresh_pg_database, unique_name
from tests.sql.conftest import grant, set_run_sql
from tests.web.conftest import sign_in
from tests.world import World

SECRET = "hunter2-Literal-7f3c"  # a value inside a statement: it must never reach the store


# --- statements to tables -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "dialect", "default", "tables", "feeds"),
    [
        ("SELECT * FROM orders", "postgres", "public", {("public", "orders")}, set()),
        ("select * from Sales.Orders o join \"Sales\".\"Orders\" p on true", "postgres", "public",
         {("sales", "orders"), ("Sales", "Orders")}, set()),
        ("WITH recent AS (SELECT * FROM orders) SELECT * FROM recent", "postgres", "public",
         {("public", "orders")}, set()),
        ("INSERT INTO daily (d, n) SELECT o.d, count(*) FROM orders o JOIN customers c ON c.id = o.c GROUP BY 1",
         "postgres", "public", {("public", "daily"), ("public", "orders"), ("public", "customers")},
         {(("public", "orders"), ("public", "daily")), (("public", "customers"), ("public", "daily"))}),
        ("CREATE TABLE report AS SELECT * FROM sales.orders WHERE total > 10", "postgres", "public",
         {("public", "report"), ("sales", "orders")}, {(("sales", "orders"), ("public", "report"))}),
        ("SELECT * INTO snap FROM orders", "postgres", "public", {("public", "snap"), ("public", "orders")},
         {(("public", "orders"), ("public", "snap"))}),
        ("INSERT INTO orders VALUES ($1, $2)", "postgres", "public", {("public", "orders")}, set()),
        ("INSERT INTO orders SELECT * FROM orders", "postgres", "public", {("public", "orders")}, set()),
        ("UPDATE orders SET total = $1 FROM customers WHERE customers.id = orders.c", "postgres", "public",
         {("public", "orders"), ("public", "customers")}, set()),
        ("CREATE VIEW v AS SELECT * FROM orders", "postgres", "public", {("public", "v"), ("public", "orders")}, set()),
        ("SELECT * FROM otherdb.public.orders", "postgres", "public", set(), set()),
        ("SELECT * FROM mydb.public.orders", "postgres", "public", {("public", "orders")}, set()),
        ("SELECT * FROM generate_series(1, 3)", "postgres", "public", set(), set()),
        ("SELECT COUNT ( * ) FROM `Orders` WHERE `a` = ?", "mysql", "shop", {("shop", "Orders")}, set()),
        ("INSERT INTO `t` SELECT * FROM `crm` . `people`", "mysql", "shop", {("shop", "t"), ("crm", "people")},
         {(("crm", "people"), ("shop", "t"))}),
        ("SELECT * FROM `orders`", "mysql", "", set(), set()),  # no default database: nothing to resolve
        ("BEGIN", "postgres", "public", set(), set()),
    ],
)  # fmt: skip
def test_statements_name_the_tables_they_touch_as_the_engine_resolves_them(
    sql: str, dialect: str, default: str, tables: set[Any], feeds: set[Any]
) -> None:
    found = usage.touched(sql, dialect, default, "mydb")
    assert found is not None
    assert set(found.tables) == tables
    assert set(found.feeds) == feeds


def test_what_cannot_be_parsed_is_none() -> None:
    assert usage.touched("SELECT ... FROM orders", "mysql", "shop") is None
    assert usage.touched("SELECT * FROM orders WHERE " + "x = 1 AND " * 20_000 + "true", "postgres", "public") is None


# --- the last 30 days from cumulative counts ----------------------------------------------------------------

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


@pytest.mark.parametrize(
    ("points", "now", "grown", "since"),
    [
        ([(day(0), 100)], day(0), 0, day(0)),  # one sample: nothing grew yet
        ([(day(0), 100), (day(1), 150)], day(1), 50, day(0)),  # younger than 30 days: from the first sample
        ([(day(0), 100), (day(1), 150), (day(31), 400)], day(31), 250, day(1)),  # the newest at or before 30 days
        ([(day(0), 100), (day(2), 120), (day(40), 400)], day(40), 280, day(2)),  # older than 30 days: from there
        ([(day(0), 100), (day(5), 0), (day(6), 30)], day(6), 30, day(0)),  # a reset is a 0: what follows counts
        ([(day(0), 100), (day(1), 150), (day(2), 120)], day(2), 50, day(0)),  # a drop (eviction) adds nothing
    ],
)
def test_growth_counts_from_the_newest_sample_at_or_before_30_days_ago(
    points: list[tuple[datetime, int]], now: datetime, grown: int, since: datetime
) -> None:
    assert usage.growth(points, now - usage.WINDOW) == (grown, since)


# --- recording at sync time, with time moving on ------------------------------------------------------------


def _integration(sessions: Any, world: World, type_: str = "postgres") -> str:
    with transaction(sessions, world.a.id) as session:
        integration = Integration(name=unique_name("src"), type=type_, config_encrypted="")
        session.add(integration)
        session.flush()
        return integration.id


def _snapshot(statements: list[StatementStat], note: str = "") -> Snapshot:
    tables = [
        TableMeta("public", "orders", popularity=9.0),
        TableMeta("public", "daily"),
        TableMeta("public", "daily_view", kind="view"),
    ]
    return Snapshot(database="db", tables=tables, dialect="postgres", statements=statements, usage_note=note)


def _apply(
    sessions: Any, world: World, integration_id: str, snapshot: Snapshot, now: datetime, clock: pytest.MonkeyPatch
) -> dict[str, Any]:
    """apply.apply as of `now`: time moves on between calls."""
    clock.setattr(usage, "utcnow", lambda: now)
    with transaction(sessions, world.a.id) as session:
        return apply.apply(session, session.get_one(Integration, integration_id), snapshot).extra


def _usage_of(sessions: Any, world: World, name: str, now: datetime) -> tuple[usage.Usage, Resource]:
    with transaction(sessions, world.a.id) as session:
        resource = session.scalars(select(Resource).where(Resource.name == name, Resource.type != "column")).one()
        shown = usage.shown(session=session, resource=resource, now=now)
        assert shown is not None
        session.expunge(resource)
        return shown, resource


def test_usage_over_30_days_from_samples_of_cumulative_counts(
    sessions: Any, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    integration_id = _integration(sessions, world)

    def at(now: datetime, alice: int, bob: int) -> tuple[usage.Usage, Resource]:
        statements = [
            StatementStat("SELECT * FROM orders WHERE id = $1", alice, user="10"),
            StatementStat("select count(*) from ORDERS", bob, user="11"),
        ]
        _apply(sessions, world, integration_id, _snapshot(statements), now, monkeypatch)
        return _usage_of(sessions, world, "orders", now)

    # The first sync sees only a count with no time: nothing is known to have run yet.
    shown, orders = at(day(0), 100, 10)
    assert (shown.queries_30d, shown.users_30d, shown.source) == (0, 0, "pg_stat_statements")
    # A day later: growth since the first sample, which `since` names (the history is younger than 30 days).
    shown, orders = at(day(1), 150, 10)
    assert (shown.queries_30d, shown.users_30d, shown.since) == (50, 1, day(0)) and shown.window == "since 2026-11-01"
    assert orders.source_popularity == 50.0  # popularity is the history's count, not the connector's 9 scans
    # An hour later: counted again, but no new sample (at most one a day).
    shown, _ = at(day(1.04), 160, 12)
    assert (shown.queries_30d, shown.users_30d) == (62, 2)
    # A month on: from the newest sample at or before 30 days ago (day 1); the older one is dropped.
    shown, orders = at(day(31), 400, 12)
    assert (shown.queries_30d, shown.users_30d, shown.since) == (250 + 2, 2, day(1))
    assert shown.window == "in the last 30 days"
    assert orders.source_popularity == 252.0 and orders.popularity == 252.0
    with transaction(sessions, world.a.id) as session:
        kept = session.scalars(select(UsageSample.taken_at).where(UsageSample.user_key == "10")).all()
    assert sorted(kept) == [day(1), day(31)]  # one a day at most, none older than the one counted from


def test_a_reset_the_source_reports_counts_from_zero(
    sessions: Any, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    integration_id = _integration(sessions, world)
    reset = day(-2)
    statements = [StatementStat("SELECT * FROM orders", 40, user="10", since=reset)]
    _apply(sessions, world, integration_id, _snapshot(statements), day(0), monkeypatch)
    shown, _ = _usage_of(sessions, world, "orders", day(0))
    assert (shown.queries_30d, shown.since, shown.window) == (40, reset, "since 2026-10-30")
    # Reset again on day 4: what ran between the last sample and the reset is unknown; the rest is counted.
    statements = [StatementStat("SELECT * FROM orders", 10, user="10", since=day(4))]
    _apply(sessions, world, integration_id, _snapshot(statements), day(5), monkeypatch)
    shown, _ = _usage_of(sessions, world, "orders", day(5))
    assert (shown.queries_30d, shown.since) == (40 + 10, reset)
    # 40 days after the first reset: only what grew since the newest sample at or before 30 days ago (day 5).
    statements = [StatementStat("SELECT * FROM orders", 25, user="10", since=day(4))]
    _apply(sessions, world, integration_id, _snapshot(statements), day(38), monkeypatch)
    shown, _ = _usage_of(sessions, world, "orders", day(38))
    assert (shown.queries_30d, shown.since, shown.window) == (15, day(5), "since 2026-11-06")


def test_query_lineage_is_replaced_at_each_sync_and_never_targets_a_view(
    sessions: Any, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    integration_id = _integration(sessions, world)
    feeding = [
        StatementStat("INSERT INTO daily SELECT * FROM orders", 1, user="10"),
        StatementStat("INSERT INTO daily_view SELECT * FROM orders", 1, user="10"),
    ]
    stats = _apply(sessions, world, integration_id, _snapshot(feeding), day(0), monkeypatch)
    assert stats["query_lineage"] == 1

    def edges() -> set[tuple[str, str, str, str]]:
        with transaction(sessions, world.a.id) as session:
            names = dict(session.execute(select(Resource.id, Resource.name)).all())
            return {
                (names[u], names[d], origin, kind)
                for u, d, origin, kind in session.execute(
                    select(Lineage.upstream_id, Lineage.downstream_id, Lineage.origin, Lineage.kind)
                )
            }

    assert edges() == {("orders", "daily", "query", "value")}
    _apply(sessions, world, integration_id, _snapshot(feeding), day(1), monkeypatch)
    assert edges() == {("orders", "daily", "query", "value")}
    _apply(sessions, world, integration_id, _snapshot([StatementStat("SELECT 1", 1)]), day(2), monkeypatch)
    assert edges() == set()


def test_a_history_that_cannot_be_read_removes_usage_and_query_lineage(
    sessions: Any, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    integration_id = _integration(sessions, world)
    _apply(
        sessions,
        world,
        integration_id,
        _snapshot([StatementStat("INSERT INTO daily SELECT * FROM orders", 5)]),
        day(0),
        monkeypatch,
    )
    stats = _apply(sessions, world, integration_id, _snapshot([], note=history.PG_NOT_INSTALLED), day(1), monkeypatch)
    assert stats["usage"] == history.PG_NOT_INSTALLED and "usage_statements" not in stats
    shown, orders = _usage_of(sessions, world, "orders", day(1))
    assert shown.source is None and shown.queries_30d is None
    assert orders.source_popularity == 9.0  # the connector's own measure again
    with transaction(sessions, world.a.id) as session:
        assert session.scalars(select(ResourceUsage)).all() == []
        assert session.scalars(select(Lineage).where(Lineage.origin == "query")).all() == []


# --- end to end: a real PostgreSQL with pg_stat_statements ---------------------------------------------------

PG_SETUP = """
CREATE SCHEMA sales;
CREATE TABLE customers (id int PRIMARY KEY, name text);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int, total int, note text);
CREATE TABLE daily_totals (customer_id int, total bigint);
CREATE TABLE sales.regions (id int PRIMARY KEY);
INSERT INTO customers VALUES (1, 'Ada'), (2, 'Bob');
INSERT INTO orders VALUES (1, 1, 10, 'x'), (2, 2, 20, 'y');
DO $$ BEGIN CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
GRANT USAGE ON SCHEMA sales TO alice, bob;
GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO alice, bob;
GRANT SELECT ON ALL TABLES IN SCHEMA sales TO alice, bob;
"""


def _pg_workload(server: PrivatePostgres, database: str) -> None:
    with server.connect(database) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")
    with server.connect(database, "alice") as conn:
        for i in range(3):
            conn.execute("SELECT count(*) FROM orders WHERE total > %s", (i,))
        conn.execute(f"SELECT * FROM customers WHERE name = '{SECRET}'")
        conn.execute("SELECT * FROM sales.regions")
    with server.connect(database, "bob") as conn:
        for _ in range(2):
            conn.execute("SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id")
        conn.execute(
            "INSERT INTO daily_totals SELECT o.customer_id, sum(o.total) FROM orders o"
            " JOIN customers c ON c.id = o.customer_id GROUP BY 1"
        )
    with server.connect(database) as conn:  # a utility statement: pg_stat_statements keeps its literal
        conn.execute(f"CREATE TABLE report AS SELECT * FROM orders WHERE note <> '{SECRET}'")


def _store_text(sessions: Any) -> str:
    """Every row of every table of the store, as text (the raw connection: no workspace filter)."""
    session = sessions()
    try:
        connection = session.connection()
        return "\n".join(repr(connection.execute(t.select()).all()) for t in Base.metadata.sorted_tables)
    finally:
        session.close()


def _lineage(client: TestClient, world: World, resource: dict[str, Any]) -> dict[str, set[str]]:
    body = client.get(f"/api/v1/resources/{resource['id']}/lineage", headers=world.a.admin.headers).json()
    return {side: {r["name"] for r in body[side]} for side in ("upstream", "downstream")}


def test_postgres_usage_end_to_end(
    client: TestClient,
    world: World,
    sessions: Any,
    private_pg: PrivatePostgres,  # noqa: F811  (the fixture imported above)
) -> None:
    database = private_pg.database(PG_SETUP)
    _pg_workload(private_pg, database)
    read = PostgresConnector(private_pg.url(database)).read()  # the literal is there to be kept out
    assert any(SECRET in s.text for s in read.statements if s.text.startswith("CREATE TABLE report"))
    integration = add_integration(client, world.a.admin, "pg", "postgres", {"url": private_pg.url(database)})
    run = run_sync(client, world.a.admin, integration["id"])
    assert run["status"] == "succeeded", run
    assert "usage" not in run["stats"] and run["stats"]["usage_tables"] == 5 and run["stats"]["query_lineage"] == 3
    found = by_name(client, world.a.admin, integration_id=integration["id"])
    table = {name: found[f"{database}.{schema}.{name}"] for schema, name in (
        ("public", "orders"), ("public", "customers"), ("public", "daily_totals"), ("public", "report"),
        ("sales", "regions"))}  # fmt: skip

    expected = {"orders": (7, 3), "customers": (4, 2), "daily_totals": (1, 1), "report": (1, 1), "regions": (1, 1)}
    for name, (queries, users) in expected.items():
        shown, _ = _usage_of(sessions, world, name, datetime.now(UTC))
        assert (shown.queries_30d, shown.users_30d, shown.source) == (queries, users, "pg_stat_statements"), name
        assert shown.since is not None and shown.window.startswith("since ")  # the history began today
        body = client.get(f"/api/v1/resources/{table[name]['id']}", headers=world.a.admin.headers).json()
        assert body["popularity"] == queries, name
    assert _lineage(client, world, table["daily_totals"])["upstream"] == {"orders", "customers"}
    assert _lineage(client, world, table["report"])["upstream"] == {"orders"}
    assert "daily_totals" in _lineage(client, world, table["orders"])["downstream"]
    # The literal pg_stat_statements kept in the CREATE TABLE AS statement reached nothing stored.
    assert SECRET not in _store_text(sessions)

    # Once the statements leave the history, their lineage goes with them, and nothing new ran.
    with private_pg.connect(database) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")
    run = run_sync(client, world.a.admin, integration["id"])
    assert run["status"] == "succeeded" and run["stats"]["query_lineage"] == 0
    assert _lineage(client, world, table["daily_totals"])["upstream"] == set()
    shown, _ = _usage_of(sessions, world, "orders", datetime.now(UTC))
    assert shown.queries_30d == 0


# --- end to end: a real MariaDB with performance_schema ------------------------------------------------------


def test_mariadb_usage_end_to_end(
    client: TestClient,
    world: World,
    sessions: Any,
    private_maria: PrivateMariaDB,  # noqa: F811  (the fixture imported above)
) -> None:
    database = unique_name("dd_usage")
    private_maria.run(None, f"CREATE DATABASE `{database}`")
    private_maria.run(
        database,
        "CREATE TABLE customers (id int PRIMARY KEY, name text)",
        "CREATE TABLE orders (id int PRIMARY KEY, customer_id int, total int, note text)",
        "CREATE TABLE daily_totals (customer_id int, total bigint)",
        "INSERT INTO customers VALUES (1, 'Ada'), (2, 'Bob')",
        "INSERT INTO orders VALUES (1, 1, 10, 'x'), (2, 2, 20, 'y')",
        "TRUNCATE performance_schema.events_statements_summary_by_digest",
        *[f"SELECT count(*) FROM orders WHERE total > {i}" for i in range(3)],
        *["SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id"] * 2,
        "INSERT INTO daily_totals SELECT o.customer_id, sum(o.total) FROM orders o"
        " JOIN customers c ON c.id = o.customer_id GROUP BY 1",
        f"CREATE TABLE report AS SELECT * FROM orders WHERE note <> '{SECRET}'",
    )
    try:
        integration = add_integration(client, world.a.admin, "my", "mysql", {"url": private_maria.url(database)})
        run = run_sync(client, world.a.admin, integration["id"])
    finally:
        private_maria.run(None, f"DROP DATABASE `{database}`")
    assert run["status"] == "succeeded", run
    assert "usage" not in run["stats"] and run["stats"]["query_lineage"] == 3
    found = by_name(client, world.a.admin, integration_id=integration["id"])
    for name, queries in {"orders": 7, "customers": 3, "daily_totals": 1, "report": 1}.items():
        shown, _ = _usage_of(sessions, world, name, datetime.now(UTC))
        # performance_schema does not say who ran a statement.
        assert (shown.queries_30d, shown.users_30d, shown.source) == (queries, None, "performance_schema"), name
        body = client.get(
            f"/api/v1/resources/{found[f'{database}.{database}.{name}']['id']}", headers=world.a.admin.headers
        )
        assert body.json()["popularity"] == queries, name
    assert _lineage(client, world, found[f"{database}.{database}.daily_totals"])["upstream"] == {"orders", "customers"}
    assert _lineage(client, world, found[f"{database}.{database}.report"])["upstream"] == {"orders"}
    assert SECRET not in _store_text(sessions)


# --- the shared servers keep no history: the sync says so, in the API, the admin page and the CLI ----------


def test_a_source_without_history_says_so_on_the_run_and_the_admin_page(client: TestClient, world: World) -> None:
    with fresh_pg_database() as url:
        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute("CREATE TABLE orders (id int PRIMARY KEY)")
        integration = add_integration(client, world.a.admin, "pg", "postgres", {"url": url})
        run = run_sync(client, world.a.admin, integration["id"])
    assert run["status"] == "succeeded"
    assert run["stats"]["usage"] == history.PG_NOT_INSTALLED
    sign_in(client, world.a.admin)
    page = client.get(f"/admin/integrations/{integration['id']}").text
    assert "pg_stat_statements is not installed in this database" in page


def test_the_cli_sync_summary_says_so(tmp_path: Path, database_url: str) -> None:
    env = {
        "DATADESK_HOME": str(tmp_path / "home"),
        "DATADESK_DATABASE_URL": database_url,
        "DATADESK_SECRET_KEY": TEST_SECRET,
        "DATADESK_SOURCES_DIR": os.pathsep.join([str(tmp_path), str(FIXTURES)]),
    }
    runner = CliRunner()
    init = ["init", "--workspace", "acme", "--admin-email", "ada@acme.com", "--admin-password", "pw-12345678"]
    assert runner.invoke(cli, init, env=env).exit_code == 0
    with fresh_pg_database() as url:
        add = ["integrations", "add", "-w", "acme", "--name", "pg", "--type", "postgres", "--url", url]
        assert runner.invoke(cli, add, env=env).exit_code == 0
        result = runner.invoke(cli, ["sync", "pg", "-w", "acme"], env=env)
    assert result.exit_code == 0, result.stderr
    assert "pg_stat_statements is not installed in this database" in result.stdout


# --- datadesk's own query log ---------------------------------------------------------------------------------


@pytest.fixture
def warehouse(client: TestClient, world: World, tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "wh.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, amount INTEGER); INSERT INTO orders VALUES (1, 10);"
    )
    conn.close()
    integration = add_integration(client, world.a.admin, "wh", "sqlite", {"url": f"sqlite:///{path}"})
    assert run_sync(client, world.a.admin, integration["id"])["status"] == "succeeded"
    orders = by_name(client, world.a.admin)["wh.main.orders"]
    return {"integration": integration, "orders": orders}


def test_runs_through_datadesk_count_per_table_with_distinct_members(
    client: TestClient, world: World, sessions: Any, warehouse: dict[str, Any]
) -> None:
    integration_id, orders_id = warehouse["integration"]["id"], warehouse["orders"]["id"]
    set_run_sql(client, world.a.admin, True)
    grant(client, world.a.admin, integration_id, ["role:editor", "role:admin"])
    for person in (world.a.editor, world.a.editor, world.a.admin):
        response = client.post(
            "/api/v1/sql",
            json={"integration_id": integration_id, "sql": "SELECT id FROM orders"},
            headers=person.headers,
        )
        assert response.status_code == 200, response.text
    refused = client.post(  # a refused run reads nothing and counts for nothing
        "/api/v1/sql",
        json={"integration_id": integration_id, "sql": "DROP TABLE orders"},
        headers=world.a.admin.headers,
    )
    assert refused.status_code == 400

    shown, _ = _usage_of(sessions, world, "orders", datetime.now(UTC))
    assert (shown.datadesk_queries_30d, shown.datadesk_users_30d) == (3, 2)
    assert shown.source is None and shown.queries_30d is None  # SQLite keeps no statement history
    assert "3 runs by 2 members through datadesk" in shown.summary

    def popularity() -> float:
        body = client.get(f"/api/v1/resources/{orders_id}", headers=world.a.admin.headers).json()
        return float(body["popularity"])

    assert popularity() == 3
    assert run_sync(client, world.a.admin, integration_id)["status"] == "succeeded"
    assert popularity() == 3  # recomputed at the sync: the same three runs of the last 30 days
    # A run older than 30 days no longer counts, in usage or in popularity, once a sync recomputes it.
    with transaction(sessions, world.a.id) as session:
        admin_run = session.scalars(select(QueryRun).where(QueryRun.user_id == world.a.admin.id)).first()
        assert admin_run is not None
        admin_run.created_at = datetime.now(UTC) - timedelta(days=40)
        for read in session.scalars(select(QueryRunResource).where(QueryRunResource.query_run_id == admin_run.id)):
            read.created_at = admin_run.created_at  # the run's time, which its rows carry (sql.service copies it)
    assert run_sync(client, world.a.admin, integration_id)["status"] == "succeeded"
    assert popularity() == 2
    shown, _ = _usage_of(sessions, world, "orders", datetime.now(UTC))
    assert (shown.datadesk_queries_30d, shown.datadesk_users_30d) == (2, 1)


def test_the_migration_gives_each_read_its_run_s_time_and_member(
    client: TestClient, app: Any, world: World, sessions: Any, warehouse: dict[str, Any]
) -> None:
    """20261208_0017 copies created_at and user_id from query_run into query_run_resource; its downgrade drops them."""
    integration_id = warehouse["integration"]["id"]
    set_run_sql(client, world.a.admin, True)
    grant(client, world.a.admin, integration_id, ["role:editor", "role:admin"])
    for person in (world.a.editor, world.a.admin):
        response = client.post(
            "/api/v1/sql",
            json={"integration_id": integration_id, "sql": "SELECT id FROM orders"},
            headers=person.headers,
        )
        assert response.status_code == 200, response.text

    def reads() -> list[tuple[str | None, bool]]:
        """Each row's member, and whether its time and member are its run's."""
        with transaction(sessions, world.a.id) as session:
            found = session.execute(
                select(QueryRunResource, QueryRun).join(QueryRun, QueryRun.id == QueryRunResource.query_run_id)
            )
            return sorted(
                (read.user_id, (read.created_at, read.user_id) == (run.created_at, run.user_id)) for read, run in found
            )

    written = reads()
    assert written == sorted([(world.a.editor.id, True), (world.a.admin.id, True)])
    client.portal.call(app.state.jobs.stop)  # type: ignore[union-attr]  # as an operator stops the server to migrate
    config = store.alembic_config()
    try:
        with app.state.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "20261208_0016")
        columns = {c["name"] for c in inspect(app.state.engine).get_columns("query_run_resource")}
        assert columns == {"query_run_id", "resource_id", "workspace_id"}
    finally:
        store.upgrade(app.state.engine)
    assert reads() == written
