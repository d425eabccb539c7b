"""PostgresConnector against the machine's real PostgreSQL, on a fresh database with a realistic schema."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from datadesk.connectors.base import ConnectionFailed, ForeignKey, Snapshot, TableMeta
from datadesk.connectors.postgres import PostgresConnector
from tests.dbs import fresh_pg_database

SECRET = "hunter2-Very-Secret-9f3a"

SCHEMA = """
CREATE SCHEMA sales;
COMMENT ON SCHEMA sales IS 'Orders and the people who place them';
CREATE SCHEMA analytics;
COMMENT ON SCHEMA analytics IS 'Reporting';
CREATE SCHEMA staging;

CREATE TABLE sales.customers (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email varchar(200) NOT NULL,
    full_name text,
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE sales.customers IS 'One row per customer';
COMMENT ON COLUMN sales.customers.email IS 'Login e-mail';

CREATE TABLE sales.orders (
    id bigint PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES sales.customers (id),
    total numeric(12,2) NOT NULL,
    status varchar(20) NOT NULL DEFAULT 'open',
    ordered_at date
);
COMMENT ON TABLE sales.orders IS 'Orders as placed';
COMMENT ON COLUMN sales.orders.total IS 'Total incl. tax, in EUR';

CREATE TABLE sales.order_lines (
    order_id bigint REFERENCES sales.orders (id),
    line_no smallint,
    sku text NOT NULL,
    PRIMARY KEY (order_id, line_no)
);
CREATE TABLE sales.shipments (
    id serial PRIMARY KEY,
    order_id bigint,
    line_no smallint,
    FOREIGN KEY (order_id, line_no) REFERENCES sales.order_lines (order_id, line_no)
);

CREATE TABLE staging.raw_events (payload jsonb, received_at timestamp, dropped int);
ALTER TABLE staging.raw_events DROP COLUMN dropped;
ALTER TABLE staging.raw_events ADD COLUMN source text;

CREATE TABLE analytics.page_views (id bigint, viewed_at date NOT NULL, path text) PARTITION BY RANGE (viewed_at);
CREATE TABLE analytics.page_views_2024 PARTITION OF analytics.page_views
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE analytics.page_views_2025 PARTITION OF analytics.page_views
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');

CREATE VIEW analytics.customer_orders AS
    SELECT c.id AS customer_id, c.email, o.id AS order_id, o.total
    FROM sales.customers c JOIN sales.orders o ON o.customer_id = c.id;
COMMENT ON VIEW analytics.customer_orders IS 'Customers with their orders';
CREATE VIEW analytics.big_spenders AS
    SELECT customer_id, sum(total) AS spent FROM analytics.customer_orders GROUP BY customer_id
    HAVING sum(total) > 100;
CREATE MATERIALIZED VIEW analytics.daily_revenue AS
    SELECT ordered_at, sum(total) AS revenue FROM sales.orders GROUP BY ordered_at;

INSERT INTO sales.customers (email) SELECT 'c' || g || '@example.com' FROM generate_series(1, 200) g;
INSERT INTO sales.orders SELECT g, 1 + g % 200, g * 1.5, 'open', DATE '2024-01-01' + g % 30
    FROM generate_series(1, 500) g;
INSERT INTO analytics.page_views SELECT g, DATE '2024-06-01' + g, '/p' || g FROM generate_series(1, 300) g;
REFRESH MATERIALIZED VIEW analytics.daily_revenue;
ANALYZE;
CREATE TABLE staging.never_analyzed (id int);
CREATE EXTENSION pg_buffercache;  -- its view lands in public; extension objects are not catalogued
"""


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with fresh_pg_database() as url, psycopg.connect(_libpq(url), autocommit=True) as conn:
        conn.execute(SCHEMA.encode())
        for _ in range(3):
            conn.execute("SELECT count(*) FROM sales.customers")
        conn.execute("SELECT count(*) FROM analytics.page_views")
        # Statistics reach pg_stat_* asynchronously; this makes them visible before the next statement.
        conn.execute("SELECT pg_stat_force_next_flush()")
        conn.execute("SELECT 1")
        yield url


@pytest.fixture(scope="module")
def snapshot(pg_url: str) -> Snapshot:
    return PostgresConnector(pg_url).read()


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _table(snapshot: Snapshot, schema: str, name: str) -> TableMeta:
    return next(t for t in snapshot.tables if (t.schema, t.name) == (schema, name))


def test_schemas_and_database(snapshot: Snapshot, pg_url: str) -> None:
    assert snapshot.database == make_url(pg_url).database
    assert snapshot.schemas["sales"] == "Orders and the people who place them"
    assert snapshot.schemas["staging"] == ""
    assert {"public", "sales", "analytics", "staging"} <= set(snapshot.schemas)
    assert not {s for s in snapshot.schemas if s.startswith("pg_") or s == "information_schema"}


def test_kinds_and_partitions(snapshot: Snapshot) -> None:
    kinds = {(t.schema, t.name): t.kind for t in snapshot.tables}
    assert kinds == {
        ("sales", "customers"): "table",
        ("sales", "orders"): "table",
        ("sales", "order_lines"): "table",
        ("sales", "shipments"): "table",
        ("staging", "raw_events"): "table",
        ("staging", "never_analyzed"): "table",
        ("analytics", "page_views"): "table",
        ("analytics", "customer_orders"): "view",
        ("analytics", "big_spenders"): "view",
        ("analytics", "daily_revenue"): "materialized_view",
    }
    assert _table(snapshot, "analytics", "page_views").properties["partitioned"] == "true"


def test_columns_in_order_with_types_comments_and_keys(snapshot: Snapshot) -> None:
    customers = _table(snapshot, "sales", "customers")
    assert customers.description == "One row per customer"
    assert [(c.ordinal, c.name, c.data_type, c.nullable, c.is_primary_key) for c in customers.columns] == [
        (1, "id", "integer", False, True),
        (2, "email", "character varying(200)", False, False),
        (3, "full_name", "text", True, False),
        (4, "created_at", "timestamp with time zone", False, False),
    ]
    assert [c.description for c in customers.columns] == ["", "Login e-mail", "", ""]
    orders = _table(snapshot, "sales", "orders")
    assert orders.columns[2].data_type == "numeric(12,2)"
    assert orders.columns[2].description == "Total incl. tax, in EUR"
    lines = _table(snapshot, "sales", "order_lines")
    assert [c.name for c in lines.columns if c.is_primary_key] == ["order_id", "line_no"]


def test_dropped_columns_leave_no_gap(snapshot: Snapshot) -> None:
    raw = _table(snapshot, "staging", "raw_events")
    assert [(c.ordinal, c.name) for c in raw.columns] == [(1, "payload"), (2, "received_at"), (3, "source")]
    assert raw.description == "" and all(c.description == "" for c in raw.columns)
    assert raw.foreign_keys == [] and not any(c.is_primary_key for c in raw.columns)


def test_foreign_keys(snapshot: Snapshot) -> None:
    assert _table(snapshot, "sales", "orders").foreign_keys == [
        ForeignKey(["customer_id"], "sales", "customers", ["id"])
    ]
    assert _table(snapshot, "sales", "shipments").foreign_keys == [
        ForeignKey(["order_id", "line_no"], "sales", "order_lines", ["order_id", "line_no"])
    ]


def test_view_lineage_and_definitions(snapshot: Snapshot) -> None:
    customer_orders = _table(snapshot, "analytics", "customer_orders")
    assert customer_orders.upstream == [("sales", "customers"), ("sales", "orders")]
    assert customer_orders.description == "Customers with their orders"
    assert "JOIN sales.orders" in customer_orders.definition
    assert _table(snapshot, "analytics", "big_spenders").upstream == [("analytics", "customer_orders")]
    revenue = _table(snapshot, "analytics", "daily_revenue")
    assert revenue.upstream == [("sales", "orders")]
    assert revenue.definition.startswith("SELECT orders.ordered_at") and "sum(orders.total)" in revenue.definition
    assert _table(snapshot, "sales", "orders").upstream == []


def test_row_estimates(snapshot: Snapshot) -> None:
    assert _table(snapshot, "sales", "customers").row_estimate == 200
    assert _table(snapshot, "sales", "orders").row_estimate == 500
    assert _table(snapshot, "analytics", "page_views").row_estimate == 300  # summed over partitions
    assert _table(snapshot, "analytics", "daily_revenue").row_estimate == 30
    assert _table(snapshot, "staging", "never_analyzed").row_estimate is None
    assert _table(snapshot, "analytics", "customer_orders").row_estimate is None


def test_popularity_counts_scans(snapshot: Snapshot) -> None:
    assert _table(snapshot, "sales", "customers").popularity >= 3
    assert _table(snapshot, "analytics", "page_views").popularity >= 1
    assert _table(snapshot, "staging", "never_analyzed").popularity == 0
    assert _table(snapshot, "analytics", "customer_orders").popularity == 0


def test_a_few_bulk_queries_and_progress(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    queries: list[str] = []
    original = PostgresConnector._rows

    def counting(self: PostgresConnector, conn: psycopg.Connection[Any], sql: str) -> Iterator[tuple[Any, ...]]:
        queries.append(sql)
        return original(self, conn, sql)

    monkeypatch.setattr(PostgresConnector, "_rows", counting)
    calls: list[tuple[int, int, str]] = []
    PostgresConnector(pg_url).read(lambda done, total, what: calls.append((done, total, what)))
    assert len(queries) == 5
    assert calls[-1][0] == calls[-1][1] == 5
    assert [done for done, _, _ in calls] == sorted(done for done, _, _ in calls)


def test_reads_in_a_read_only_transaction(pg_url: str) -> None:
    with PostgresConnector(pg_url)._connect() as conn:
        assert conn.execute("SHOW transaction_read_only").fetchone() == ("on",)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("CREATE TABLE sales.nope (id int)")


def test_accepts_plain_postgresql_urls(pg_url: str) -> None:
    PostgresConnector(_libpq(pg_url)).test()


def test_rejects_other_urls() -> None:
    with pytest.raises(ValueError, match="not a PostgreSQL URL"):
        PostgresConnector("mysql://root@127.0.0.1/x")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _url_with(pg_url: str, **parts: object) -> str:
    return make_url(pg_url).set(**parts).render_as_string(hide_password=False)  # type: ignore[arg-type]


def _failure(url: str) -> str:
    with pytest.raises(ConnectionFailed) as info:
        PostgresConnector(url).test()
    message = str(info.value)
    assert SECRET not in message
    return message


def test_refused_port(pg_url: str) -> None:
    message = _failure(_url_with(pg_url, port=_free_port(), password=SECRET))
    assert "connection refused" in message


def test_unknown_database(pg_url: str) -> None:
    message = _failure(_url_with(pg_url, database="no_such_db_here", password=SECRET))
    assert "database 'no_such_db_here' does not exist" in message
    with pytest.raises(ConnectionFailed, match="does not exist"):
        PostgresConnector(_url_with(pg_url, database="no_such_db_here")).read()


def test_unknown_role(pg_url: str) -> None:
    message = _failure(_url_with(pg_url, username="no_such_role", password=SECRET))
    assert "refused user 'no_such_role'" in message and 'role "no_such_role" does not exist' in message


def test_role_without_login(pg_url: str) -> None:
    with psycopg.connect(_libpq(pg_url), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE dd_nologin_role PASSWORD '{SECRET}' NOLOGIN")
        try:
            message = _failure(_url_with(pg_url, username="dd_nologin_role", password=SECRET))
        finally:
            conn.execute("DROP ROLE dd_nologin_role")
    assert "not permitted to log in" in message


def test_wrong_password(pg_url: str) -> None:
    # 127.0.0.1 uses trust auth on this machine, so the real server accepts any password; a
    # minimal server speaking the PostgreSQL wire protocol asks for one and rejects it instead.
    with _password_rejecting_server() as (port, received):
        message = _failure(_url_with(pg_url, port=port, username="alice", password=SECRET))
    assert received == [SECRET]  # the URL's password was sent ...
    assert "authentication failed for user 'alice': wrong password" in message  # ... and never echoed


class _Server(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.received: list[str] = []

    def run(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            while True:  # SSLRequest / GSSENCRequest: answer "N", then the startup message follows
                length, code = struct.unpack("!ii", _recv(conn, 8))
                _recv(conn, length - 8)
                if code not in (80877103, 80877104):
                    break
                conn.sendall(b"N")
            conn.sendall(b"R" + struct.pack("!ii", 8, 3))  # AuthenticationCleartextPassword
            _kind, length = struct.unpack("!ci", _recv(conn, 5))
            self.received.append(_recv(conn, length - 4).rstrip(b"\0").decode())
            fields = b'SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user "alice"\0\0'
            conn.sendall(b"E" + struct.pack("!i", len(fields) + 4) + fields)


def _recv(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("client went away")
        data += chunk
    return data


@contextmanager
def _password_rejecting_server() -> Iterator[tuple[int, list[str]]]:
    server = _Server()
    server.start()
    try:
        yield server.port, server.received
    finally:
        server.join(timeout=5)
        server.sock.close()


def test_libpq_options_in_the_query_string_win_over_the_url_parts(pg_url: str) -> None:
    url = make_url(pg_url)
    # host, port and dbname again in the query string, as libpq accepts them: no clash of arguments
    moved = url.set(host="db.invalid", port=1).update_query_dict(
        {"host": url.host or "127.0.0.1", "port": str(url.port or 5432), "dbname": url.database or ""}
    )
    PostgresConnector(moved.render_as_string(hide_password=False)).test()
