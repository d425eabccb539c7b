"""Worlds for the attacker's suite: real sources holding visible and hidden tables with canary values.

Each engine's world is a workspace whose editor (the attacker) holds query access, with Run SQL
on, and whose hidden tables sit in a Team the attacker is not in. The database account the
integration uses may read everything (hidden tables included), so only datadesk's own walls
stand between the attacker and the canaries. Attacks are data: `tests/fixtures/sql_attacks/hostile`.
"""

from __future__ import annotations

import base64
import re
import shutil
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pymysql
import pytest
from fastapi.testclient import TestClient

from datadesk.app import create_app
from datadesk.settings import Settings
from datadesk.sql import runner
from tests.catalog.helpers import add_integration, by_name, sync
from tests.conftest import TEST_SECRET
from tests.dbs import (
    MYSQL_HOST,
    MYSQL_PORT,
    PG_HOST,
    PG_PORT,
    PG_USER,
    fresh_mysql_database,
    fresh_pg_database,
    mysql_admin,
    pg_admin,
    unique_name,
)
from tests.world import Person, Space, build_world

ATTACKS = Path(__file__).resolve().parents[1] / "fixtures" / "sql_attacks" / "hostile"
# A refusal is one of these; anything else (a run, an engine error, a timeout) reached the engine.
REFUSALS = {(400, "sql_not_allowed"), (404, "not_found"), (403, "sensitive_column")}
TIMEOUT_S = 3  # the workspace's SQL time limit in these worlds; bombs must end soon after it
SLACK_S = 15  # on top of the time limit: connecting, checking, a loaded machine
HIDDEN_TEAM = "Marketing"  # the attacker (the editor) is in Finance and Everyone, never in Marketing

# What no attacker may ever see, whichever engine: another workspace's people and password hashes
# (from the store), and files outside the sources folder.
COMMON_CANARIES = ["beta.example.com", "$argon2", "ZQX-OUTSIDE-CONTENT", "root:x:0:0", "nologin"]


@dataclass(frozen=True)
class Attack:
    """One hostile statement, who sends it and what must happen."""

    engine: str
    line: int
    who: str  # member | admin
    expect: str  # refused | harmless
    sql: str
    why: str

    @property
    def id(self) -> str:
        slug = re.sub(r"[^A-Za-z0-9]+", "-", self.why).strip("-")[:48]
        return f"{self.who}-L{self.line}-{slug}"


def load_attacks(engine: str, who: str | None = None) -> list[Attack]:
    """The engine's attack file: `# comment` lines, `[member]`/`[admin]` sections, `refused|harmless SQL`.

    A comment names what the statements after it (up to a blank line) try; a line starting with
    `... ` continues the previous statement on a new line.
    """
    path = ATTACKS / f"{engine}.txt"
    attacks: list[Attack] = []
    section, why = "member", ""
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.rstrip()
        if not line.strip():
            why = ""
        elif line.startswith("#"):
            why = (why + " " + line.lstrip("#").strip()).strip()
        elif line in ("[member]", "[admin]"):
            section, why = line[1:-1], ""
        elif line.startswith("... "):
            attacks[-1] = replace(attacks[-1], sql=attacks[-1].sql + "\n" + line[4:])
        else:
            expect, _, sql = line.partition(" ")
            if expect not in ("refused", "harmless") or not sql.strip():
                raise ValueError(f"{path}:{number}: expected 'refused SQL' or 'harmless SQL', got {line!r}")
            if not why:
                raise ValueError(f"{path}:{number}: every attack needs a comment naming what it tries")
            attacks.append(Attack(engine, number, section, expect, sql.strip(), why))
    return [a for a in attacks if who is None or a.who == who]


@dataclass(repr=False)
class HostileWorld:
    """A synced source in workspace A, its canaries, and every statement that reached the runner."""

    engine: str
    client: TestClient
    space: Space
    integrations: dict[str, str]  # who -> integration id
    canaries: dict[str, list[str]]  # who -> strings that must never come back
    placeholders: dict[str, str]
    calls: list[str]
    timeout_s: float
    direct: Callable[[str], list[tuple[Any, ...]]] = field(repr=False)  # runs SQL as the integration's account

    def __repr__(self) -> str:
        return f"HostileWorld({self.engine})"

    def person(self, who: str) -> Person:
        return self.space.editor if who == "member" else self.space.admin

    def render(self, sql: str) -> str:
        def value(match: re.Match[str]) -> str:
            return self.placeholders[match.group(1)]

        return re.sub(r"\{\{(\w+)\}\}", value, sql)

    def post(self, who: str, sql: str) -> Any:
        return self.client.post(
            "/api/v1/sql",
            json={"integration_id": self.integrations[who], "sql": sql},
            headers=self.person(who).headers,
        )


