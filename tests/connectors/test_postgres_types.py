"""PostgresConnector on a database's own types (enums, domains, arrays, composites) and on partitioned tables."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from datadesk.connectors.base import Snapshot, TableMeta
from datadesk.connectors.postgres import PostgresConnector
from tests.dbs import fresh_pg_database

# Pagila's shapes: an enum, a domain, text[] and an array of the enum; a partitioned payment table.
SCHEMA = """
CREATE TYPE mpaa_rating AS ENUM ('G', 'PG', 'PG-13', 'R', 'NC-17');
CREATE DOMAIN year AS integer CONSTRAINT year_check CHECK (VALUE >= 1901 AND VALUE <= 2155);
CREATE TYPE pair AS (a integer, b text);
CREATE SCHEMA catalogue;
CREATE TYPE catalogue.status AS ENUM ('draft', 'live');

CREATE TABLE film (
    film_id integer PRIMARY KEY,
    rating mpaa_rating DEFAULT 'G',
    release_year year,
    special_features text[],
    ratings_seen mpaa_rating[],
    status catalogue.status,
    codes varchar(10)[],
    extra pair
);
INSERT INTO film VALUES (1, 'PG-13', 2006, '{Trailers}', '{G,R}', 'live', '{a1}', ROW(1, 'x'));

CREATE TABLE payment (payment_id integer, paid_on date NOT NULL) PARTITION BY RANGE (paid_on);
CREATE TABLE payment_2024 PARTITION OF payment FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE payment_2025 PARTITION OF payment FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO payment SELECT g, DATE '2024-03-01' FROM generate_series(1, 120) g;
INSERT INTO payment SELECT g, DATE '2025-03-01' FROM generate_series(1, 80) g;
ANALYZE payment_2024;
ANALYZE payment_2025;

-- Fewer rows than autovacuum's analyse threshold (50), so these partitions stay never analysed.
CREATE TABLE rental (rental_id integer, rented_on date NOT NULL) PARTITION BY RANGE (rented_on);
CREATE TABLE rental_2024 PARTITION OF rental FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE rental_2025 PARTITION OF rental FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO rental SELECT g, DATE '2024-03-01' FROM generate_series(1, 10) g;

-- One leaf analysed, one never: the known part is the estimate.
CREATE TABLE inventory (inventory_id integer, store_id integer NOT NULL) PARTITION BY LIST (store_id);
CREATE TABLE inventory_1 PARTITION OF inventory FOR VALUES IN (1);
CREATE TABLE inventory_2 PARTITION OF inventory FOR VALUES IN (2) PARTITION BY RANGE (inventory_id);
CREATE TABLE inventory_2_low PARTITION OF inventory_2 FOR VALUES FROM (0) TO (1000);
CREATE TABLE inventory_2_high PARTITION OF inventory_2 FOR VALUES FROM (1000) TO (2000);
INSERT INTO inventory SELECT g, 1 FROM generate_series(1, 70) g;
INSERT INTO inventory SELECT g, 2 FROM generate_series(1, 30) g;
INSERT INTO inventory SELECT 1000 + g, 2 FROM generate_series(1, 5) g;
ANALYZE inventory_1;
ANALYZE inventory_2_low;

CREATE TABLE staff (staff_id integer) PARTITION BY LIST (staff_id);
"""


@pytest.fixture(scope="module")
def snapshot() -> Iterator[Snapshot]:
    with fresh_pg_database() as url:
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
            conn.execute(SCHEMA.encode())
        yield PostgresConnector(url).read()


def _table(snapshot: Snapshot, name: str) -> TableMeta:
    return next(t for t in snapshot.tables if (t.schema, t.name) == ("public", name))


def test_enum_domain_array_and_composite_columns_carry_their_declared_names(snapshot: Snapshot) -> None:
    assert [(c.name, c.data_type) for c in _table(snapshot, "film").columns] == [
        ("film_id", "integer"),
        ("rating", "mpaa_rating"),
        ("release_year", "year"),
        ("special_features", "text[]"),
        ("ratings_seen", "mpaa_rating[]"),
        ("status", "catalogue.status"),  # not on the search path: qualified, as format_type writes it
        ("codes", "character varying(10)[]"),
        ("extra", "pair"),
    ]


def test_a_partitioned_table_estimates_the_sum_of_its_analysed_partitions(snapshot: Snapshot) -> None:
    assert _table(snapshot, "payment").row_estimate == 200
    assert _table(snapshot, "inventory").row_estimate == 100  # 70 + 30; inventory_2_high never analysed


def test_a_partitioned_table_with_no_partition_analysed_has_no_estimate(snapshot: Snapshot) -> None:
    assert _table(snapshot, "rental").row_estimate is None
    assert _table(snapshot, "staff").row_estimate is None  # no partitions at all


def test_partitions_are_not_catalogued_on_their_own(snapshot: Snapshot) -> None:
    assert {t.name for t in snapshot.tables} == {"film", "payment", "rental", "inventory", "staff"}
