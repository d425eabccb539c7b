"""The runner on real PostgreSQL, MariaDB, SQLite and DuckDB: the engine's own walls, limits, JSON."""

from __future__ import annotations

import base64
import functools
import json
import math
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import duckdb
import psycopg
import pytest
from sqlalchemy.engine import make_url

from datadesk.sql.checked import SqlNotAllowed
from datadesk.sql.engines import SqlError, SqlTimeout
from datadesk.sql.guard import check
from datadesk.sql.runner import RunResult, dialect_of, strip_literals
from datadesk.sql.runner import run as run_qualified
from datadesk.sql.values import CELL_CAP, CUT_MARKER, to_json
from tests.dbs import fresh_mysql_database, fresh_pg_database, mysql_admin
from tests.sql.attacks import CANARY_FILE, corpus_attacks, handcrafted
from tests.sql.test_guard import LEGIT

ENGINES = ("postgres", "mysql", "sqlite", "duckdb")

# Statements here name tables as written, not in full as the service's do (sql/resolve.py), so the
# PostgreSQL search path stays the connection's own; the hostile suites test the pinned one.
run = functools.partial(run_qualified, builtins_only=False)

_SETUP_COMMON = [
    "CREATE TABLE teams (id INT PRIMARY KEY, name VARCHAR(50))",
    "CREATE TABLE sentinel (id INT PRIMARY KEY, note VARCHAR(50))",
    "INSERT INTO users VALUES (1, 'Ada', 'ada@example.com', '111-11-1111', 1),"
    " (2, 'Bob', 'bob@example.com', '222-22-2222', 1), (3, 'Cy', NULL, NULL, 2)",
    "INSERT INTO orders VALUES (1, 1, 10.50, '2024-01-02 03:04:05'), (2, 1, 99.99, '2024-02-01 00:00:00'),"
    " (3, 2, 150.00, '2024-03-01 12:00:00'), (4, 3, 5.25, '2024-03-02 12:00:00')",
    "INSERT INTO teams VALUES (1, 'Data'), (2, 'Ops')",
    "INSERT INTO sentinel VALUES (1, 'keep me'), (2, 'and me')",
]
_SETUP: dict[str, list[str]] = {
    "postgres": [
        "CREATE TABLE users (id INT PRIMARY KEY, name TEXT, email TEXT, ssn TEXT, team_id INT)",
        "CREATE TABLE orders (id INT PRIMARY KEY, user_id INT, amount NUMERIC(10, 2), created_at TIMESTAMP)",
        *_SETUP_COMMON,
        "CREATE SEQUENCE sentinel_seq",
        "CREATE SCHEMA sales",
        "CREATE TABLE sales.orders AS SELECT * FROM orders",
        'CREATE SCHEMA "Sales"',
        'CREATE TABLE "Sales"."Big Orders" ("Name" TEXT)',
        'INSERT INTO "Sales"."Big Orders" VALUES (\'big\')',
    ],
    "mysql": [
        "CREATE TABLE users (id INT PRIMARY KEY, name TEXT, email TEXT, ssn TEXT, team_id INT)",
        "CREATE TABLE orders (id INT PRIMARY KEY, user_id INT, amount DECIMAL(10, 2), created_at DATETIME)",
        *_SETUP_COMMON,
        "CREATE TABLE `big orders` (`Name` TEXT)",
        "INSERT INTO `big orders` VALUES ('big')",
    ],
    "sqlite": [
        "CREATE TABLE users (id INT PRIMARY KEY, name TEXT, email TEXT, ssn TEXT, team_id INT)",
        "CREATE TABLE orders (id INT PRIMARY KEY, user_id INT, amount NUMERIC, created_at TEXT)",
        *_SETUP_COMMON,
        "CREATE TABLE [big orders] ([Name] TEXT)",
        "INSERT INTO [big orders] VALUES ('big')",
    ],
    "duckdb": [
        "CREATE TABLE users (id INT PRIMARY KEY, name TEXT, email TEXT, ssn TEXT, team_id INT)",
        "CREATE TABLE orders (id INT PRIMARY KEY, user_id INT, amount DECIMAL(10, 2), created_at TIMESTAMP)",
        *_SETUP_COMMON,
        'CREATE TABLE "Big Orders" ("Name" TEXT)',
        "INSERT INTO \"Big Orders\" VALUES ('big')",
    ],
}
# Schemas each test database has, for the catalog's legitimate queries.
_SCHEMAS = {
    "postgres": {None, "public", "sales", "Sales", "pg_catalog"},
    "mysql": {None},
    "sqlite": {None, "main"},
    "duckdb": {None, "main"},
}


