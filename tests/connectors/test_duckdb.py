"""DuckDBConnector on real DuckDB files."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from datadesk.connectors.base import ConnectionFailed, ForeignKey, Snapshot, TableMeta
from datadesk.connectors.duckdb import DuckDBConnector

JAFFLE = Path("/work/shared/data/dbt/jaffle-shop-artifacts/jaffle.duckdb")

SCHEMA = """
CREATE SCHEMA sales;
CREATE SCHEMA analytics;
CREATE TABLE sales.customers (id INTEGER PRIMARY KEY, email VARCHAR NOT NULL, full_name VARCHAR);
COMMENT ON TABLE sales.customers IS 'One row per customer';
COMMENT ON COLUMN sales.customers.email IS 'Login e-mail';
CREATE TABLE sales.orders (
    id BIGINT PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES sales.customers (id),
    total DECIMAL(12, 2),
    ordered_at DATE
);
CREATE TABLE sales.order_lines (order_id BIGINT, line_no SMALLINT, sku VARCHAR, PRIMARY KEY (order_id, line_no));
CREATE TABLE sales.shipments (
    id INTEGER, order_id BIGINT, line_no SMALLINT,
    FOREIGN KEY (order_id, line_no) REFERENCES sales.order_lines (order_id, line_no)
);
CREATE TABLE main.raw_events (payload JSON, received_at TIMESTAMP);
CREATE VIEW analytics.customer_orders AS
    SELECT c.id AS customer_id, c.email, o.id AS order_id, o.total
    FROM sales.customers c JOIN sales.orders o ON o.customer_id = c.id;
COMMENT ON VIEW analytics.customer_orders IS 'Customers with their orders';
CREATE VIEW analytics.big_spenders AS
    WITH spend AS (SELECT customer_id, sum(total) AS spent FROM customer_orders GROUP BY ALL)
    SELECT * FROM spend WHERE spent > 100;
CREATE VIEW analytics.events_by_day AS SELECT received_at::DATE AS day, count(*) AS n FROM raw_events GROUP BY 1;
INSERT INTO sales.customers SELECT i, 'c' || i || '@example.com', NULL FROM range(1, 201) t(i);
INSERT INTO sales.orders SELECT i, 1 + i % 200, i * 1.5, DATE '2024-01-01' FROM range(1, 501) t(i);
"""


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("duckdb") / "warehouse.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute(SCHEMA)
    return path


@pytest.fixture(scope="module")
def snapshot(db_path: Path) -> Snapshot:
    return DuckDBConnector(f"duckdb:///{db_path}").read()


def _table(snapshot: Snapshot, schema: str, name: str) -> TableMeta:
    return next(t for t in snapshot.tables if (t.schema, t.name) == (schema, name))


def test_schemas_and_objects(snapshot: Snapshot) -> None:
    assert snapshot.database == "warehouse"
    assert snapshot.schemas == {"analytics": "", "main": "", "sales": ""}  # DuckDB has no schema comments yet
    assert {(t.schema, t.name): t.kind for t in snapshot.tables} == {
        ("sales", "customers"): "table",
        ("sales", "orders"): "table",
        ("sales", "order_lines"): "table",
        ("sales", "shipments"): "table",
        ("main", "raw_events"): "table",
        ("analytics", "customer_orders"): "view",
        ("analytics", "big_spenders"): "view",
        ("analytics", "events_by_day"): "view",
    }


def test_columns_comments_and_keys(snapshot: Snapshot) -> None:
    customers = _table(snapshot, "sales", "customers")
    assert customers.description == "One row per customer"
    assert [(c.ordinal, c.name, c.data_type, c.nullable, c.is_primary_key) for c in customers.columns] == [
        (1, "id", "INTEGER", False, True),
        (2, "email", "VARCHAR", False, False),
        (3, "full_name", "VARCHAR", True, False),
    ]
    assert customers.columns[1].description == "Login e-mail"
    assert _table(snapshot, "sales", "orders").columns[2].data_type == "DECIMAL(12,2)"
    lines = _table(snapshot, "sales", "order_lines")
    assert [c.name for c in lines.columns if c.is_primary_key] == ["order_id", "line_no"]
    raw = _table(snapshot, "main", "raw_events")
    assert raw.description == "" and [c.data_type for c in raw.columns] == ["JSON", "TIMESTAMP"]


def test_foreign_keys(snapshot: Snapshot) -> None:
    assert _table(snapshot, "sales", "orders").foreign_keys == [
        ForeignKey(["customer_id"], "sales", "customers", ["id"])
    ]
    assert _table(snapshot, "sales", "shipments").foreign_keys == [
        ForeignKey(["order_id", "line_no"], "sales", "order_lines", ["order_id", "line_no"])
    ]


def test_view_lineage(snapshot: Snapshot) -> None:
    customer_orders = _table(snapshot, "analytics", "customer_orders")
    assert customer_orders.description == "Customers with their orders"
    assert sorted(customer_orders.upstream) == [("sales", "customers"), ("sales", "orders")]
    assert "JOIN sales.orders" in customer_orders.definition
    # Unqualified names resolve as DuckDB does: the view's own schema first, then main.
    assert _table(snapshot, "analytics", "big_spenders").upstream == [("analytics", "customer_orders")]
    assert _table(snapshot, "analytics", "events_by_day").upstream == [("main", "raw_events")]


def test_row_estimates(snapshot: Snapshot) -> None:
    assert _table(snapshot, "sales", "customers").row_estimate == 200
    assert _table(snapshot, "sales", "orders").row_estimate == 500
    assert _table(snapshot, "analytics", "customer_orders").row_estimate is None


def test_opens_read_only_alongside_another_reader(db_path: Path) -> None:
    with duckdb.connect(str(db_path), read_only=True):
        calls: list[tuple[int, int, str]] = []
        DuckDBConnector(f"duckdb:///{db_path}").read(lambda done, total, what: calls.append((done, total, what)))
    assert calls[-1][:2] == (5, 5)


@pytest.mark.skipif(not JAFFLE.exists(), reason="the shared jaffle-shop warehouse is not on this machine")
def test_reads_the_jaffle_shop_warehouse() -> None:
    snapshot = DuckDBConnector(f"duckdb:///{JAFFLE}").read()
    assert set(snapshot.schemas) == {"main", "raw"}
    assert _table(snapshot, "raw", "raw_orders").row_estimate == 2000
    assert _table(snapshot, "main", "stg_orders").upstream == [("raw", "raw_orders")]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConnectionFailed, match="does not exist"):
        DuckDBConnector(f"duckdb:///{tmp_path / 'nope.duckdb'}").test()
    assert not (tmp_path / "nope.duckdb").exists()


def test_not_a_duckdb_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("These are my notes, not a database.\n" * 500)
    with pytest.raises(ConnectionFailed, match="is not a DuckDB database"):
        DuckDBConnector(f"duckdb:///{path}").test()
    with pytest.raises(ConnectionFailed, match="is not a DuckDB database"):
        DuckDBConnector(f"duckdb:///{path}").read()


def test_rejects_memory_and_other_urls() -> None:
    for url in ("duckdb://", "duckdb:///:memory:", "sqlite:///x.db"):
        with pytest.raises(ValueError):
            DuckDBConnector(url)
