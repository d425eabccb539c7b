"""MySQLConnector against the machine's real MariaDB, on two fresh databases."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import URL, make_url

from datadesk.connectors.base import ConnectionFailed, ForeignKey, Snapshot, TableMeta
from datadesk.connectors.mysql import MySQLConnector
from tests.dbs import fresh_mysql_database, mysql_admin

SECRET = "hunter2-Very-Secret-9f3a"

SHOP = """
CREATE TABLE customers (
    id int AUTO_INCREMENT PRIMARY KEY,
    email varchar(200) NOT NULL COMMENT 'Login e-mail',
    full_name text,
    created_at datetime NOT NULL DEFAULT CURRENT_TIMESTAMP
) COMMENT 'One row per customer';
CREATE TABLE orders (
    id bigint PRIMARY KEY,
    customer_id int NOT NULL,
    total decimal(12,2) NOT NULL COMMENT 'Total incl. tax, in EUR',
    status enum('open', 'paid') NOT NULL DEFAULT 'open',
    CONSTRAINT fk_orders_customer FOREIGN KEY (customer_id) REFERENCES customers (id)
) COMMENT 'Orders as placed';
CREATE TABLE order_lines (
    order_id bigint,
    line_no smallint,
    sku varchar(20) NOT NULL,
    PRIMARY KEY (order_id, line_no),
    CONSTRAINT fk_lines_order FOREIGN KEY (order_id) REFERENCES orders (id)
);
CREATE TABLE shipments (
    id int PRIMARY KEY,
    order_id bigint,
    line_no smallint,
    CONSTRAINT fk_shipment_line FOREIGN KEY (order_id, line_no) REFERENCES order_lines (order_id, line_no)
);
CREATE TABLE raw_events (payload json, received_at timestamp NULL);
CREATE VIEW customer_orders AS
    SELECT c.id AS customer_id, c.email, o.id AS order_id, o.total
    FROM customers c JOIN orders o ON o.customer_id = c.id;
CREATE VIEW big_spenders AS
    WITH spend AS (SELECT customer_id, sum(total) AS spent FROM customer_orders GROUP BY customer_id)
    SELECT * FROM spend WHERE spent > 100;
INSERT INTO customers (email) SELECT concat('c', seq, '@example.com') FROM seq_1_to_200;
INSERT INTO orders SELECT seq, 1 + seq % 200, seq * 1.5, 'open' FROM seq_1_to_500;
ANALYZE TABLE customers, orders, order_lines, shipments, raw_events;
"""


def _run(database: str, script: str) -> None:
    conn = mysql_admin(database)
    try:
        with conn.cursor() as cursor:
            for statement in filter(str.strip, script.split(";")):
                cursor.execute(statement)
    finally:
        conn.close()


@pytest.fixture(scope="module")
def databases() -> Iterator[tuple[str, str]]:
    """Two databases: a shop, and a reporting database whose view reads the shop's tables."""
    with fresh_mysql_database() as shop_url, fresh_mysql_database() as reports_url:
        shop, reports = make_url(shop_url).database, make_url(reports_url).database
        assert shop and reports
        _run(shop, SHOP)
        _run(reports, f"CREATE VIEW revenue AS SELECT sum(total) AS revenue FROM `{shop}`.orders")
        yield shop_url, reports_url


@pytest.fixture(scope="module")
def snapshot(databases: tuple[str, str]) -> Snapshot:
    return MySQLConnector(databases[0]).read()


@pytest.fixture(scope="module")
def user(databases: tuple[str, str]) -> Iterator[str]:
    """A user with a password, allowed to read the two databases only."""
    name = f"dd_{uuid.uuid4().hex[:10]}"
    conn = mysql_admin()
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE USER '{name}'@'%' IDENTIFIED BY '{SECRET}'")
            for url in databases:
                cursor.execute(f"GRANT SELECT, SHOW VIEW ON `{make_url(url).database}`.* TO '{name}'@'%'")
        yield name
    finally:
        with conn.cursor() as cursor:
            cursor.execute(f"DROP USER IF EXISTS '{name}'@'%'")
        conn.close()


def _table(snapshot: Snapshot, name: str) -> TableMeta:
    return next(t for t in snapshot.tables if t.name == name)


def test_one_database_is_one_schema(snapshot: Snapshot, databases: tuple[str, str]) -> None:
    shop = make_url(databases[0]).database
    assert snapshot.database == shop
    assert list(snapshot.schemas) == [shop]
    assert {t.schema for t in snapshot.tables} == {shop}
    assert {t.name: t.kind for t in snapshot.tables} == {
        "customers": "table",
        "orders": "table",
        "order_lines": "table",
        "shipments": "table",
        "raw_events": "table",
        "customer_orders": "view",
        "big_spenders": "view",
    }