@dataclass
class Engine:
    name: str
    url: str
    query: Callable[[str], list[tuple[Any, ...]]]  # straight to the driver, bypassing the runner

    def snapshot(self) -> tuple[list[tuple[Any, ...]], set[str]]:
        """The sentinel's rows and the set of tables: what no refused statement may change."""
        listing = {
            "postgres": "SELECT schemaname || '.' || tablename FROM pg_tables"
            " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
            "mysql": "SHOW TABLES",
            "sqlite": "SELECT name FROM sqlite_master",
            "duckdb": "SELECT schema_name || '.' || table_name FROM duckdb_tables()",
        }[self.name]
        rows = [tuple(row) for row in self.query("SELECT id, note FROM sentinel ORDER BY id")]
        tables = {str(row[0]) for row in self.query(listing)}
        if self.name == "postgres":
            rows += [tuple(row) for row in self.query("SELECT last_value, is_called FROM sentinel_seq")]
        return rows, tables


def _pg_query(url: str) -> Callable[[str], list[tuple[Any, ...]]]:
    def query(sql: str) -> list[tuple[Any, ...]]:
        parsed = make_url(url)
        with psycopg.connect(host=parsed.host, port=parsed.port, user=parsed.username, dbname=parsed.database) as conn:
            cursor = conn.execute(sql)
            return list(cursor.fetchall()) if cursor.description else []

    return query


def _mysql_query(url: str) -> Callable[[str], list[tuple[Any, ...]]]:
    def query(sql: str) -> list[tuple[Any, ...]]:
        conn = mysql_admin(make_url(url).database)
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql)
                return list(cursor.fetchall())
        finally:
            conn.close()

    return query


def _sqlite_query(path: Path) -> Callable[[str], list[tuple[Any, ...]]]:
    def query(sql: str) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(path)
        try:
            rows = conn.execute(sql).fetchall()
            conn.commit()
            return rows
        finally:
            conn.close()

    return query


def _duckdb_query(path: Path) -> Callable[[str], list[tuple[Any, ...]]]:
    def query(sql: str) -> list[tuple[Any, ...]]:
        conn = duckdb.connect(str(path))
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    return query


def _setup(engine: Engine) -> Engine:
    for statement in _SETUP[engine.name]:
        if engine.name == "mysql":
            conn = mysql_admin(make_url(engine.url).database)
            try:
                with conn.cursor() as cursor:
                    cursor.execute(statement)
            finally:
                conn.close()
        else:
            engine.query(statement)
    return engine


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Engine]]:
    """One database per engine for this module, with a sentinel table and a small catalog."""
    folder = tmp_path_factory.mktemp("engines")
    sqlite_path, duckdb_path = folder / "warehouse.sqlite", folder / "warehouse.duckdb"
    with fresh_pg_database("dd_sql") as pg_url, fresh_mysql_database("dd_sql") as mysql_url:
        made = {
            "postgres": Engine("postgres", pg_url, _pg_query(pg_url)),
            "mysql": Engine("mysql", mysql_url, _mysql_query(mysql_url)),
            "sqlite": Engine("sqlite", f"sqlite:///{sqlite_path}", _sqlite_query(sqlite_path)),
            "duckdb": Engine("duckdb", f"duckdb:///{duckdb_path}", _duckdb_query(duckdb_path)),
        }
        for engine in made.values():
            _setup(engine)
        yield made
    assert not os.path.exists(CANARY_FILE)


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, engines: dict[str, Engine]) -> Engine:
    return engines[request.param]