def leaks(body: str, canaries: list[str], sql: str) -> list[str]:
    """Canaries found in a response (as written, upper/lower case, reversed, hex or base64).

    A canary the statement itself spells is skipped: an error may quote the statement back.
    """
    found = []
    lowered, asked = body.lower(), sql.lower()
    for canary in canaries:
        if canary.lower() in asked:
            continue
        forms = [canary.lower(), canary.lower()[::-1], canary.encode().hex()]
        if any(form in lowered for form in forms) or base64.b64encode(canary.encode()).decode()[:-4] in body:
            found.append(canary)
    return found


def attempt(world: HostileWorld, attack: Attack) -> list[str]:
    """Send one attack; return what went wrong (empty when the attack got nothing)."""
    sql = world.render(attack.sql)
    before = len(world.calls)
    started = time.monotonic()
    response = world.post(attack.who, sql)
    elapsed = time.monotonic() - started
    status, text = response.status_code, response.text
    code = ""
    if status != 200:
        try:
            code = response.json()["error"]["code"]
        except (ValueError, KeyError, TypeError):
            code = "(no error code)"
    problems = []
    leaked = leaks(text, world.canaries[attack.who], sql)
    if leaked:
        problems.append(f"LEAKED {leaked}")
    if attack.expect == "refused":
        if (status, code) not in REFUSALS:
            problems.append(f"not refused: {status} {code or 'ran'}")
        if len(world.calls) > before:
            problems.append("reached the engine")
    elif status >= 500:
        problems.append(f"server error {status}")
    if elapsed > world.timeout_s + SLACK_S:
        problems.append(f"took {elapsed:.1f}s")
    if problems:
        excerpt = text[:300].replace("\n", " ")
        problems.append(f"response: {status} {excerpt}")
    return problems


def check(world: HostileWorld, attack: Attack) -> None:
    """Fail with every problem of one attack: a leak, no refusal, a run on the engine, a hang."""
    problems = attempt(world, attack)
    assert not problems, f"{attack.engine} {attack.who} L{attack.line} ({attack.why})\n  {attack.sql}\n  " + (
        "\n  ".join(problems)
    )


def check_sanity(world: HostileWorld, visible_sql: str, hidden_sql: str, expected_canary: str) -> None:
    """The walls under test are datadesk's: the account reads hidden tables, datadesk runs visible ones."""
    assert any(expected_canary in str(row) for row in world.direct(world.render(hidden_sql))), (
        "the integration's account cannot read the hidden canaries: the world is not hostile enough"
    )
    before = len(world.calls)
    response = world.post("member", world.render(visible_sql))
    assert response.status_code == 200, response.text
    assert response.json()["rows"], response.text
    assert len(world.calls) == before + 1, "the recording runner did not see the run: check the patch target"


# --- the app --------------------------------------------------------------------------------------


@contextmanager
def recording_runner() -> Iterator[list[str]]:
    """Record every statement handed to `datadesk.sql.runner.run` (the only door to an engine)."""
    calls: list[str] = []
    original = runner.run

    def recorded(*args: Any, **kwargs: Any) -> Any:
        sql = args[1] if len(args) > 1 else kwargs.get("sql", "")
        calls.append(str(sql))
        return original(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runner, "run", recorded)
        yield calls


@dataclass
class App:
    """The running app, workspace A of its world, and the statements its runner was handed."""

    client: TestClient
    space: Space
    settings: Settings
    timeout_s: float
    calls: list[str]

    @property
    def home(self) -> Path:
        return self.settings.home

    def placeholders(self) -> dict[str, str]:
        home = self.settings.home
        return {
            "home": str(home),
            "store": str(home / "datadesk.db"),
            "outside": str(home / "zqx_outside.txt"),
            "sources": str(home / "sources"),
        }


@contextmanager
def hostile_app(root: Path, template: Path) -> Iterator[App]:
    """An app on a SQLite store under DATADESK_HOME (as deployed), Run SQL on, a short time limit."""
    home = root / "home"
    (home / "sources").mkdir(parents=True)
    (home / "zqx_outside.txt").write_text("ZQX-OUTSIDE-CONTENT\n")
    shutil.copy(template, home / "datadesk.db")
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'datadesk.db'}", secret_key=TEST_SECRET)
    app = create_app(settings)
    try:
        with TestClient(app, raise_server_exceptions=False) as client, recording_runner() as calls:
            world = build_world(app.state.sessions)
            timeout = _switch_run_sql_on(client, world.a.admin)
            yield App(client, world.a, settings, timeout, calls)
    finally:
        app.state.engine.dispose()


