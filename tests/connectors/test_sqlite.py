"""SQLiteConnector on real SQLite files."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from datadesk.connectors.base import ConnectionFailed, ForeignKey, Snapshot, TableMeta
from datadesk.connectors.sqlite import SQLiteConnector

SCHEMA = """
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    email VARCHAR(200) NOT NULL,
    full_name TEXT
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    total NUMERIC(12, 2),
    ordered_at DATE
);
CREATE INDEX orders_customer ON orders (customer_id);
CREATE TABLE order_lines (
    order_id INTEGER REFERENCES orders,
    line_no INTEGER,
    sku TEXT NOT NULL,
    PRIMARY KEY (order_id, line_no)
) WITHOUT ROWID;
CREATE TABLE shipments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id INTEGER,
    line_no INTEGER,
    FOREIGN KEY (order_id, line_no) REFERENCES order_lines (order_id, line_no)
);
CREATE TABLE "Raw Events" (payload, received_at TIMESTAMP);
CREATE VIEW customer_orders AS
    SELECT c.id AS customer_id, c.email, o.id AS order_id, o.total
    FROM customers c JOIN orders o ON o.customer_id = c.id;
CREATE VIEW big_spenders AS
    WITH spend AS (SELECT customer_id, sum(total) AS spent FROM Customer_Orders GROUP BY customer_id)
    SELECT * FROM spend WHERE spent > 100;
CREATE VIEW events_by_day AS SELECT date(received_at) AS day, count(*) AS n FROM "Raw Events" GROUP BY 1;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
INSERT INTO customers (id, email) SELECT i, 'c' || i || '@example.com' FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
INSERT INTO orders SELECT i, 1 + i % 200, i * 1.5, '2024-01-01' FROM n;
ANALYZE;
"""


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "shop.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA)
    conn.close()
    return path


@pytest.fixture(scope="module")
def snapshot(db_path: Path) -> Snapshot:
    return SQLiteConnector(f"sqlite:///{db_path}").read()


def _table(snapshot: Snapshot, name: str) -> TableMeta:
    return next(t for t in snapshot.tables if t.name == name)


def test_objects(snapshot: Snapshot) -> None:
    assert snapshot.database == "shop"
    assert snapshot.schemas == {"main": ""}
    assert {t.name: t.kind for t in snapshot.tables} == {
        "customers": "table",
        "orders": "table",
        "order_lines": "table",
        "shipments": "table",  # sqlite_sequence (from AUTOINCREMENT) and sqlite_stat1 are left out
        "Raw Events": "table",
        "customer_orders": "view",
        "big_spenders": "view",
        "events_by_day": "view",
    }
    assert all(t.schema == "main" and t.description == "" for t in snapshot.tables)


def test_columns_and_primary_keys(snapshot: Snapshot) -> None:
    customers = _table(snapshot, "customers")
    assert [(c.ordinal, c.name, c.data_type, c.nullable, c.is_primary_key) for c in customers.columns] == [
        (1, "id", "INTEGER", False, True),
        (2, "email", "VARCHAR(200)", False, False),
        (3, "full_name", "TEXT", True, False),
    ]
    assert [c.name for c in _table(snapshot, "order_lines").columns if c.is_primary_key] == ["order_id", "line_no"]
    assert [(c.name, c.data_type) for c in _table(snapshot, "Raw Events").columns] == [
        ("payload", ""),
        ("received_at", "TIMESTAMP"),
    ]
    assert [c.name for c in _table(snapshot, "customer_orders").columns] == [
        "customer_id",
        "email",
        "order_id",
        "total",
    ]


def test_foreign_keys(snapshot: Snapshot) -> None:
    assert _table(snapshot, "orders").foreign_keys == [ForeignKey(["customer_id"], "main", "customers", ["id"])]
    # REFERENCES orders without columns means the primary key of orders.
    assert _table(snapshot, "order_lines").foreign_keys == [ForeignKey(["order_id"], "main", "orders", ["id"])]
    assert _table(snapshot, "shipments").foreign_keys == [
        ForeignKey(["order_id", "line_no"], "main", "order_lines", ["order_id", "line_no"])
    ]


def test_view_lineage(snapshot: Snapshot) -> None:
    assert sorted(_table(snapshot, "customer_orders").upstream) == [("main", "customers"), ("main", "orders")]
    # The CTE is not a table; the name is matched case-insensitively, as SQLite does.
    assert _table(snapshot, "big_spenders").upstream == [("main", "customer_orders")]
    assert _table(snapshot, "events_by_day").upstream == [("main", "Raw Events")]
    assert _table(snapshot, "big_spenders").definition.startswith("CREATE VIEW big_spenders")


def test_row_estimates_after_analyze(snapshot: Snapshot) -> None:
    assert _table(snapshot, "customers").row_estimate == 200
    assert _table(snapshot, "orders").row_estimate == 500
    assert _table(snapshot, "customer_orders").row_estimate is None


def test_reading_leaves_the_file_untouched(db_path: Path) -> None:
    before = hashlib.sha256(db_path.read_bytes()).hexdigest()
    calls: list[tuple[int, int, str]] = []
    SQLiteConnector(f"sqlite:///{db_path}").read(lambda done, total, what: calls.append((done, total, what)))
    assert hashlib.sha256(db_path.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in db_path.parent.iterdir()) == ["shop.db"]
    assert calls[-1][0] == calls[-1][1]


def test_a_broken_view_does_not_hide_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "broken.db"
    with sqlite3.connect(path) as conn:
        conn.executescript("CREATE TABLE t (a INT); CREATE VIEW v AS SELECT a FROM t; DROP TABLE t;")
        conn.executescript("CREATE TABLE u (b TEXT);")
    conn.close()
    snapshot = SQLiteConnector(f"sqlite:///{path}").read()
    assert [(t.name, [c.name for c in t.columns]) for t in snapshot.tables] == [("u", ["b"]), ("v", [])]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConnectionFailed, match="does not exist"):
        SQLiteConnector(f"sqlite:///{tmp_path / 'nope.db'}").test()
    assert not (tmp_path / "nope.db").exists()  # read-only: never created


def test_not_a_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("These are my notes, not a database.\n" * 100)
    with pytest.raises(ConnectionFailed, match="is not a SQLite database"):
        SQLiteConnector(f"sqlite:///{path}").test()
    with pytest.raises(ConnectionFailed, match="is not a SQLite database"):
        SQLiteConnector(f"sqlite:///{path}").read()


def test_a_folder(tmp_path: Path) -> None:
    with pytest.raises(ConnectionFailed, match="is not a file"):
        SQLiteConnector(f"sqlite:///{tmp_path}").test()


def test_rejects_memory_and_other_urls() -> None:
    for url in ("sqlite://", "sqlite:///:memory:", "duckdb:///x.db"):
        with pytest.raises(ValueError):
            SQLiteConnector(url)
