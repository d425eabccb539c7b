"""Small real sources for catalog tests: SQLite files built on the spot."""

from __future__ import annotations

import sqlite3
from pathlib import Path

SHOP_DDL = """
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    full_name TEXT,
    signupDate TEXT
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER REFERENCES customers(id),
    amount_cents INTEGER,
    ordered_at TEXT
);
CREATE TABLE order_items (
    order_id INTEGER REFERENCES orders(id),
    sku TEXT,
    quantity INTEGER
);
CREATE VIEW big_orders AS SELECT o.id, c.email FROM orders o JOIN customers c ON c.id = o.customer_id
    WHERE o.amount_cents > 10000;
INSERT INTO customers VALUES (1, 'canary-ada@example.com', 'Ada Canary', '2024-01-01');
INSERT INTO orders VALUES (1, 1, 12345, '2024-02-01');
"""


def chain_ddl(middle: str = "totals", top: str = "customer, total", extra: str = "") -> str:
    """A chain of views: paid_orders reads orders and customers (joined on the key, kept when paid), `middle`
    sums paid_orders through a CTE, top reads `middle`; `extra` adds statements."""
    return f"""
CREATE TABLE customers (id INTEGER PRIMARY KEY, full_name TEXT, region TEXT);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id), amount INTEGER,
    status TEXT);
CREATE VIEW paid_orders AS
    SELECT o.id AS order_id, o.amount * 1.0 / 100 AS amount_usd, c.full_name AS customer
    FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.status = 'paid';
CREATE VIEW {middle} AS
    WITH spend AS (SELECT customer, sum(amount_usd) AS total FROM paid_orders GROUP BY customer)
    SELECT customer, total FROM spend;
CREATE VIEW top AS SELECT {top} FROM {middle} WHERE total > 10;
{extra}"""


def build_shop(path: Path) -> Path:
    """A small shop database: three tables, keys and a view reading two of them."""
    connection = sqlite3.connect(path)
    connection.executescript(SHOP_DDL)
    connection.commit()
    connection.close()
    return path


def execute(path: Path, sql: str) -> None:
    connection = sqlite3.connect(path)
    connection.executescript(sql)
    connection.commit()
    connection.close()
