"""Names resolve as the engine resolves them, on the real engines, and what runs names every table fully qualified.

Each source table holds one row naming itself (`who`), so a query tells which relation the engine
really read. The differential tests put the same spelling to the engine and to `resolve`; the
end-to-end tests go through POST /sql as a member who sees only some of the tables.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pymysql
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from datadesk.errors import NotFound
from datadesk.sql import guard, resolve, runner
from datadesk.sql.checked import SqlNotAllowed, TableRef
from tests.catalog.helpers import add_integration, by_name, sync
from tests.dbs import PG_HOST, PG_PORT, fresh_mysql_database, fresh_pg_database, mysql_admin, pg_admin, unique_name
from tests.sql.conftest import grant, set_run_sql
from tests.world import Person, World

Markers = dict[tuple[str, str], str]  # (schema, table) as stored -> the `who` value it holds


def resolved_who(integration_type: str, url: str, sql: str, markers: Markers) -> str | None:
    """The `who` of the one table `resolve` says the query reads, matched as the service matches; None if none."""
    try:
        located = resolve.locate(integration_type, url, guard.check(sql, integration_type))
    except (NotFound, SqlNotAllowed):  # system catalogs are the guard's to refuse
        return None
    (target,) = located.targets
    hits = [
        who
        for (schema, name), who in markers.items()
        if located.same(schema, target.schema) and located.same(name, target.name)
    ]
    assert len(hits) <= 1, (sql, hits)
    return hits[0] if hits else None


def who_table(schema: str, name: str) -> str:
    return f"{schema}.{name}"


# --- PostgreSQL: a login role that is not a superuser, with its own schema on the search path -----


@dataclass
class PgSource:
    url: str  # as the role
    database: str
    role: str
    markers: Markers


@pytest.fixture(scope="module")
def pg_source() -> Iterator[PgSource]:
    role = unique_name("dd_role")
    with pg_admin() as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE')
    try:
        with fresh_pg_database("dd_resolve") as admin_url:
            database = make_url(admin_url).database or ""
            tables = [
                ("public", "Salaries"),
                ("public", "salaries"),
                ("public", "calendar"),
                (role, "calendar"),
                ("hidden", "secrets"),
                ("locked", "vault"),
                ("public", "été"),
            ]
            with psycopg.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname=database, autocommit=True) as c:
                c.execute(f'CREATE SCHEMA "{role}"; CREATE SCHEMA hidden; CREATE SCHEMA locked')
                for schema, name in tables:
                    c.execute(f'CREATE TABLE "{schema}"."{name}" (who text)')
                    c.execute(f'INSERT INTO "{schema}"."{name}" VALUES (%s)', (who_table(schema, name),))
                c.execute('CREATE TABLE public.people (id int, "Email" text, email text)')
                c.execute("INSERT INTO public.people VALUES (1, 'HIDDEN-Email', 'plain-email')")
                # Inheritance: PostgreSQL reads a child's rows through its parent; partitions stand for nothing.
                c.execute("CREATE TABLE public.events (kind text); INSERT INTO public.events VALUES ('signup')")
                c.execute("CREATE TABLE hidden.events_private () INHERITS (public.events)")
                c.execute("INSERT INTO hidden.events_private VALUES ('HIDDEN-inherited')")
                c.execute(
                    "CREATE TABLE public.logs (note text); CREATE TABLE public.logs_archive () INHERITS (public.logs)"
                )
                c.execute("INSERT INTO public.logs_archive VALUES ('HIDDEN-archived-note')")
                c.execute("CREATE TABLE public.measures (who text, at int) PARTITION BY RANGE (at)")
                c.execute("CREATE TABLE public.measures_1 PARTITION OF public.measures FOR VALUES FROM (0) TO (100)")
                c.execute("INSERT INTO public.measures VALUES ('public.measures', 1)")
                c.execute(f'GRANT USAGE ON SCHEMA hidden, "{role}" TO "{role}"')
                c.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA public, hidden, "{role}" TO "{role}"')
            markers = {(s, n): who_table(s, n) for s, n in tables}
            yield PgSource(f"postgresql+psycopg://{role}@{PG_HOST}:{PG_PORT}/{database}", database, role, markers)
    finally:
        with pg_admin() as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def pg_engine_who(source: PgSource, sql: str) -> str | None:
    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=source.role, dbname=source.database) as conn:
        try:
            row = conn.execute(sql).fetchone()
        except psycopg.Error:
            return None
    return str(row[0]) if row else None


def test_the_role_is_not_a_superuser_and_its_schema_comes_first(pg_source: PgSource) -> None:
    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=pg_source.role, dbname=pg_source.database) as conn:
        row = conn.execute("SELECT current_setting('is_superuser'), current_schemas(true)").fetchone()
    assert row is not None
    assert row[0] == "off" and row[1][:3] == ["pg_catalog", pg_source.role, "public"]


PG_SPELLINGS = [
    "salaries",
    "SALARIES",
    '"Salaries"',
    '"SALARIES"',
    "public.salaries",
    'public."Salaries"',
    "calendar",
    "Calendar",
    "public.calendar",
    "PUBLIC.CALENDAR",
    '"{role}".calendar',
    "{role}.calendar",
    "{database}.public.salaries",
    '"{database}".public."Salaries"',
    "postgres.public.salaries",
    "hidden.secrets",
    "locked.vault",
    "nope",
    "pg_class",
    "pg_catalog.pg_class",
    "information_schema.tables",
    '"été"',
    "Été",  # PostgreSQL folds A-Z only: this is "Été", which does not exist (sqlglot would say "été")
    "ÉTÉ",
]


@pytest.mark.parametrize("spelling", PG_SPELLINGS)
def test_postgres_resolves_as_the_engine_does(pg_source: PgSource, spelling: str) -> None:
    name = spelling.format(role=pg_source.role, database=pg_source.database)
    sql = f"SELECT who FROM {name}"
    engine = pg_engine_who(pg_source, sql)
    assert resolved_who("postgres", pg_source.url, sql, pg_source.markers) == engine, sql


def test_postgres_resolves_the_two_reproduced_attacks(pg_source: PgSource) -> None:
    role, db = pg_source.role, pg_source.database
    cases = {
        "SELECT * FROM salaries": resolve.Target("public", "salaries"),
        'SELECT * FROM "Salaries"': resolve.Target("public", "Salaries"),
        "SELECT * FROM calendar": resolve.Target(role, "calendar"),
    }
    for sql, target in cases.items():
        located = resolve.locate("postgres", pg_source.url, guard.check(sql, "postgres"))
        assert located.targets == (target,) and located.catalog == db
        qualified = resolve.qualify(located, {target: (target.schema, target.name)})
        assert qualified.checked.sql == f'SELECT * FROM "{db}"."{target.schema}"."{target.name}"'
        assert qualified.checked.tables == (TableRef(target.schema, target.name, db),)


def test_postgres_rewrite_keeps_explain_aliases_and_ctes(pg_source: PgSource) -> None:
    db, role = pg_source.database, pg_source.role
    sql = (
        "EXPLAIN WITH c AS (SELECT who FROM calendar) "
        'SELECT s.who FROM salaries AS s JOIN c ON c.who = s.who JOIN public."Salaries" ON TRUE'
    )
    located = resolve.locate("postgres", pg_source.url, guard.check(sql, "postgres"))
    assert located.occurrences == (
        resolve.Target(role, "calendar"),
        resolve.Target("public", "salaries"),
        resolve.Target("public", "Salaries"),
    )
    rewritten = resolve.qualify(located, {t: (t.schema, t.name) for t in located.targets}).checked
    assert rewritten.explain and rewritten.sql.startswith("EXPLAIN WITH c AS (SELECT who FROM ")
    assert f'"{db}"."{role}"."calendar"' in rewritten.sql
    assert f'"{db}"."public"."salaries" AS s' in rewritten.sql
    assert "JOIN c ON" in rewritten.sql and f'"{db}"."public"."Salaries"' in rewritten.sql
    assert pg_engine_who(pg_source, rewritten.sql) is not None  # the plan: PostgreSQL takes the text


def test_postgres_cte_names_compare_as_the_engine_compares_them(pg_source: PgSource) -> None:
    # sqlglot folds Été to été and would call "été" the CTE; PostgreSQL reads the table public."été".
    sql = 'WITH Été AS (SELECT 1 AS who) SELECT who FROM "été"'
    assert pg_engine_who(pg_source, sql) == "public.été"
    located = resolve.locate("postgres", pg_source.url, guard.check(sql, "postgres"))
    assert located.targets == (resolve.Target("public", "été"),)
    same = "WITH calendar AS (SELECT 'cte' AS who) SELECT who FROM CALENDAR"
    located = resolve.locate("postgres", pg_source.url, guard.check(same, "postgres"))
    assert located.targets == ()
    assert resolve.qualify(located, {}).checked.sql == same


# --- the same through POST /sql, as a member who sees only some of the tables ------------------------


def post_sql(client: TestClient, person: Person, integration_id: str, sql: str) -> Any:
    return client.post("/api/v1/sql", json={"integration_id": integration_id, "sql": sql}, headers=person.headers)


def hide(client: TestClient, world: World, resources: dict[str, dict[str, Any]], *names: str) -> None:
    """Put resources in Finance only: the viewer (Marketing) no longer sees them; the admin does."""
    for name in names:
        response = client.patch(
            f"/api/v1/resources/{resources[name]['id']}",
            json={"team_ids": [world.a.teams["Finance"]]},
            headers=world.a.admin.headers,
        )
        assert response.status_code == 200, response.text


def connect(client: TestClient, world: World, name: str, type_: str, url: str) -> tuple[str, dict[str, Any]]:
    integration = add_integration(client, world.a.admin, name, type_, {"url": url})
    run = sync(client, world.a.admin, integration["id"])
    assert run["status"] == "succeeded", run
    set_run_sql(client, world.a.admin, True)
    grant(client, world.a.admin, integration["id"], ["role:viewer", "role:admin"])
    return integration["id"], by_name(client, world.a.admin)


def rows(response: Any) -> list[list[Any]]:
    assert response.status_code == 200, response.text
    result: list[list[Any]] = response.json()["rows"]
    return result


def refused(response: Any) -> bool:
    assert "HIDDEN" not in response.text and "hidden." not in response.text
    return bool(response.status_code == 404 and response.json()["error"]["code"] == "not_found")


def test_postgres_end_to_end(client: TestClient, world: World, pg_source: PgSource) -> None:
    db, role = pg_source.database, pg_source.role
    integration_id, resources = connect(client, world, "pg", "postgres", pg_source.url)
    hide(
        client,
        world,
        resources,
        f"{db}.public.salaries",
        f"{db}.{role}.calendar",
        f"{db}.hidden.secrets",
        f"{db}.public.été",
    )
    viewer, admin = world.a.viewer, world.a.admin
    for sql in (
        "SELECT * FROM salaries",
        "SELECT * FROM SALARIES",
        "SELECT * FROM calendar",
        "SELECT who FROM calendar AS c WHERE c.who IS NOT NULL",
        "SELECT * FROM hidden.secrets",
        "SELECT * FROM locked.vault",
        f"SELECT * FROM {role}.calendar",
        'WITH Été AS (SELECT 1 AS who) SELECT who FROM "été"',
        'SELECT * FROM "Salaries" JOIN salaries USING (who)',
    ):
        assert refused(post_sql(client, viewer, integration_id, sql)), sql
    assert rows(post_sql(client, viewer, integration_id, 'SELECT * FROM "Salaries"')) == [["public.Salaries"]]
    assert rows(post_sql(client, viewer, integration_id, "SELECT * FROM public.calendar")) == [["public.calendar"]]
    assert rows(post_sql(client, viewer, integration_id, "WITH Été AS (SELECT 1 AS who) SELECT who FROM Été")) == [[1]]
    # The admin sees every table: what runs is what the engine would have picked, never a guess.
    assert rows(post_sql(client, admin, integration_id, "SELECT * FROM salaries")) == [["public.salaries"]]
    assert rows(post_sql(client, admin, integration_id, "SELECT * FROM calendar")) == [[f"{role}.calendar"]]


def test_postgres_sensitive_columns_keep_their_case(client: TestClient, world: World, pg_source: PgSource) -> None:
    integration_id, resources = connect(client, world, "pg", "postgres", pg_source.url)
    tagged = client.patch(
        f"/api/v1/resources/{resources[f'{pg_source.database}.public.people.Email']['id']}",
        json={"tags": ["pii"]},
        headers=world.a.admin.headers,
    )
    assert tagged.status_code == 200, tagged.text
    viewer = world.a.viewer
    assert rows(post_sql(client, viewer, integration_id, "SELECT email FROM people")) == [["plain-email"]]
    for sql in (
        'SELECT "Email" FROM people',
        "SELECT * FROM PEOPLE",
        "WITH p AS (SELECT * FROM people) SELECT p.email FROM p",
        'SELECT x."Email" FROM public.people AS x',
    ):
        response = post_sql(client, viewer, integration_id, sql)
        assert response.status_code == 403 and response.json()["error"]["code"] == "sensitive_column", (
            sql,
            response.text,
        )
        assert "HIDDEN" not in response.text


def test_postgres_inheritance_children_are_read_too(client: TestClient, world: World, pg_source: PgSource) -> None:
    db = pg_source.database
    located = resolve.locate("postgres", pg_source.url, guard.check("SELECT kind FROM events", "postgres"))
    assert located.inherited == {resolve.Target("public", "events"): (resolve.Target("hidden", "events_private"),)}
    integration_id, resources = connect(client, world, "pg", "postgres", pg_source.url)
    hide(client, world, resources, f"{db}.hidden.events_private")
    tagged = client.patch(
        f"/api/v1/resources/{resources[f'{db}.public.logs_archive.note']['id']}",
        json={"tags": ["pii"]},
        headers=world.a.admin.headers,
    )
    assert tagged.status_code == 200, tagged.text
    viewer, admin = world.a.viewer, world.a.admin
    assert refused(post_sql(client, viewer, integration_id, "SELECT kind FROM events"))
    assert rows(post_sql(client, admin, integration_id, "SELECT kind FROM events ORDER BY kind")) == [
        ["HIDDEN-inherited"],
        ["signup"],
    ]
    response = post_sql(client, viewer, integration_id, "SELECT note FROM logs")
    assert response.status_code == 403 and response.json()["error"]["code"] == "sensitive_column", response.text
    assert "HIDDEN" not in response.text
    # A partitioned table stands for its partitions, which the catalog does not list.
    assert rows(post_sql(client, viewer, integration_id, "SELECT who FROM measures")) == [["public.measures"]]


def test_the_statement_that_runs_is_the_qualified_one(
    client: TestClient, world: World, pg_source: PgSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    integration_id, _ = connect(client, world, "pg", "postgres", pg_source.url)
    ran: list[str] = []
    real_run = runner.run

    def spy(url: str, sql: str, **kwargs: Any) -> runner.RunResult:
        ran.append(sql)
        return real_run(url, sql, **kwargs)

    monkeypatch.setattr(runner, "run", spy)
    assert rows(post_sql(client, world.a.admin, integration_id, "SELECT who FROM calendar")) == [
        [f"{pg_source.role}.calendar"]
    ]
    assert ran == [f'SELECT who FROM "{pg_source.database}"."{pg_source.role}"."calendar"']


# --- MariaDB: table names compared per lower_case_table_names ------------------------------------


@dataclass
class MySource:
    url: str
    database: str
    lower_case: int
    markers: Markers


@pytest.fixture(scope="module")
def mysql_source() -> Iterator[MySource]:
    with fresh_mysql_database("dd_resolve") as url:
        database = make_url(url).database or ""
        conn = mysql_admin(database)
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT @@lower_case_table_names")
                lower_case = int((cursor.fetchone() or (0,))[0])
                names = ["orders", "secrets"] + (["Orders"] if lower_case == 0 else [])
                for name in names:
                    cursor.execute(f"CREATE TABLE `{name}` (who VARCHAR(200))")
                    cursor.execute(f"INSERT INTO `{name}` VALUES (%s)", (who_table(database, name),))
        finally:
            conn.close()
        yield MySource(url, database, lower_case, {(database, n): who_table(database, n) for n in names})


def mysql_engine_who(source: MySource, sql: str) -> str | None:
    conn = mysql_admin(source.database)
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql)
            row = cursor.fetchone()
    except pymysql.MySQLError:
        return None
    finally:
        conn.close()
    return str(row[0]) if row else None


@pytest.mark.parametrize(
    "spelling",
    ["orders", "Orders", "ORDERS", "`orders`", "`Orders`", "{db}.orders", "{DB}.orders", "`{db}`.`Orders`",
     "secrets", "SECRETS", "mysql.user", "information_schema.tables", "nope", "other_db.orders"],
)  # fmt: skip
def test_mysql_resolves_as_the_engine_does(mysql_source: MySource, spelling: str) -> None:
    name = spelling.format(db=mysql_source.database, DB=mysql_source.database.upper())
    sql = f"SELECT who FROM {name}"
    engine = mysql_engine_who(mysql_source, sql)
    assert resolved_who("mysql", mysql_source.url, sql, mysql_source.markers) == engine, sql


def test_mysql_end_to_end(client: TestClient, world: World, mysql_source: MySource) -> None:
    db = mysql_source.database
    integration_id, resources = connect(client, world, "my", "mysql", mysql_source.url)
    hidden = [f"{db}.{db}.secrets"] + ([f"{db}.{db}.Orders"] if mysql_source.lower_case == 0 else [])
    hide(client, world, resources, *hidden)
    viewer = world.a.viewer
    assert rows(post_sql(client, viewer, integration_id, "SELECT * FROM orders")) == [[f"{db}.orders"]]
    assert rows(post_sql(client, viewer, integration_id, f"SELECT * FROM `{db}`.orders")) == [[f"{db}.orders"]]
    refusals = ["SELECT * FROM SECRETS", "SELECT * FROM secrets", "SELECT * FROM other_db.orders"]
    if mysql_source.lower_case == 0:  # `Orders` is another, hidden table
        refusals += ["SELECT * FROM Orders", "SELECT * FROM orders JOIN Orders USING (who)"]
    for sql in refusals:
        assert refused(post_sql(client, viewer, integration_id, sql)), sql
    if mysql_source.lower_case != 0:
        assert rows(post_sql(client, viewer, integration_id, "SELECT * FROM ORDERS")) == [[f"{db}.orders"]]
    # MariaDB reads `orders` here as the CTE ORDERS; the guard compares case-sensitively: refused, not guessed.
    assert refused(post_sql(client, viewer, integration_id, "WITH ORDERS AS (SELECT 'x' AS who) SELECT * FROM orders"))


# --- SQLite and DuckDB: ASCII case-insensitive, quoted too ------------------------------------------


@pytest.fixture
def sqlite_file(tmp_path: Path) -> tuple[str, Markers]:
    path = tmp_path / "shop.db"
    conn = sqlite3.connect(path)
    names = ["orders", "Secrets", "été"]
    for name in names:
        conn.execute(f'CREATE TABLE "{name}" (who TEXT)')
        conn.execute(f'INSERT INTO "{name}" VALUES (?)', (who_table("main", name),))
    conn.commit()
    conn.close()
    return f"sqlite:///{path}", {("main", n): who_table("main", n) for n in names}


def sqlite_engine_who(url: str, sql: str) -> str | None:
    conn = sqlite3.connect(make_url(url).database or "")
    try:
        row = conn.execute(sql).fetchone()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return str(row[0]) if row else None


@pytest.mark.parametrize(
    "spelling",
    ["orders", "ORDERS", '"ORDERS"', "main.orders", "MAIN.Orders", "temp.orders", "secrets", "SECRETS",
     '"été"', '"Été"', '"ÉTÉ"', "sqlite_master", "other.orders"],
)  # fmt: skip
def test_sqlite_resolves_as_the_engine_does(sqlite_file: tuple[str, Markers], spelling: str) -> None:
    url, markers = sqlite_file
    sql = f"SELECT who FROM {spelling}"
    assert resolved_who("sqlite", url, sql, markers) == sqlite_engine_who(url, sql), sql


def test_sqlite_end_to_end(client: TestClient, world: World, sqlite_file: tuple[str, Markers]) -> None:
    url, _ = sqlite_file
    integration_id, resources = connect(client, world, "shop", "sqlite", url)
    hide(client, world, resources, "shop.main.Secrets", "shop.main.été")
    viewer = world.a.viewer
    for sql in ("SELECT * FROM ORDERS", 'SELECT * FROM "Orders"', "SELECT who FROM MAIN.orders AS o"):
        assert rows(post_sql(client, viewer, integration_id, sql)) == [["main.orders"]], sql
    assert rows(post_sql(client, viewer, integration_id, "WITH Été AS (SELECT 1 AS who) SELECT who FROM Été")) == [[1]]
    for sql in (
        "SELECT * FROM secrets",
        'SELECT * FROM "SECRETS"',
        'SELECT * FROM "été"',
        'SELECT * FROM "Été"',  # SQLite folds A-Z only: no such table
        # sqlglot folds Été to été and would call "été" the CTE; SQLite folds A-Z only and reads the table.
        'WITH Été AS (SELECT 1 AS who) SELECT who FROM "été"',
        "SELECT * FROM temp.orders",
    ):
        assert refused(post_sql(client, viewer, integration_id, sql)), sql


@pytest.fixture
def duckdb_file(tmp_path: Path) -> tuple[str, Markers]:
    path = tmp_path / "shop.duckdb"
    conn = duckdb.connect(str(path))
    conn.execute("CREATE SCHEMA s; CREATE SCHEMA shop.shop")  # a schema named like the catalog: `shop.x` is ambiguous
    tables = [("main", "orders"), ("main", "Secrets"), ("s", "orders"), ("shop", "orders"), ("main", "Été")]
    for schema, name in tables:
        conn.execute(f'CREATE TABLE shop."{schema}"."{name}" (who TEXT)')
        conn.execute(f'INSERT INTO shop."{schema}"."{name}" VALUES (?)', [who_table(schema, name)])
    conn.close()
    return f"duckdb:///{path}", {t: who_table(*t) for t in tables}


def duckdb_engine_who(url: str, sql: str) -> str | None:
    conn = duckdb.connect(make_url(url).database or "", read_only=True)
    try:
        row = conn.execute(sql).fetchone()
    except duckdb.Error:
        return None
    finally:
        conn.close()
    return str(row[0]) if row else None


@pytest.mark.parametrize(
    "spelling",
    ["orders", "ORDERS", '"ORDERS"', "main.orders", "MAIN.ORDERS", "shop.main.orders", "SHOP.Main.Orders",
     "s.orders", '"S"."ORDERS"', "shop.orders", "shop.shop.orders", "secrets", '"SECRETS"', '"été"', '"ÉTÉ"',
     "temp.orders", "system.orders", "system.main.orders", "memory.orders", "information_schema.tables", "nope"],
)  # fmt: skip
def test_duckdb_resolves_as_the_engine_does(duckdb_file: tuple[str, Markers], spelling: str) -> None:
    url, markers = duckdb_file
    sql = f"SELECT who FROM {spelling}"
    assert resolved_who("duckdb", url, sql, markers) == duckdb_engine_who(url, sql), sql


def test_duckdb_end_to_end(client: TestClient, world: World, duckdb_file: tuple[str, Markers]) -> None:
    url, _ = duckdb_file
    integration_id, resources = connect(client, world, "shop", "duckdb", url)
    hide(client, world, resources, "shop.main.Secrets", "shop.s.orders")
    viewer = world.a.viewer
    for sql in ("SELECT * FROM ORDERS", 'SELECT * FROM "ORDERS"', "SELECT o.who FROM Shop.Main.Orders AS o"):
        assert rows(post_sql(client, viewer, integration_id, sql)) == [["main.orders"]], sql
    for sql in (
        "SELECT * FROM secrets",
        'SELECT * FROM "SECRETS"',
        "SELECT * FROM S.Orders",
        "SELECT * FROM shop.orders",
        # Under RECURSIVE, DuckDB lets a CTE see itself only in the recursive term of a UNION: this is the table.
        "WITH RECURSIVE secrets AS (SELECT * FROM secrets) SELECT * FROM secrets",
        "WITH RECURSIVE secrets AS (SELECT who FROM secrets UNION ALL SELECT who FROM secrets) SELECT * FROM secrets",
    ):
        assert refused(post_sql(client, viewer, integration_id, sql)), sql
    counted = "WITH RECURSIVE n AS (SELECT 1 AS x UNION ALL SELECT x + 1 FROM n WHERE x < 3) SELECT count(*) FROM n"
    assert rows(post_sql(client, viewer, integration_id, counted)) == [[3]]
    first_term = "WITH RECURSIVE orders AS (SELECT who FROM orders UNION SELECT who FROM orders) SELECT * FROM orders"
    assert rows(post_sql(client, viewer, integration_id, first_term)) == [["main.orders"]]