def _switch_run_sql_on(client: TestClient, admin: Person) -> float:
    """Run SQL on with a short time limit, through whichever settings route holds the limit."""
    response = client.put(
        "/api/v1/settings/ai", json={"run_sql_enabled": True, "sql_timeout_seconds": TIMEOUT_S}, headers=admin.headers
    )
    if response.status_code == 200:
        return float(response.json().get("sql_timeout_seconds", TIMEOUT_S))
    response = client.put("/api/v1/settings/ai", json={"run_sql_enabled": True}, headers=admin.headers)
    assert response.status_code == 200, response.text
    limited = client.put("/api/v1/settings/sql", json={"timeout_seconds": TIMEOUT_S}, headers=admin.headers)
    assert limited.status_code == 200, limited.text
    return float(limited.json().get("timeout_seconds", TIMEOUT_S))


def _publish(
    app: App,
    integration_id: str,
    *,
    visible: set[tuple[str, str]],
    hidden_schemas: Collection[str] = (),
    pii: Collection[tuple[str, str, str]] = (),
    query: list[str],
) -> None:
    """Sync; put every table or view not in `visible` (and the hidden schemas) in the hidden Team; grant."""
    client, admin = app.client, app.space.admin
    run = sync(client, admin, integration_id, timeout=120)
    assert run["status"] == "succeeded", run
    hidden_team = app.space.teams[HIDDEN_TEAM]
    resources = by_name(client, admin, integration_id=integration_id)
    for qualified, resource in resources.items():
        parts = qualified.split(".")
        if resource["type"] in ("table", "view"):
            place = (parts[-2], parts[-1])
            if place not in visible:
                _patch(client, admin, resource["id"], {"team_ids": [hidden_team]})
        elif resource["type"] == "schema" and parts[-1] in hidden_schemas:
            _patch(client, admin, resource["id"], {"team_ids": [hidden_team]})
        elif resource["type"] == "column" and (parts[-3], parts[-2], parts[-1]) in pii:
            _patch(client, admin, resource["id"], {"tags": ["pii"]})
    tables = [r for r in resources.values() if r["type"] in ("table", "view")]
    assert {(r["qualified_name"].split(".")[-2], r["name"]) for r in tables} >= visible, "a visible table is missing"
    response = client.put(
        f"/api/v1/integrations/{integration_id}/permissions",
        json={"query_access": query, "sensitive_access": []},
        headers=admin.headers,
    )
    assert response.status_code == 200, response.text


def _patch(client: TestClient, admin: Person, resource_id: str, body: dict[str, Any]) -> None:
    response = client.patch(f"/api/v1/resources/{resource_id}", json=body, headers=admin.headers)
    assert response.status_code == 200, response.text


# --- PostgreSQL -----------------------------------------------------------------------------------