@pytest.fixture(autouse=True)
def no_canary_file() -> Iterator[None]:
    yield
    if os.path.exists(CANARY_FILE):
        os.remove(CANARY_FILE)
        pytest.fail(f"a refused statement wrote {CANARY_FILE}")


# --- the second wall on its own (guard bypassed) ------------------------------------------------------

_WRITES = [
    "INSERT INTO sentinel VALUES (99, 'pwned')",
    "CREATE TABLE canary_written (id INT)",
    "DROP TABLE sentinel",
    "UPDATE sentinel SET note = 'pwned'",
    "DELETE FROM sentinel",
    "SELECT 1; DROP TABLE sentinel",
    "SELECT 1; COMMIT; DROP TABLE sentinel",
]
_ENGINE_WRITES = {
    "postgres": [
        "WITH gone AS (DELETE FROM sentinel RETURNING *) SELECT * FROM gone",
        "EXPLAIN ANALYZE INSERT INTO sentinel VALUES (99, 'pwned')",
        "EXPLAIN ANALYZE DELETE FROM sentinel",
        "SELECT nextval('sentinel_seq')",
        "SELECT setval('sentinel_seq', 42)",
        "CREATE TEMP TABLE canary_written AS SELECT 1",
        "SELECT * INTO canary_written FROM sentinel",
        "COMMIT",
    ],
    "mysql": [
        "CREATE TEMPORARY TABLE canary_written (id INT)",
        "TRUNCATE sentinel",
        "ALTER TABLE sentinel ADD COLUMN canary_written INT",
        "RENAME TABLE sentinel TO canary_written",
        "REPLACE INTO sentinel VALUES (1, 'pwned')",
        "CREATE TABLE canary_written AS SELECT * FROM sentinel",
    ],
    "sqlite": [
        f"ATTACH '{CANARY_FILE}' AS canary",
        "PRAGMA query_only = OFF",
        "CREATE TEMP TABLE canary_written (id INT)",
        f"VACUUM INTO '{CANARY_FILE}'",
        "INSERT OR REPLACE INTO sentinel VALUES (1, 'pwned')",
        "BEGIN",
    ],
    "duckdb": [
        f"COPY sentinel TO '{CANARY_FILE}'",
        f"ATTACH '{CANARY_FILE}' AS canary",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM '/etc/passwd'",
        "INSTALL httpfs",
        "SET enable_external_access = true",
        "CREATE TEMP TABLE canary_written (id INT)",
    ],
}


@pytest.mark.parametrize(("engine_name", "sql"), [(e, sql) for e in ENGINES for sql in _WRITES + _ENGINE_WRITES[e]])
def test_the_engine_refuses_writes_on_its_own(engines: dict[str, Engine], engine_name: str, sql: str) -> None:
    engine = engines[engine_name]
    before = engine.snapshot()
    with pytest.raises(SqlError):
        run(engine.url, sql, timeout_s=5)
    assert engine.snapshot() == before
    assert not any("canary_written" in table for table in before[1])


# --- nothing dangerous reaches the database --------------------------------------------------------


def check_then_run(url: str, sql: str, dialect: str) -> RunResult:
    """The service's order of things: the guard first, then the runner on what the guard rebuilt."""
    return run(url, check(sql, dialect).sql, timeout_s=2)


