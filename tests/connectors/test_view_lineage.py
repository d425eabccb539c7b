"""Column lineage of views read back from real SQLite, DuckDB, PostgreSQL and MariaDB by their connectors."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import duckdb
import psycopg
import pytest
from sqlalchemy.engine import make_url

from datadesk.connectors.base import Snapshot
from datadesk.connectors.duckdb import DuckDBConnector
from datadesk.connectors.lineage import annotate
from datadesk.connectors.mysql import MySQLConnector
from datadesk.connectors.postgres import PostgresConnector
from datadesk.connectors.sqlite import SQLiteConnector
from tests.dbs import fresh_mysql_database, fresh_pg_database, mysql_admin

Edge = tuple[str, str, str, str]  # (column, "schema.table", source column, kind)

TABLES = """
CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(100), region VARCHAR(20));
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, total DECIMAL(12, 2), status VARCHAR(10));
CREATE TABLE {r}refunds (id INTEGER, order_id INTEGER, amount DECIMAL(12, 2));
"""
# {v}: the views' schema; {r}: the refunds table's; {u}: how one view names another (unqualified in DuckDB:
# its own schema comes first).
VIEWS = """
CREATE VIEW {v}paid_orders AS
    WITH paid AS (SELECT id, customer_id, total FROM orders WHERE status = 'paid')
    SELECT id AS order_id, customer_id, total FROM paid;
CREATE VIEW {v}big_customers AS
    SELECT s.customer_id, s.spent
    FROM (SELECT customer_id, SUM(total) AS spent FROM orders GROUP BY customer_id) s WHERE s.spent > 100;
CREATE VIEW {v}money_moves AS
    SELECT id, total AS amount FROM orders UNION ALL SELECT order_id, amount FROM {r}refunds;
CREATE VIEW {v}ranked_orders AS
    SELECT id, total, ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY total DESC) AS rank_in_customer
    FROM orders;
CREATE VIEW {v}customer_revenue AS
    SELECT c.name, p.total FROM customers c JOIN {u}paid_orders p ON p.customer_id = c.id;
CREATE VIEW {v}all_orders AS SELECT * FROM orders;
CREATE VIEW {v}renamed (order_ref, amount) AS SELECT id, total FROM orders
"""


def V(column: str, source: str, source_column: str) -> Edge:
    return (column, source, source_column, "value")


def F(source: str, source_column: str) -> Edge:
    return ("", source, source_column, "filter")


def _expected(tables: str, refunds: str, views: str) -> dict[str, set[Edge]]:
    """The same edges on every engine; only the schemas differ."""
    customers, orders, refunds_t = f"{tables}.customers", f"{tables}.orders", f"{refunds}.refunds"
    return {
        "paid_orders": {
            V("order_id", orders, "id"),
            V("customer_id", orders, "customer_id"),
            V("total", orders, "total"),
            F(orders, "status"),
        },
        "big_customers": {
            V("customer_id", orders, "customer_id"),
            V("spent", orders, "total"),
            F(orders, "customer_id"),  # GROUP BY
            F(orders, "total"),  # WHERE s.spent > 100, through the derived table
        },
        "money_moves": {
            V("id", orders, "id"),
            V("id", refunds_t, "order_id"),
            V("amount", orders, "total"),
            V("amount", refunds_t, "amount"),
        },
        "ranked_orders": {
            V("id", orders, "id"),
            V("total", orders, "total"),
            V("rank_in_customer", orders, "customer_id"),
            V("rank_in_customer", orders, "total"),
        },
        "customer_revenue": {  # a view of a view: the edges stop at the view
            V("name", customers, "name"),
            V("total", f"{views}.paid_orders", "total"),
            F(customers, "id"),
            F(f"{views}.paid_orders", "customer_id"),
        },
        "all_orders": {V(c, orders, c) for c in ("id", "customer_id", "total", "status")},
        "renamed": {V("order_ref", orders, "id"), V("amount", orders, "total")},
    }


def _lineage(snapshot: Snapshot) -> dict[str, set[Edge]]:
    """Annotate the snapshot and return each view's edges by view name."""
    assert annotate(snapshot) == 0
    views = [t for t in snapshot.tables if t.kind in ("view", "materialized_view")]
    assert views and not any(t.lineage_unparsed for t in views)
    return {t.name: {(e.column, ".".join(e.source), e.source_column, e.kind) for e in t.column_lineage} for t in views}


def test_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(TABLES.format(r="") + VIEWS.format(v="", r="", u=""))
    conn.close()
    assert _lineage(SQLiteConnector(f"sqlite:///{path}").read()) == _expected("main", "main", "main")


def test_duckdb(tmp_path: Path) -> None:
    """Tables in main, views in analytics: unqualified names resolve in the view's schema, then in main."""
    path = tmp_path / "shop.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE SCHEMA analytics;" + TABLES.format(r="") + VIEWS.format(v="analytics.", r="", u=""))
    snapshot = DuckDBConnector(f"duckdb:///{path}").read()
    assert _lineage(snapshot) == _expected("main", "main", "analytics")


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with fresh_pg_database("dd_lineage") as url:
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
            conn.execute(
                "CREATE SCHEMA reports; CREATE SCHEMA finance;"
                + TABLES.format(r="finance.")
                + VIEWS.format(v="reports.", r="finance.", u="reports.")
                + """;
                CREATE MATERIALIZED VIEW reports.region_revenue AS
                    SELECT c.region, sum(o.total) AS revenue FROM customers c JOIN orders o ON o.customer_id = c.id
                    GROUP BY c.region;
                CREATE VIEW reports."Mixed Case" AS SELECT id AS "Order Id" FROM orders"""
            )
        yield url


def test_postgres(pg_url: str) -> None:
    """pg_get_viewdef leaves names on the search_path (public) unqualified and qualifies the rest."""
    expected = _expected("public", "finance", "reports") | {
        "region_revenue": {
            V("region", "public.customers", "region"),
            V("revenue", "public.orders", "total"),
            F("public.customers", "region"),
            F("public.customers", "id"),
            F("public.orders", "customer_id"),
        },
        "Mixed Case": {V("Order Id", "public.orders", "id")},
    }
    assert _lineage(PostgresConnector(pg_url).read()) == expected


@pytest.fixture(scope="module")
def mysql_url() -> Iterator[str]:
    with fresh_mysql_database("dd_lineage") as url:
        conn = mysql_admin(make_url(url).database)
        try:
            with conn.cursor() as cursor:
                for statement in filter(str.strip, (TABLES.format(r="") + VIEWS.format(v="", r="", u="")).split(";")):
                    cursor.execute(statement)
        finally:
            conn.close()
        yield url


def test_mariadb(mysql_url: str) -> None:
    """VIEW_DEFINITION names every table and column with its database, in backticks."""
    database = make_url(mysql_url).database
    assert database
    assert _lineage(MySQLConnector(mysql_url).read()) == _expected(database, database, database)