PG_SOURCE = """
CREATE EXTENSION IF NOT EXISTS dblink;
CREATE SCHEMA hidden;
CREATE SCHEMA "{role}";
CREATE TABLE public."Salaries" (name text, amount int);
INSERT INTO public."Salaries" VALUES ('alice', 100), ('bob', 200);
CREATE TABLE public.salaries (name text, amount int);
INSERT INTO public.salaries VALUES ('ZQXSALARYPG3', 999999);
CREATE TABLE public.calendar (day date, note text);
INSERT INTO public.calendar VALUES ('2026-01-01', 'new year');
CREATE TABLE "{role}".calendar (day date, note text);
INSERT INTO "{role}".calendar VALUES ('2026-01-02', 'ZQXROLECALENDARPG7');
CREATE TABLE public.customers (id int PRIMARY KEY, email text, city text);
INSERT INTO public.customers VALUES (1, 'zqx-pii-pg@example.com', 'Oslo');
CREATE TABLE public.pg_settings (name text, setting text);
INSERT INTO public.pg_settings VALUES ('theme', 'dark');
CREATE TABLE public.pg_stats (tablename text, most_common_vals text);
INSERT INTO public.pg_stats VALUES ('t', 'v');
CREATE TABLE public.events (kind text);
INSERT INTO public.events VALUES ('signup');
CREATE TABLE hidden.secrets (secret text, zqx_pin text);
-- Repeated, so ANALYZE lists them among the most common values in pg_stats.
INSERT INTO hidden.secrets SELECT 'ZQXSECRETPG' || (g % 2 + 1), '1111' FROM generate_series(1, 10) g;
COMMENT ON TABLE hidden.secrets IS 'ZQX-TABLE-COMMENT-PG';
CREATE TABLE hidden.zqx_vault (zqx_vault_col text);
INSERT INTO hidden.zqx_vault VALUES ('ZQXVAULTPG5');
CREATE TABLE hidden.events_private () INHERITS (public.events);
INSERT INTO hidden.events_private VALUES ('ZQX-INHERITED-PG');
CREATE VIEW public.secret_view AS SELECT secret, 'ZQX-VIEWDEF-PG'::text AS tag FROM hidden.secrets;
CREATE MATERIALIZED VIEW hidden.secret_mat AS SELECT secret FROM hidden.secrets;
CREATE TYPE hidden.zqx_mood AS ENUM ('ZQX-ENUM-PG');
CREATE SEQUENCE hidden.zqx_seq START 424242;
CREATE FUNCTION public.peek(int) RETURNS text LANGUAGE sql SECURITY DEFINER
    AS $$ SELECT string_agg(secret, ',') FROM hidden.secrets WHERE 'ZQX-FUNCDEF-PG' IS NOT NULL $$;
CREATE FUNCTION public.peek_rows() RETURNS SETOF text LANGUAGE sql SECURITY DEFINER
    AS $$ SELECT secret FROM hidden.secrets $$;
CREATE OPERATOR public.@@@ (RIGHTARG = int, FUNCTION = public.peek);
-- Allow-listed names and plain syntax that resolve to user code for argument types pg_catalog lacks.
CREATE FUNCTION public.length(integer) RETURNS text LANGUAGE sql SECURITY DEFINER
    AS $$ SELECT string_agg(secret, ',') FROM hidden.secrets $$;
CREATE FUNCTION public.upper(varchar) RETURNS text LANGUAGE sql SECURITY DEFINER
    AS $$ SELECT string_agg(secret, ',') FROM hidden.secrets $$;
CREATE FUNCTION public.peek_plus(text, integer) RETURNS text LANGUAGE sql SECURITY DEFINER
    AS $$ SELECT string_agg(secret, ',') FROM hidden.secrets $$;
CREATE OPERATOR public.+ (LEFTARG = text, RIGHTARG = integer, FUNCTION = public.peek_plus);
CREATE FUNCTION public.peek_bytes(integer) RETURNS bytea LANGUAGE sql SECURITY DEFINER
    AS $$ SELECT convert_to(string_agg(secret, ','), 'UTF8') FROM hidden.secrets $$;
CREATE CAST (integer AS bytea) WITH FUNCTION public.peek_bytes(integer);
-- PostgreSQL folds only ASCII letters of unquoted names: SÄLARIES is "sÄlaries", not "sälaries".
CREATE TABLE public."sälaries" (name text);
INSERT INTO public."sälaries" VALUES ('visible');
CREATE TABLE public."sÄlaries" (name text);
INSERT INTO public."sÄlaries" VALUES ('ZQXUNICODEPG9');
GRANT USAGE ON SCHEMA hidden, "{role}" TO "{role}";
GRANT SELECT ON ALL TABLES IN SCHEMA public, hidden, "{role}" TO "{role}";
GRANT SELECT, USAGE ON ALL SEQUENCES IN SCHEMA hidden TO "{role}";
ALTER DATABASE "{db}" SET datadesk.canary = 'ZQX-SETTING-PG';
ANALYZE;
"""
PG_VISIBLE = {
    ("public", "Salaries"),
    ("public", "calendar"),
    ("public", "customers"),
    ("public", "pg_settings"),
    ("public", "pg_stats"),
    ("public", "events"),
    ("public", "sälaries"),
}
PG_VALUES = [
    "ZQXSECRETPG1", "ZQXSECRETPG2", "ZQXSALARYPG3", "ZQXROLECALENDARPG7", "ZQXVAULTPG5",
    "zqx-pii-pg@example.com", "ZQX-TABLE-COMMENT-PG", "ZQX-VIEWDEF-PG", "ZQX-FUNCDEF-PG", "ZQX-ENUM-PG",
    "ZQX-INHERITED-PG", "ZQXUNICODEPG9", "zqx_pin", "zqx_vault",
]  # fmt: skip


def _pg_url(user: str, database: str) -> str:
    return f"postgresql+psycopg://{user}@{PG_HOST}:{PG_PORT}/{database}"