def test_no_dangerous_statement_reaches_any_database(engines: dict[str, Engine]) -> None:
    for name, engine in engines.items():
        before = engine.snapshot()
        attacks = list(corpus_attacks(name)) + handcrafted(name)
        reached = []
        for sql in attacks:
            try:
                check_then_run(engine.url, sql, name)
            except SqlNotAllowed:
                continue
            except (SqlError, SqlTimeout):
                pass
            reached.append(sql)
        assert reached == [], name
        assert engine.snapshot() == before
        assert not any("canary_written" in table for table in before[1])
        assert not os.path.exists(CANARY_FILE)


# --- what the guard admits runs, and means what was written ---------------------------------------


# The guard admits these (they are valid SQL), but the engine here does not take them as written.
ENGINE_REFUSES = {
    ("mysql", "WITH x AS (SELECT 1 AS id) SELECT * FROM (WITH y AS (SELECT * FROM x) SELECT * FROM y) AS z"),
    ("sqlite", "(SELECT id FROM users) UNION ALL (SELECT id FROM teams)"),
}
RUNNABLE = [
    (dialect, sql, tables)
    for dialect, sql, tables in LEGIT
    if (dialect, sql) not in ENGINE_REFUSES and all(t.schema in _SCHEMAS[dialect] for t in tables)
]


@pytest.mark.parametrize(("dialect", "sql"), sorted(ENGINE_REFUSES))
def test_the_engine_refuses_what_its_own_grammar_lacks(engines: dict[str, Engine], dialect: str, sql: str) -> None:
    with pytest.raises(SqlError):
        run(engines[dialect].url, sql, timeout_s=5)


@pytest.mark.parametrize(("dialect", "sql", "tables"), RUNNABLE)
def test_admitted_queries_run_and_match_the_original(
    engines: dict[str, Engine], dialect: str, sql: str, tables: set[Any]
) -> None:
    engine = engines[dialect]
    original = run(engine.url, sql, timeout_s=5)
    rebuilt = run(engine.url, check(sql, dialect).sql, timeout_s=5)
    assert [c["name"] for c in rebuilt.columns] == [c["name"] for c in original.columns]
    if "now()" not in sql and not sql.startswith("EXPLAIN"):
        assert sorted(map(repr, rebuilt.rows)) == sorted(map(repr, original.rows))


# --- limits --------------------------------------------------------------------------------------------

_FIVE_THOUSAND = {
    "postgres": "SELECT n FROM generate_series(1, 5000) AS g(n)",
    # MariaDB stops recursion at 1000 iterations (max_recursive_iterations) without a word.
    "mysql": "WITH RECURSIVE r(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM r WHERE n < 99)"
    " SELECT a.n * 100 + b.n + 1 AS n FROM r AS a, r AS b WHERE a.n < 50 ORDER BY n",
    "sqlite": "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5000) SELECT n FROM r",
    "duckdb": "SELECT n FROM range(1, 5001) AS t(n)",
}
_HUGE = {
    "postgres": "SELECT a.n, b.n AS m FROM generate_series(1, 10000) AS a(n), generate_series(1, 10000) AS b(n)",
    "mysql": "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 1000)"
    " SELECT a.n, b.n AS m, c.n AS k FROM r AS a, r AS b, r AS c",
    "sqlite": "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT n FROM r",
    "duckdb": "SELECT n FROM range(1000000000) AS t(n)",
}
_SLOW = {
    "postgres": "SELECT pg_sleep(5)",
    "mysql": "SELECT SLEEP(5)",
    "sqlite": "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r",
    "duckdb": "SELECT count(*) FROM range(100000000) AS a, range(100000) AS b",
}


def test_rows_are_capped_and_truncation_is_reported(engine: Engine) -> None:
    capped = run(engine.url, _FIVE_THOUSAND[engine.name], max_rows=1000)
    assert (capped.row_count, len(capped.rows), capped.truncated) == (1000, 1000, True)
    assert [row[0] for row in capped.rows[:3]] == [1, 2, 3]
    whole = run(engine.url, _FIVE_THOUSAND[engine.name], max_rows=5000)
    assert (whole.row_count, whole.truncated) == (5000, False)
    none = run(engine.url, _FIVE_THOUSAND[engine.name], max_rows=0)
    assert (none.rows, none.truncated) == ([], True)