def test_columns_types_comments_and_keys(snapshot: Snapshot) -> None:
    customers = _table(snapshot, "customers")
    assert customers.description == "One row per customer"
    assert customers.properties["engine"] == "InnoDB"
    assert [(c.ordinal, c.name, c.data_type, c.nullable, c.is_primary_key) for c in customers.columns] == [
        (1, "id", "int(11)", False, True),
        (2, "email", "varchar(200)", False, False),
        (3, "full_name", "text", True, False),
        (4, "created_at", "datetime", False, False),
    ]
    assert customers.columns[1].description == "Login e-mail"
    orders = _table(snapshot, "orders")
    assert orders.description == "Orders as placed"
    assert [c.data_type for c in orders.columns][2:] == ["decimal(12,2)", "enum('open','paid')"]
    assert orders.columns[2].description == "Total incl. tax, in EUR"
    assert [c.name for c in _table(snapshot, "order_lines").columns if c.is_primary_key] == ["order_id", "line_no"]
    raw = _table(snapshot, "raw_events")
    assert raw.description == "" and all(c.description == "" and not c.is_primary_key for c in raw.columns)


def test_foreign_keys(snapshot: Snapshot) -> None:
    shop = snapshot.database
    assert _table(snapshot, "orders").foreign_keys == [ForeignKey(["customer_id"], shop, "customers", ["id"])]
    assert _table(snapshot, "shipments").foreign_keys == [
        ForeignKey(["order_id", "line_no"], shop, "order_lines", ["order_id", "line_no"])
    ]


def test_view_lineage(snapshot: Snapshot) -> None:
    shop = snapshot.database
    customer_orders = _table(snapshot, "customer_orders")
    assert sorted(customer_orders.upstream) == [(shop, "customers"), (shop, "orders")]
    assert "join" in customer_orders.definition.lower()
    assert _table(snapshot, "big_spenders").upstream == [(shop, "customer_orders")]  # the CTE is not a table
    assert _table(snapshot, "customer_orders").row_estimate is None


def test_row_estimates(snapshot: Snapshot) -> None:
    # InnoDB's TABLE_ROWS is an estimate, even right after ANALYZE TABLE.
    assert 150 <= (_table(snapshot, "customers").row_estimate or 0) <= 250
    assert 400 <= (_table(snapshot, "orders").row_estimate or 0) <= 600
    assert _table(snapshot, "raw_events").row_estimate == 0


def test_without_a_database_reads_every_database_the_user_sees(databases: tuple[str, str], user: str) -> None:
    shop, reports = (make_url(url).database for url in databases)
    base = make_url(databases[0])
    url = URL.create(base.drivername, username=user, password=SECRET, host=base.host, port=base.port)
    snapshot = MySQLConnector(url.render_as_string(hide_password=False)).read()
    assert set(snapshot.schemas) == {shop, reports}
    revenue = next(t for t in snapshot.tables if t.name == "revenue")
    assert (revenue.schema, revenue.upstream) == (reports, [(shop, "orders")])


def test_progress(databases: tuple[str, str]) -> None:
    calls: list[tuple[int, int, str]] = []
    MySQLConnector(databases[1]).read(lambda done, total, what: calls.append((done, total, what)))
    assert [done for done, _, _ in calls] == [1, 2, 3, 4, 5]
    assert all(total == 5 for _, total, _ in calls)


def _failure(url: str) -> str:
    with pytest.raises(ConnectionFailed) as info:
        MySQLConnector(url).test()
    message = str(info.value)
    assert SECRET not in message and "Very-Secret" not in message
    return message


def _url(base: str, **parts: object) -> str:
    return make_url(base).set(**parts).render_as_string(hide_password=False)  # type: ignore[arg-type]


def test_wrong_password(databases: tuple[str, str], user: str) -> None:
    message = _failure(_url(databases[0], username=user, password=SECRET[::-1]))
    assert f"access denied for user '{user}'" in message and "wrong password" in message
    # The right password works, so it was the password that failed.
    MySQLConnector(_url(databases[0], username=user, password=SECRET)).test()


def test_no_access_to_the_database(databases: tuple[str, str], user: str) -> None:
    message = _failure(_url(databases[0], username=user, password=SECRET, database="mysql"))
    assert "has no access to database 'mysql'" in message


def test_unknown_database(databases: tuple[str, str]) -> None:
    message = _failure(_url(databases[0], database="no_such_db_here"))
    assert "database 'no_such_db_here' does not exist" in message
    with pytest.raises(ConnectionFailed, match="does not exist"):
        MySQLConnector(_url(databases[0], database="no_such_db_here")).read()


def test_refused_port(databases: tuple[str, str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert "connection refused" in _failure(_url(databases[0], port=port, password=SECRET))


def test_rejects_other_urls() -> None:
    with pytest.raises(ValueError, match="not a MySQL URL"):
        MySQLConnector("postgresql://postgres@127.0.0.1/x")