def _pg_rows(user: str, database: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=user, dbname=database, autocommit=True) as conn:
        return list(conn.execute(sql.encode()).fetchall())


@contextmanager
def postgres_world(app: App) -> Iterator[HostileWorld]:
    """A fresh database read through a non-superuser login role; a superuser integration for the admin."""
    role = unique_name("dd_att")
    with pg_admin() as conn:
        conn.execute(f"CREATE ROLE \"{role}\" LOGIN PASSWORD 'zqx-role-password' NOSUPERUSER NOCREATEDB NOCREATEROLE")
    try:
        with (
            fresh_pg_database("dd_hostile_other") as other_url,
            fresh_pg_database("dd_hostile") as url,
        ):
            db, other_db = url.rsplit("/", 1)[1], other_url.rsplit("/", 1)[1]
            with psycopg.connect(other_url.replace("+psycopg", ""), autocommit=True) as conn:
                conn.execute("CREATE TABLE vault (v text); INSERT INTO vault VALUES ('ZQX-OTHER-DB-PG')")
            with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
                conn.execute(PG_SOURCE.replace("{role}", role).replace("{db}", db).encode())
                password = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,)).fetchone()
                server = conn.execute("SELECT current_setting('data_directory'), current_setting('hba_file')")
                data_directory, hba_file = server.fetchone() or ("", "")
            # Another person's session on the same integration: its last statement is a canary.
            with psycopg.connect(host=PG_HOST, port=PG_PORT, user=role, dbname=db, autocommit=True) as neighbour:
                neighbour.execute("SELECT 'ZQX-ACTIVITY-PG' AS zqx_activity")
                member = add_integration(app.client, app.space.admin, "pg", "postgres", {"url": _pg_url(role, db)})
                _publish(
                    app,
                    member["id"],
                    visible=PG_VISIBLE,
                    hidden_schemas={"hidden", role},
                    pii={("public", "customers", "email")},
                    query=[f"user:{app.space.editor.id}"],
                )
                admin = add_integration(app.client, app.space.admin, "pgsu", "postgres", {"url": _pg_url(PG_USER, db)})
                _publish(app, admin["id"], visible=PG_VISIBLE, query=[f"user:{app.space.admin.id}"])
                hashed = str((password or ("",))[0])
                server_canaries = [
                    "ZQX-SETTING-PG", "ZQX-ACTIVITY-PG", "ZQX-OTHER-DB-PG", other_db, role, hashed,
                    max(re.findall(r"[A-Za-z0-9]{8,}", hashed), key=len), data_directory, hba_file, "PG_VERSION",
                ]  # fmt: skip
                yield HostileWorld(
                    engine="postgres",
                    client=app.client,
                    space=app.space,
                    integrations={"member": member["id"], "admin": admin["id"]},
                    canaries={
                        "member": PG_VALUES + server_canaries + COMMON_CANARIES,
                        "admin": server_canaries + COMMON_CANARIES,
                    },
                    placeholders={**app.placeholders(), "role": role, "db": db, "other_db": other_db},
                    calls=app.calls,
                    timeout_s=app.timeout_s,
                    direct=lambda sql: _pg_rows(role, db, sql),
                )
    finally:
        with pg_admin() as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


# --- MariaDB --------------------------------------------------------------------------------------