def test_a_huge_result_is_cut_short_without_reading_it_all(engine: Engine) -> None:
    started = time.monotonic()
    result = run(engine.url, _HUGE[engine.name], max_rows=1000, timeout_s=20)
    assert (result.row_count, result.truncated) == (1000, True)
    assert time.monotonic() - started < 5


# 200 rows of 100,000 characters each: 20 MB as the engine sends it.
_WIDE = {
    "postgres": "SELECT n, repeat('x', 100000) AS wide FROM generate_series(1, 200) AS g(n)",
    "mysql": "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 200)"
    " SELECT n, repeat('x', 100000) AS wide FROM r",
    "sqlite": "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 200)"
    " SELECT n, printf('%.*c', 100000, 'x') AS wide FROM r",
    "duckdb": "SELECT n, repeat('x', 100000) AS wide FROM range(1, 201) AS g(n)",
}


def test_results_are_capped_in_bytes_and_long_values_are_cut(engine: Engine) -> None:
    result = run(engine.url, _WIDE[engine.name], max_rows=1000, max_bytes=1_000_000)
    assert result.truncated
    # each row is cut to CELL_CAP characters of its value plus the marker; as many fit as the cap allows
    row_bytes = len(json.dumps([1, "x" * CELL_CAP + CUT_MARKER], ensure_ascii=False).encode())
    assert result.row_count == 1_000_000 // row_bytes
    assert all(row[1] == "x" * CELL_CAP + CUT_MARKER for row in result.rows)
    assert [row[0] for row in result.rows[:3]] == [1, 2, 3]
    # a cap larger than the result leaves it whole, and short values untouched
    small = run(engine.url, "SELECT name FROM users ORDER BY id", max_bytes=1_000_000)
    assert (small.rows, small.truncated) == ([["Ada"], ["Bob"], ["Cy"]], False)
    tiny = run(engine.url, "SELECT name FROM users ORDER BY id", max_bytes=10)
    assert (tiny.rows, tiny.truncated) == ([["Ada"]], True)


def test_a_query_past_its_time_limit_is_cancelled(engine: Engine) -> None:
    started = time.monotonic()
    with pytest.raises(SqlTimeout) as timeout:
        run(engine.url, _SLOW[engine.name], timeout_s=1)
    assert time.monotonic() - started < 4
    assert timeout.value.code == "sql_timeout"
    assert run(engine.url, "SELECT 1 AS one").rows == [[1]]  # and the database is fine afterwards


def test_the_cancelled_query_no_longer_runs_on_the_server(engines: dict[str, Engine]) -> None:
    pg, mysql = engines["postgres"], engines["mysql"]
    for engine in (pg, mysql):
        with pytest.raises(SqlTimeout):
            run(engine.url, _SLOW[engine.name], timeout_s=1)
    database = make_url(pg.url).database
    assert pg.query(
        f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{database}' AND query LIKE '%pg_sleep(5)%'"
        " AND state = 'active' AND pid <> pg_backend_pid()"
    ) == [(0,)]
    sleeping = [row for row in mysql.query("SHOW PROCESSLIST") if "SLEEP(5)" in str(row[7] or "")]
    assert sleeping == []


# --- values and errors ---------------------------------------------------------------------------------

