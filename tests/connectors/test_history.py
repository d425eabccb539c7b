"""Reading the sources' statement histories: pg_stat_statements and performance_schema, on real servers.

The shared servers have neither (PostgreSQL preloads nothing, MariaDB runs with performance_schema=0),
so they show the note a sync gives. Real reading runs against private servers this module starts once,
in temporary folders: a PostgreSQL preloading pg_stat_statements and a MariaDB with performance_schema on.
A missing binary fails these tests (Debian's postgresql and mariadb-server packages hold them).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pymysql
import pytest

from datadesk.connectors import history
from datadesk.connectors.mysql import MySQLConnector
from datadesk.connectors.postgres import PostgresConnector
from tests.dbs import fresh_mysql_database, fresh_pg_database, mysql_admin, unique_name
from tests.processes import free_port

# --- private servers, started once per module that asks -----------------------------------------------------


def _binary(name: str, *patterns: str) -> str:
    """The path of a server binary; fails (never skips) when it is not installed."""
    found = shutil.which(name) or next(
        (p for pattern in patterns for p in sorted(glob.glob(pattern), reverse=True)), None
    )
    assert found, f"{name} is not installed: the usage tests need Debian's postgresql and mariadb-server packages"
    return found


def _as(user: str) -> list[str]:
    """Servers refuse to run as root: as root, run them as their own system user."""
    return ["runuser", "-u", user, "--"] if os.geteuid() == 0 else []


def _private_dir(prefix: str, owner: str) -> Path:
    # Not under pytest's tmp_path: its folders are root's alone, and the server runs as another user.
    root = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        shutil.chown(root, owner)
    return root


@dataclass
class PrivatePostgres:
    """A PostgreSQL of this test run's own that preloads pg_stat_statements; trust auth on 127.0.0.1."""

    root: Path
    port: int
    pg_ctl: str

    def url(self, database: str, user: str = "postgres") -> str:
        return f"postgresql+psycopg://{user}@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres", user: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(host="127.0.0.1", port=self.port, user=user, dbname=database, autocommit=True)

    def database(self, setup: str = "") -> str:
        """A new database with pg_stat_statements installed and `setup` run in it; returns its name."""
        name = unique_name("dd_usage")
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        with self.connect(name) as conn:
            conn.execute("CREATE EXTENSION pg_stat_statements")
            if setup:
                conn.execute(setup)  # type: ignore[arg-type]
        return name

    def stop(self) -> None:
        subprocess.run(
            [*_as("postgres"), self.pg_ctl, "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres() -> PrivatePostgres:
    initdb = _binary("initdb", "/usr/lib/postgresql/*/bin/initdb")
    pg_ctl = _binary("pg_ctl", "/usr/lib/postgresql/*/bin/pg_ctl")
    root = _private_dir("dd-pg-", "postgres")
    data = root / "data"
    subprocess.run(
        [*_as("postgres"), initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"],
        capture_output=True,
        check=True,
    )
    port = free_port()
    options = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c shared_preload_libraries=pg_stat_statements"
        " -c fsync=off -c synchronous_commit=off"
    )
    started = subprocess.run(
        [*_as("postgres"), pg_ctl, "-D", str(data), "-l", str(root / "log"), "-w", "-t", "60", "-o", options, "start"],
        capture_output=True,
        text=True,
        check=False,
    )
    server = PrivatePostgres(root, port, pg_ctl)
    if started.returncode != 0:
        log = (root / "log").read_text() if (root / "log").exists() else ""
        server.stop()
        raise AssertionError(f"the private PostgreSQL did not start: {started.stderr}\n{log}")
    return server


@dataclass
class PrivateMariaDB:
    """A MariaDB of this test run's own with performance_schema on; root without a password on 127.0.0.1."""

    root: Path
    port: int
    process: subprocess.Popen[bytes]

    def url(self, database: str) -> str:
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str | None = None) -> pymysql.connections.Connection:
        return pymysql.connect(host="127.0.0.1", port=self.port, user="root", database=database, autocommit=True)

    def run(self, database: str | None, *statements: str) -> None:
        conn = self.connect(database)
        try:
            with conn.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
                    cursor.fetchall()
        finally:
            conn.close()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def start_mariadb() -> PrivateMariaDB:
    install = _binary("mariadb-install-db", "/usr/bin/mariadb-install-db", "/usr/bin/mysql_install_db")
    server = _binary("mariadbd", "/usr/sbin/mariadbd", "/usr/sbin/mysqld")
    root = _private_dir("dd-maria-", "mysql")
    user = ["--user=mysql"] if os.geteuid() == 0 else []
    subprocess.run(
        [
            install,
            "--no-defaults",
            f"--datadir={root / 'data'}",
            *user,
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ],
        capture_output=True,
        check=True,
    )
    port = free_port()
    process = subprocess.Popen(
        [
            server,
            "--no-defaults",
            f"--datadir={root / 'data'}",
            f"--socket={root / 'sock'}",
            f"--pid-file={root / 'pid'}",
            f"--log-error={root / 'error.log'}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            *user,
            "--performance-schema=ON",
            "--skip-log-bin",
            "--innodb-buffer-pool-size=32M",
            "--innodb-flush-log-at-trx-commit=0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    maria = PrivateMariaDB(root, port, process)
    deadline = time.monotonic() + 60
    while True:
        try:
            maria.connect().close()
            return maria
        except pymysql.Error:
            if process.poll() is not None or time.monotonic() > deadline:
                log = (root / "error.log").read_text() if (root / "error.log").exists() else ""
                maria.stop()
                raise AssertionError(f"the private MariaDB did not start:\n{log}") from None
            time.sleep(0.1)


@pytest.fixture(scope="module")
def private_pg() -> Iterator[PrivatePostgres]:
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def private_maria() -> Iterator[PrivateMariaDB]:
    server = start_mariadb()
    try:
        yield server
    finally:
        server.stop()


# --- the shared servers: no history, and the sync says so ---------------------------------------------------


def test_postgres_without_pg_stat_statements_says_so() -> None:
    with fresh_pg_database() as url:
        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute("CREATE TABLE orders (id int PRIMARY KEY)")
        snapshot = PostgresConnector(url).read()
    assert snapshot.statements == []
    assert snapshot.usage_note == history.PG_NOT_INSTALLED
    assert "not installed" in snapshot.usage_note and "only queries run through datadesk" in snapshot.usage_note
    assert [t.name for t in snapshot.tables] == ["orders"]


def test_postgres_with_the_extension_but_not_preloaded_says_so_and_reads_the_rest() -> None:
    """The failed read is rolled back to a savepoint: the catalog read's transaction goes on."""
    with fresh_pg_database() as url:
        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
            preloaded = conn.execute("SHOW shared_preload_libraries").fetchone()
            assert preloaded is not None and "pg_stat_statements" not in preloaded[0]
            conn.execute("CREATE EXTENSION pg_stat_statements")
            conn.execute("CREATE TABLE orders (id int PRIMARY KEY)")
        snapshot = PostgresConnector(url).read()
    assert snapshot.statements == []
    assert snapshot.usage_note == history.PG_NOT_LOADED
    assert [t.name for t in snapshot.tables] == ["orders"]  # pg_stat_statements' own view is the extension's


def test_mariadb_without_performance_schema_says_so() -> None:
    conn = mysql_admin()
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT @@performance_schema")
            row = cursor.fetchone()
            assert row is not None and not row[0], "the shared MariaDB was expected to run with performance_schema=0"
    finally:
        conn.close()
    with fresh_mysql_database() as url:
        conn = mysql_admin(url.rsplit("/", 1)[1])
        try:
            with conn.cursor() as cursor:
                cursor.execute("CREATE TABLE orders (id int PRIMARY KEY)")
        finally:
            conn.close()
        snapshot = MySQLConnector(url).read()
    assert snapshot.statements == []
    assert snapshot.usage_note == history.MY_OFF
    assert [t.name for t in snapshot.tables] == ["orders"]


# --- private servers: the real histories --------------------------------------------------------------------


def test_pg_stat_statements_gives_text_calls_users_and_reset(private_pg: PrivatePostgres) -> None:
    name = private_pg.database(
        "CREATE TABLE orders (id int PRIMARY KEY, total int);"
        " CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN; GRANT SELECT ON orders TO alice, bob;"
    )
    for user, times in (("alice", 3), ("bob", 2)):
        with private_pg.connect(name, user) as conn:
            for i in range(times):
                conn.execute("SELECT count(*) FROM orders WHERE total > %s", (i,))
    before = datetime.now(UTC)
    snapshot = PostgresConnector(private_pg.url(name)).read()
    assert snapshot.usage_note == ""
    counted = [s for s in snapshot.statements if "from orders where total" in s.text.lower()]
    assert sorted(s.calls for s in counted) == [2, 3]
    assert len({s.user for s in counted}) == 2 and all(s.user for s in counted)
    assert all("$1" in s.text for s in counted)  # pg_stat_statements keeps constants out of what it normalises
    assert all(s.since is not None and s.since <= before for s in counted)
    assert all(s.since is not None and before - s.since < timedelta(hours=1) for s in counted)


def test_pg_statements_of_other_databases_are_left_out(private_pg: PrivatePostgres) -> None:
    mine = private_pg.database("CREATE TABLE mine (id int)")
    theirs = private_pg.database("CREATE TABLE theirs (id int)")
    with private_pg.connect(theirs) as conn:
        conn.execute("SELECT * FROM theirs")
    snapshot = PostgresConnector(private_pg.url(mine)).read()
    assert snapshot.statements and not any("theirs" in s.text for s in snapshot.statements)


def test_pg_statements_hidden_from_the_sync_user_are_counted_in_the_note(private_pg: PrivatePostgres) -> None:
    name = private_pg.database(
        "CREATE TABLE orders (id int); CREATE ROLE reader LOGIN; GRANT SELECT ON orders TO reader"
    )
    with private_pg.connect(name) as conn:
        conn.execute("SELECT id FROM orders WHERE id = 7")
    snapshot = PostgresConnector(private_pg.url(name, "reader")).read()
    assert "hidden from the sync user" in snapshot.usage_note and "pg_read_all_stats" in snapshot.usage_note
    assert not any("where id" in s.text.lower() for s in snapshot.statements)


def test_performance_schema_digests_give_text_calls_schema_and_last_seen(private_maria: PrivateMariaDB) -> None:
    name = unique_name("dd_usage")
    private_maria.run(None, f"CREATE DATABASE `{name}`")
    private_maria.run(name, "CREATE TABLE orders (id int PRIMARY KEY, total int)")
    private_maria.run(name, *[f"SELECT count(*) FROM orders WHERE total > {i}" for i in range(4)])
    try:
        snapshot = MySQLConnector(private_maria.url(name)).read()
    finally:
        private_maria.run(None, f"DROP DATABASE `{name}`")
    assert snapshot.usage_note == ""
    counted = [s for s in snapshot.statements if s.schema == name and "`orders` WHERE" in s.text]
    assert len(counted) == 1
    statement = counted[0]
    assert statement.calls == 4 and statement.user is None
    assert "?" in statement.text and "> 3" not in statement.text  # digests replace literals
    assert statement.last_seen is not None and datetime.now(UTC) - statement.last_seen < timedelta(minutes=5)
    assert statement.since is not None and statement.since <= statement.last_seen


def test_performance_schema_without_the_digest_consumer_says_so(private_maria: PrivateMariaDB) -> None:
    name = unique_name("dd_usage")
    private_maria.run(None, f"CREATE DATABASE `{name}`")
    private_maria.run(
        None, "UPDATE performance_schema.setup_consumers SET ENABLED = 'NO' WHERE NAME = 'statements_digest'"
    )
    try:
        snapshot = MySQLConnector(private_maria.url(name)).read()
    finally:
        private_maria.run(
            None, "UPDATE performance_schema.setup_consumers SET ENABLED = 'YES' WHERE NAME = 'statements_digest'"
        )
        private_maria.run(None, f"DROP DATABASE `{name}`")
    assert snapshot.statements == [] and snapshot.usage_note == history.MY_NO_DIGESTS