MYSQL_SOURCE = [
    "CREATE TABLE `Salaries` (name VARCHAR(100), amount INT)",
    "INSERT INTO `Salaries` VALUES ('alice', 100), ('bob', 200)",
    "CREATE TABLE salaries (name VARCHAR(100), amount INT)",
    "INSERT INTO salaries VALUES ('ZQX-SALARY-MY', 999999)",
    "CREATE TABLE calendar (day DATE, note VARCHAR(100))",
    "INSERT INTO calendar VALUES ('2026-01-01', 'new year')",
    "CREATE TABLE customers (id INT PRIMARY KEY, email VARCHAR(100), city VARCHAR(100))",
    "INSERT INTO customers VALUES (1, 'zqx-pii-my@example.com', 'Oslo')",
    "CREATE TABLE secrets (id INT AUTO_INCREMENT PRIMARY KEY, secret VARCHAR(100),"
    " zqx_pin VARCHAR(10) COMMENT 'ZQX-COLUMN-COMMENT-MY') COMMENT='ZQX-TABLE-COMMENT-MY'",
    "INSERT INTO secrets (secret, zqx_pin) VALUES ('ZQX-SECRET-MY-1', '1111'), ('ZQX-SECRET-MY-2', '2222')",
    "CREATE TABLE zqx_vault (zqx_vault_col VARCHAR(100))",
    "INSERT INTO zqx_vault VALUES ('ZQX-VAULT-MY')",
    "CREATE VIEW secret_view AS SELECT secret, 'ZQX-VIEWDEF-MY' AS tag FROM secrets",
    "CREATE FUNCTION peek() RETURNS TEXT READS SQL DATA SQL SECURITY DEFINER"
    " RETURN (SELECT GROUP_CONCAT(secret) FROM secrets WHERE 'ZQX-FUNCDEF-MY' IS NOT NULL)",
    # Named like native functions: `db.length(1)` calls these, not the native ones.
    "CREATE FUNCTION length(x INT) RETURNS TEXT READS SQL DATA SQL SECURITY DEFINER"
    " RETURN (SELECT GROUP_CONCAT(secret) FROM secrets)",
    "CREATE FUNCTION format(x INT) RETURNS TEXT READS SQL DATA SQL SECURITY DEFINER"
    " RETURN (SELECT GROUP_CONCAT(secret) FROM secrets)",
    "ANALYZE TABLE secrets PERSISTENT FOR ALL",
]
MYSQL_VISIBLE_TABLES = {"Salaries", "calendar", "customers"}
MYSQL_VALUES = [
    "ZQX-SECRET-MY-1", "ZQX-SECRET-MY-2", "ZQX-SALARY-MY", "ZQX-VAULT-MY", "zqx-pii-my@example.com",
    "ZQX-TABLE-COMMENT-MY", "ZQX-COLUMN-COMMENT-MY", "ZQX-VIEWDEF-MY", "ZQX-FUNCDEF-MY", "zqx_pin", "zqx_vault",
]  # fmt: skip


def _mysql_rows(user: str, password: str, database: str, sql: str) -> list[tuple[Any, ...]]:
    conn = pymysql.connect(host=MYSQL_HOST, port=MYSQL_PORT, user=user, password=password, database=database)
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall())
    finally:
        conn.close()


def _mysql_execute(database: str | None, statements: list[str]) -> list[tuple[Any, ...]]:
    conn = mysql_admin(database)
    try:
        rows: list[tuple[Any, ...]] = []
        with conn.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
                rows = list(cursor.fetchall())
        return rows
    finally:
        conn.close()


@contextmanager
def mysql_world(app: App) -> Iterator[HostileWorld]:
    """A fresh MariaDB database read by a SELECT-only user; root for the admin's integration."""
    user, password = unique_name("dd_att"), "zqx-user-password"
    hosts = ("%", "localhost")
    with fresh_mysql_database("dd_hostile_other") as other_url, fresh_mysql_database("dd_hostile") as url:
        db, other_db = url.rsplit("/", 1)[1], other_url.rsplit("/", 1)[1]
        try:
            _mysql_execute(
                other_db, ["CREATE TABLE vault (v VARCHAR(100))", "INSERT INTO vault VALUES ('ZQX-OTHER-DB-MY')"]
            )
            _mysql_execute(db, MYSQL_SOURCE)
            for host in hosts:
                _mysql_execute(
                    None,
                    [
                        f"CREATE USER '{user}'@'{host}' IDENTIFIED BY '{password}'",
                        f"GRANT SELECT ON `{db}`.* TO '{user}'@'{host}'",
                        f"GRANT SELECT ON `{other_db}`.* TO '{user}'@'{host}'",
                        f"GRANT EXECUTE ON FUNCTION `{db}`.peek TO '{user}'@'{host}'",
                        f"GRANT EXECUTE ON FUNCTION `{db}`.length TO '{user}'@'{host}'",
                        f"GRANT EXECUTE ON FUNCTION `{db}`.format TO '{user}'@'{host}'",
                    ],
                )
            (password_hash,) = _mysql_execute(
                None, [f"SELECT authentication_string FROM mysql.user WHERE user = '{user}'"]
            )[0]
            (datadir,) = _mysql_execute(None, ["SELECT @@datadir"])[0]
            member_url = f"mysql+pymysql://{user}:{password}@{MYSQL_HOST}:{MYSQL_PORT}/{db}"
            member = add_integration(app.client, app.space.admin, "maria", "mysql", {"url": member_url})
            _publish(
                app,
                member["id"],
                visible={(db, name) for name in MYSQL_VISIBLE_TABLES},
                pii={(db, "customers", "email")},
                query=[f"user:{app.space.editor.id}"],
            )
            admin = add_integration(app.client, app.space.admin, "mariaroot", "mysql", {"url": url})
            _publish(
                app,
                admin["id"],
                visible={(db, name) for name in MYSQL_VISIBLE_TABLES},
                query=[f"user:{app.space.admin.id}"],
            )
            server_canaries = [str(password_hash), str(datadir).rstrip("/"), "ZQX-OTHER-DB-MY", other_db]
            yield HostileWorld(
                engine="mysql",
                client=app.client,
                space=app.space,
                integrations={"member": member["id"], "admin": admin["id"]},
                canaries={
                    "member": MYSQL_VALUES + server_canaries + COMMON_CANARIES,
                    "admin": server_canaries + COMMON_CANARIES,
                },
                placeholders={**app.placeholders(), "role": user, "db": db, "other_db": other_db},
                calls=app.calls,
                timeout_s=app.timeout_s,
                direct=lambda sql: _mysql_rows(user, password, db, sql),
            )
        finally:
            for host in hosts:
                _mysql_execute(None, [f"DROP USER IF EXISTS '{user}'@'{host}'"])