_VALUES = {
    "postgres": "SELECT DATE '2024-01-02' AS d, TIMESTAMP '2024-01-02 03:04:05' AS ts, TIME '10:11:12' AS t,"
    " 12.50::NUMERIC(10, 2) AS dec, 'abc'::BYTEA AS b, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::UUID AS u,"
    " NULL AS n, 'NaN'::FLOAT8 AS nan, INTERVAL '1 day 2 hours' AS i, ARRAY[1, 2] AS a, '{\"k\": [1]}'::JSONB AS j",
    "mysql": "SELECT DATE '2024-01-02' AS d, TIMESTAMP '2024-01-02 03:04:05' AS ts, TIME '10:11:12' AS t,"
    " CAST(12.50 AS DECIMAL(10, 2)) AS `dec`, BINARY 'abc' AS b, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' AS u,"
    " NULL AS n",
    "sqlite": "SELECT '2024-01-02' AS d, 12.5 AS dec, x'616263' AS b, NULL AS n, 7 AS i",
    "duckdb": "SELECT DATE '2024-01-02' AS d, TIMESTAMP '2024-01-02 03:04:05' AS ts, TIME '10:11:12' AS t,"
    " 12.50::DECIMAL(10, 2) AS dec, 'abc'::BLOB AS b, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::UUID AS u,"
    " NULL AS n, 'NaN'::DOUBLE AS nan, INTERVAL 26 HOUR AS i, [1, 2] AS a, {'k': [1]} AS s",
}
_EXPECTED = {
    "d": "2024-01-02",
    "ts": "2024-01-02T03:04:05",
    "t": "10:11:12",
    "dec": "12.50",
    "b": base64.b64encode(b"abc").decode(),
    "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
    "n": None,
    "nan": "NaN",
    "i": "1 day, 2:00:00",
    "a": [1, 2],
    "j": {"k": [1]},
    "s": {"k": [1]},
}


def test_values_come_back_json_safe(engine: Engine) -> None:
    result = run(engine.url, _VALUES[engine.name])
    values = dict(zip([c["name"] for c in result.columns], result.rows[0], strict=True))
    expected = {name: _EXPECTED[name] for name in values if name in _EXPECTED}
    if engine.name == "sqlite":
        expected |= {"dec": 12.5, "i": 7}
    assert values == expected
    assert all(column["type"] for column in result.columns)


def test_column_types_are_the_drivers_names(engines: dict[str, Engine]) -> None:
    types = {name: [c["type"] for c in run(e.url, "SELECT id, name FROM users").columns] for name, e in engines.items()}
    assert types == {
        "postgres": ["int4", "text"],
        "mysql": ["LONG", "BLOB"],
        "sqlite": ["INTEGER", "TEXT"],
        "duckdb": ["INTEGER", "VARCHAR"],
    }


def test_to_json_covers_what_drivers_return() -> None:
    aware = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert to_json(aware) == "2024-01-02T03:04:05+00:00"
    assert to_json(date(2024, 1, 2)) == "2024-01-02"
    assert to_json(Decimal("1.10")) == "1.10"
    assert to_json(Decimal("NaN")) == "NaN"
    assert [to_json(math.inf), to_json(-math.inf), to_json(math.nan)] == ["Infinity", "-Infinity", "NaN"]
    assert to_json(memoryview(b"\x00\xff")) == "AP8="
    assert to_json(UUID(int=1)) == "00000000-0000-0000-0000-000000000001"
    assert to_json(timedelta(seconds=90)) == "0:01:30"
    assert to_json({1: (Decimal("2"), {3})}) == {"1": ["2", [3]]}
    assert to_json(True) is True
    assert to_json(object.__new__(type("Odd", (), {"__str__": lambda self: "odd"}))) == "odd"


def test_a_driver_error_is_a_clean_sql_error(engine: Engine) -> None:
    with pytest.raises(SqlError) as error:
        run(engine.url, "SELECT no_such_column FROM users")
    message = error.value.message
    assert "no_such_column" in message
    assert "\n" not in message and "Traceback" not in message
    assert error.value.code == "sql_error" and error.value.status == 400


def test_error_messages_never_carry_the_url_or_the_password(engines: dict[str, Engine]) -> None:
    secret = "Sup3r-Secret-Pw"
    pg = make_url(engines["postgres"].url).set(password=secret)  # trust auth: the password is ignored
    with pytest.raises(SqlError) as error:
        run(pg.render_as_string(hide_password=False), "SELECT no_such_column FROM users")
    assert secret not in error.value.message
    for url in (
        pg.set(port=1).render_as_string(hide_password=False),
        make_url(engines["mysql"].url).set(password=secret).render_as_string(hide_password=False),
        make_url(engines["mysql"].url).set(port=1, password=secret).render_as_string(hide_password=False),
    ):
        with pytest.raises(SqlError) as error:
            run(url, "SELECT 1")
        assert secret not in error.value.message
        assert url not in error.value.message


def test_missing_files_and_bad_urls_are_sql_errors(tmp_path: Path) -> None:
    for url in (f"sqlite:///{tmp_path}/missing.db", f"duckdb:///{tmp_path}/missing.duckdb", "sqlite://"):
        with pytest.raises(SqlError):
            run(url, "SELECT 1")
    assert not (tmp_path / "missing.db").exists()
    with pytest.raises(SqlError, match="Unsupported"):
        run("oracle://x/y", "SELECT 1")
    with pytest.raises(SqlError, match="not valid"):
        run("::not a url::", "SELECT 1")
    with pytest.raises(ValueError):
        run("sqlite:///x.db", "SELECT 1", max_rows=-1)


def test_dialect_of_maps_urls_to_guard_dialects() -> None:
    assert dialect_of("postgresql://u@h/db") == "postgres"
    assert dialect_of("postgresql+psycopg://u@h/db") == "postgres"
    assert dialect_of("mysql+pymysql://u@h/db") == "mysql"
    assert dialect_of("mysql://u@h/db") == "mysql"
    assert dialect_of("mariadb+pymysql://u@h/db") == "mysql"
    assert dialect_of("sqlite:///x.db") == "sqlite"
    assert dialect_of("duckdb:///x.duckdb") == "duckdb"


@pytest.mark.parametrize(
    ("message", "stripped"),
    [
        ('column "ssn" does not exist', "column ? does not exist"),
        ("Duplicate entry '42-alice@example.com' for key 'PRIMARY'", "Duplicate entry ? for key ?"),
        (
            'invalid input syntax for type integer: "abc" at LINE 1',
            "invalid input syntax for type integer: ? at LINE ?",
        ),
        ("value 3.14 out of range, also -7 and 1e5 and 0xFF", "value ? out of range, also -? and ? and ?"),
        ("near 'it''s here' and 'it\\'s' too", "near ? and ? too"),
        ("unterminated 'secret value", "unterminated ?"),
        ("table t1 has no column col_2", "table t1 has no column col_2"),
    ],
)
def test_strip_literals(message: str, stripped: str) -> None:
    assert strip_literals(message) == stripped


# --- PostgreSQL: a database's own types by name -----------------------------------------------------

_PG_TYPES_SETUP = """
CREATE TYPE mpaa_rating AS ENUM ('G', 'PG', 'PG-13', 'R', 'NC-17');
CREATE DOMAIN year AS integer CHECK (VALUE >= 1901 AND VALUE <= 2155);
CREATE TYPE pair AS (a integer, b text);
CREATE SCHEMA catalogue;
CREATE TYPE catalogue.status AS ENUM ('draft', 'live');
CREATE TABLE film (film_id integer, rating mpaa_rating, release_year year, special_features text[],
                   ratings_seen mpaa_rating[], status catalogue.status, codes varchar(10)[], extra pair);
INSERT INTO film VALUES (1, 'PG-13', 2006, '{Trailers}', '{G,R}', 'live', '{a1}', ROW(1, 'x')),
                        (2, 'R', 2007, '{}', '{}', 'draft', '{}', NULL);
"""


@pytest.fixture(scope="module")
def pg_types_url() -> Iterator[str]:
    with fresh_pg_database("dd_sql_types") as url:
        _pg_query(url)(_PG_TYPES_SETUP)
        yield url