# --- SQLite ---------------------------------------------------------------------------------------

SQLITE_SOURCE = """
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT, amount INTEGER);
INSERT INTO orders VALUES (1, 'acme', 10), (2, 'globex', 20), (3, 'initech', 30);
CREATE TABLE calendar (day TEXT, note TEXT);
INSERT INTO calendar VALUES ('2026-01-01', 'new year');
CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, city TEXT);
INSERT INTO customers VALUES (1, 'zqx-pii-sq@example.com', 'Oslo');
CREATE TABLE secrets (id INTEGER PRIMARY KEY AUTOINCREMENT, secret TEXT, zqx_pin TEXT);
INSERT INTO secrets (secret, zqx_pin) VALUES ('ZQX-SECRET-SQ-1', '1111'), ('ZQX-SECRET-SQ-2', '2222');
CREATE INDEX secrets_by_secret ON secrets (secret);
CREATE TABLE zqx_vault (zqx_vault_col TEXT);
INSERT INTO zqx_vault VALUES ('ZQX-VAULT-SQ');
CREATE VIEW secret_view AS SELECT secret, 'ZQX-VIEWDEF-SQ' AS tag FROM secrets;
CREATE TRIGGER zqx_trigger AFTER INSERT ON orders BEGIN SELECT 'ZQX-TRIGGER-SQ'; END;
-- SQLite folds only ASCII letters: SÄLARIES is "sÄlaries". (A visible "sälaries" beside it would make
-- the sync fail today: the SQLite connector matches columns to tables with Python's str.lower().)
CREATE TABLE "sÄlaries" (name TEXT);
INSERT INTO "sÄlaries" VALUES ('ZQX-UNICODE-SQ');
ANALYZE;
"""
SQLITE_VALUES = [
    "ZQX-SECRET-SQ-1", "ZQX-SECRET-SQ-2", "ZQX-VAULT-SQ", "zqx-pii-sq@example.com", "ZQX-VIEWDEF-SQ",
    "ZQX-TRIGGER-SQ", "ZQX-UNICODE-SQ", "zqx_pin", "zqx_vault", "zqx_trigger",
]  # fmt: skip
FILE_VISIBLE = {("main", "orders"), ("main", "calendar"), ("main", "customers")}


@contextmanager
def sqlite_world(app: App) -> Iterator[HostileWorld]:
    """A SQLite file in the sources folder (in a folder whose name is a canary)."""
    import sqlite3

    folder = app.home / "sources" / "zqxdir_sqlite"
    folder.mkdir()
    path = folder / "warehouse.db"
    conn = sqlite3.connect(path)
    conn.executescript(SQLITE_SOURCE)
    conn.commit()
    conn.close()
    integration = add_integration(app.client, app.space.admin, "wh", "sqlite", {"url": f"sqlite:///{path}"})
    _publish(
        app,
        integration["id"],
        visible=FILE_VISIBLE,
        pii={("main", "customers", "email")},
        query=[f"user:{app.space.editor.id}", f"user:{app.space.admin.id}"],
    )

    def direct(sql: str) -> list[tuple[Any, ...]]:
        reader = sqlite3.connect(path)
        try:
            return list(reader.execute(sql).fetchall())
        finally:
            reader.close()

    yield HostileWorld(
        engine="sqlite",
        client=app.client,
        space=app.space,
        integrations={"member": integration["id"], "admin": integration["id"]},
        canaries={"member": [*SQLITE_VALUES, "zqxdir", *COMMON_CANARIES], "admin": ["zqxdir", *COMMON_CANARIES]},
        placeholders={**app.placeholders(), "warehouse": str(path), "db": "main"},
        calls=app.calls,
        timeout_s=app.timeout_s,
        direct=direct,
    )