@pytest.fixture
def type_lookups(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Each type-name lookup: the oids it asked about, and the session it ran in."""
    seen: list[dict[str, Any]] = []
    original = psycopg.Connection.execute

    def execute(self: psycopg.Connection[Any], query: Any, params: Any = None, **kwargs: Any) -> Any:
        if "format_type" in str(query):
            seen.append(
                {
                    "oids": sorted(int(oid) for oid in params[0]),
                    "columns": sorted(zip((int(rel) for rel in params[1]), params[2], strict=True)),
                    "read_only": original(self, "SHOW transaction_read_only").fetchall(),
                    "cursors": original(self, "SELECT name FROM pg_catalog.pg_cursors").fetchall(),
                }
            )
        return original(self, query, params, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "execute", execute)
    return seen


def test_postgres_result_types_name_enums_domains_arrays_and_composites(pg_types_url: str) -> None:
    sql = "SELECT rating, release_year, special_features, ratings_seen, status, codes, extra FROM film"
    assert [c["type"] for c in run(pg_types_url, sql).columns] == [
        "mpaa_rating",
        "year",  # a domain: the server sends its base type, the column's own type names it
        "text[]",
        "mpaa_rating[]",
        "catalogue.status",  # not on the search path
        "varchar(10)[]",
        "pair",
    ]


def test_postgres_result_types_are_qualified_under_the_services_pinned_search_path(pg_types_url: str) -> None:
    result = run_qualified(pg_types_url, "SELECT rating, count(*) AS n FROM public.film GROUP BY rating")
    assert [c["type"] for c in result.columns] == ["public.mpaa_rating", "int8"]
    result = run_qualified(pg_types_url, "SELECT ratings_seen, status, extra FROM public.film")
    assert [c["type"] for c in result.columns] == ["public.mpaa_rating[]", "catalogue.status", "public.pair"]


def test_the_type_lookup_is_one_query_in_the_runs_read_only_transaction_outside_the_row_cap(
    pg_types_url: str, type_lookups: list[dict[str, Any]]
) -> None:
    sql = "SELECT rating, ratings_seen, status, release_year, release_year + 1 AS next FROM public.film"
    result = run_qualified(pg_types_url, sql, max_rows=0)
    assert result.rows == [] and result.truncated
    assert [c["type"] for c in result.columns] == [
        "public.mpaa_rating",
        "public.mpaa_rating[]",
        "catalogue.status",
        "public.year",
        "int4",  # computed: no column of a table, so no domain
    ]
    expected = _pg_query(pg_types_url)(
        "SELECT oid FROM pg_type WHERE typname IN ('mpaa_rating', '_mpaa_rating', 'status')"
    )
    [(film,)] = _pg_query(pg_types_url)("SELECT 'public.film'::regclass::oid")
    assert type_lookups == [
        {
            "oids": sorted(int(oid) for (oid,) in expected),  # type oids and column numbers only: no value goes along
            "columns": [(int(film), 2), (int(film), 3), (int(film), 5), (int(film), 6)],
            "read_only": [("on",)],
            "cursors": [("datadesk_run",)],  # the query's own cursor, still open: the same transaction
        }
    ]


def test_no_type_lookup_when_no_column_is_a_tables_and_every_type_is_postgresqls_own(
    pg_types_url: str, type_lookups: list[dict[str, Any]]
) -> None:
    result = run(pg_types_url, "SELECT 1 AS n, 'x'::varchar(10) AS s, ARRAY['a'] AS a, count(*) FROM film")
    assert [c["type"] for c in result.columns] == ["int4", "varchar(10)", "text[]", "int8"]
    assert type_lookups == []
    assert [c["type"] for c in run(pg_types_url, "SELECT film_id, codes FROM film").columns] == [
        "int4",
        "varchar(10)[]",
    ]