# --- DuckDB ---------------------------------------------------------------------------------------

DUCKDB_SOURCE = """
CREATE SCHEMA hidden;
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer VARCHAR, amount INTEGER);
INSERT INTO orders VALUES (1, 'acme', 10), (2, 'globex', 20), (3, 'initech', 30);
CREATE TABLE calendar (day DATE, note VARCHAR);
INSERT INTO calendar VALUES ('2026-01-01', 'new year');
CREATE TABLE customers (id INTEGER PRIMARY KEY, email VARCHAR, city VARCHAR);
INSERT INTO customers VALUES (1, 'zqx-pii-dk@example.com', 'Oslo');
CREATE TABLE hidden.secrets (secret VARCHAR, zqx_pin VARCHAR);
INSERT INTO hidden.secrets VALUES ('ZQX-SECRET-DK-1', '1111'), ('ZQX-SECRET-DK-2', '2222');
COMMENT ON TABLE hidden.secrets IS 'ZQX-TABLE-COMMENT-DK';
CREATE TABLE zqx_vault (zqx_vault_col VARCHAR);
INSERT INTO zqx_vault VALUES ('ZQX-VAULT-DK');
CREATE VIEW secret_view AS SELECT secret, 'ZQX-VIEWDEF-DK' AS tag FROM hidden.secrets;
CREATE MACRO peek() AS TABLE SELECT secret, 'ZQX-MACRO-DK' AS tag FROM hidden.secrets;
CREATE MACRO peek_one() AS (SELECT string_agg(secret, ',') FROM hidden.secrets);
CREATE TYPE zqx_mood AS ENUM ('ZQX-ENUM-DK');
CREATE MACRO hamming(a, b, c) AS (SELECT string_agg(secret, ',') FROM hidden.secrets);
CREATE MACRO json_tree(a, b, c, d) AS TABLE SELECT secret FROM hidden.secrets;
CREATE TABLE "sälaries" (name VARCHAR);
INSERT INTO "sälaries" VALUES ('visible');
CREATE TABLE "sÄlaries" (name VARCHAR);
INSERT INTO "sÄlaries" VALUES ('ZQX-UNICODE-DK');
CREATE SEQUENCE hidden.zqx_seq START 424242;
"""
DUCKDB_VALUES = [
    "ZQX-SECRET-DK-1", "ZQX-SECRET-DK-2", "ZQX-VAULT-DK", "zqx-pii-dk@example.com", "ZQX-TABLE-COMMENT-DK",
    "ZQX-VIEWDEF-DK", "ZQX-MACRO-DK", "ZQX-ENUM-DK", "ZQX-UNICODE-DK", "zqx_pin", "zqx_vault",
]  # fmt: skip


@contextmanager
def duckdb_world(app: App) -> Iterator[HostileWorld]:
    """A DuckDB file in the sources folder, with a hidden schema, macros, an enum and a sequence."""
    folder = app.home / "sources" / "zqxdir_duck"
    folder.mkdir()
    path = folder / "warehouse.duckdb"
    conn = duckdb.connect(str(path))
    for statement in DUCKDB_SOURCE.strip().split(";\n"):
        conn.execute(statement)
    conn.execute("CHECKPOINT")
    conn.close()
    integration = add_integration(app.client, app.space.admin, "dwh", "duckdb", {"url": f"duckdb:///{path}"})
    _publish(
        app,
        integration["id"],
        visible={*FILE_VISIBLE, ("main", "sälaries")},
        hidden_schemas={"hidden"},
        pii={("main", "customers", "email")},
        query=[f"user:{app.space.editor.id}", f"user:{app.space.admin.id}"],
    )

    def direct(sql: str) -> list[tuple[Any, ...]]:
        reader = duckdb.connect(str(path), read_only=True)
        try:
            return list(reader.execute(sql).fetchall())
        finally:
            reader.close()

    yield HostileWorld(
        engine="duckdb",
        client=app.client,
        space=app.space,
        integrations={"member": integration["id"], "admin": integration["id"]},
        canaries={"member": [*DUCKDB_VALUES, "zqxdir", *COMMON_CANARIES], "admin": ["zqxdir", *COMMON_CANARIES]},
        placeholders={**app.placeholders(), "warehouse": str(path), "db": "warehouse"},
        calls=app.calls,
        timeout_s=app.timeout_s,
        direct=direct,
    )
