"""Each engine's execution of one statement: connected read-only, time-limited, its rows drained into a Collector.

This is the second wall behind `guard.check`: even a statement that slipped past the guard meets the engine's
own read-only mode (and, where the engine has one, a single-statement protocol). Each run opens its own
connection, always rolls back and always closes it. Read-only modes stop writes to tables, not what a
privileged account may do through functions (PostgreSQL superusers' pg_read_file, MariaDB's LOAD_FILE, INTO
OUTFILE or SET GLOBAL): the guard refuses those, and integrations should still connect as a read-only user.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg
import pymysql
import pymysql.cursors
from pymysql.constants import FIELD_TYPE
from sqlalchemy.engine import URL

from datadesk.errors import DomainError
from datadesk.sql import pg_types
from datadesk.sql.checked import SqlNotAllowed
from datadesk.sql.values import Collector


class SqlError(DomainError):
    """The database refused or failed the query; the message is the driver's, first line only."""

    status = 400
    code = "sql_error"


class SqlTimeout(DomainError):
    """The query ran past its time limit and was cancelled on the server.

    400, not 504: the query is too expensive for the configured limit; retrying won't help, and
    nothing upstream failed.
    """

    status = 400
    code = "sql_timeout"


@dataclass
class Fetched:
    """What an engine reports beside the rows: the driver's column description and each column's type."""

    description: Sequence[Sequence[Any]] | None
    types: list[str]
    types_known: bool = True


def clean_error(error: BaseException | str, url: URL) -> str:
    """The first line of a driver message, never the URL or the password."""
    text = str(error).strip()
    line = next((part.strip() for part in text.splitlines() if part.strip()), "") or type(error).__name__
    for secret in (url.render_as_string(hide_password=False), url.password):
        if secret:
            line = line.replace(str(secret), "***")
    return line[:500]


class _Watchdog:
    """Calls `cancel` once if the block is still running after `seconds`."""

    def __init__(self, seconds: float, cancel: Callable[[], object]) -> None:
        self.fired = False
        self._cancel = cancel
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        self.fired = True
        with contextlib.suppress(Exception):  # the query may have just finished: nothing to cancel
            self._cancel()

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._timer.cancel()


# --- PostgreSQL -------------------------------------------------------------------------------------

_EXPLAIN = re.compile(r"\s*EXPLAIN\b", re.IGNORECASE)


def pg_params(url: URL, timeout_s: float) -> dict[str, Any]:
    """psycopg connection parameters for a URL, the URL's own query settings kept."""
    params: dict[str, Any] = {
        "host": url.host,
        "port": url.port,
        "user": url.username,
        "password": url.password,
        "dbname": url.database,
        "connect_timeout": max(1, math.ceil(min(timeout_s, 10))),
        "application_name": "datadesk",
    }
    params.update({key: value if isinstance(value, str) else value[-1] for key, value in url.query.items()})
    return {key: value for key, value in params.items() if value is not None}


# Casts are looked up in pg_cast whatever the search path, and one a database defines runs its own
# function. Casts of installed extensions (PostGIS, citext) are the DBA's and trusted; others refuse
# what they could reach: a query with an explicit cast, or every query if the cast is implicit.
_USER_CASTS = """
SELECT c.castcontext FROM pg_catalog.pg_cast c JOIN pg_catalog.pg_proc p ON p.oid = c.castfunc
WHERE p.pronamespace <> 'pg_catalog'::pg_catalog.regnamespace AND NOT EXISTS (
    SELECT 1 FROM pg_catalog.pg_depend d
    WHERE d.classid = 'pg_catalog.pg_cast'::pg_catalog.regclass AND d.objid = c.oid AND d.deptype = 'e')
"""
_EXPLICIT_CAST = re.compile(r"::|\bCAST\s*\(|\bCONVERT\s*\(", re.IGNORECASE)


def _refuse_user_casts(conn: psycopg.Connection[Any], sql: str) -> None:
    contexts = {str(row[0]) for row in conn.execute(_USER_CASTS).fetchall()}
    if contexts - {"e"} or (contexts and _EXPLICIT_CAST.search(sql)):
        raise SqlNotAllowed(
            "This database defines casts of its own, which run its own functions; queries that could use them "
            "cannot be run."
        )


def run_postgres(url: URL, sql: str, collector: Collector, timeout_s: float, *, builtins_only: bool) -> Fetched:
    """Run in a READ ONLY transaction under statement_timeout, through a server-side cursor."""
    params = pg_params(url, timeout_s)
    try:
        conn = psycopg.connect(**params)
    except psycopg.Error as exc:
        raise SqlError(f"Could not connect to the database: {clean_error(exc, url)}") from None
    # statement_timeout cancels on the server; the watchdog is a backstop for poolers that drop it.
    watchdog = _Watchdog(timeout_s + 1.0, conn.cancel_safe)
    try:
        conn.read_only = True  # psycopg opens the transaction with BEGIN READ ONLY
        conn.execute(f"SET LOCAL statement_timeout = {max(1, int(timeout_s * 1000))}")
        # The guard assumes standard strings; a server set otherwise would read backslashes differently.
        conn.execute("SET LOCAL standard_conforming_strings = on")
        if builtins_only:
            conn.execute("SET LOCAL search_path = pg_catalog")
        _refuse_user_casts(conn, sql)
        with watchdog:
            if _EXPLAIN.match(sql):
                cursor: psycopg.Cursor[Any] = conn.cursor()
                cursor.execute(sql, prepare=True)  # extended protocol: one statement only
            else:
                # A server-side cursor (DECLARE … FOR) takes only one SELECT/VALUES, and FETCH keeps
                # the rows on the server beyond the cap.
                cursor = conn.cursor(name="datadesk_run")
                cursor.execute(sql)
            description = cursor.description
            collector.drain(cursor.fetchmany)
            types = pg_types.names(cursor, description or [])  # same read-only transaction, after the rows
        return Fetched(description=description, types=types)
    except psycopg.errors.QueryCanceled:
        raise SqlTimeout(f"The query ran longer than {timeout_s:g} s and was cancelled.") from None
    except psycopg.Error as exc:
        if watchdog.fired:
            raise SqlTimeout(f"The query ran longer than {timeout_s:g} s and was cancelled.") from None
        raise SqlError(clean_error(exc, url)) from None
    finally:
        with contextlib.suppress(psycopg.Error):
            conn.rollback()
        conn.close()


# --- MySQL / MariaDB --------------------------------------------------------------------------------

_MYSQL_TYPES: dict[int, str] = {}
for _name, _code in vars(FIELD_TYPE).items():
    if _name.isupper():
        _MYSQL_TYPES.setdefault(_code, _name)
# max_statement_time (MariaDB), max_execution_time (MySQL), KILL QUERY, lost connection on read timeout
_MYSQL_TIMEOUT_ERRORS = {1969, 3024, 1317, 2013}


def mysql_params(url: URL, timeout_s: float) -> dict[str, Any]:
    """PyMySQL connection parameters for a URL: one statement per call, no autocommit."""
    params: dict[str, Any] = {
        "host": url.host or "localhost",
        "port": url.port or 3306,
        "user": url.username or "",
        "password": url.password or "",
        "database": url.database,
        "connect_timeout": max(1, math.ceil(min(timeout_s, 10))),
        "read_timeout": math.ceil(timeout_s) + 10,
        "charset": "utf8mb4",
        "client_flag": 0,  # no CLIENT_MULTI_STATEMENTS: the server takes one statement per call
        "autocommit": False,
    }
    for key in ("unix_socket", "charset"):
        value = url.query.get(key)
        if value:
            params[key] = value if isinstance(value, str) else value[-1]
    return params


def run_mysql(url: URL, sql: str, collector: Collector, timeout_s: float) -> Fetched:
    """Run in a READ ONLY session and transaction under the server's statement time limit, unbuffered."""
    params = mysql_params(url, timeout_s)
    try:
        conn = pymysql.connect(**params)
    except pymysql.MySQLError as exc:
        raise SqlError(f"Could not connect to the database: {clean_error(mysql_message(exc), url)}") from None
    thread_id = conn.thread_id()

    def kill() -> None:
        killer = pymysql.connect(**{**params, "autocommit": True})
        try:
            with killer.cursor() as cursor:
                cursor.execute("KILL QUERY %s", (thread_id,))
        finally:
            killer.close()

    watchdog = _Watchdog(timeout_s + 1.0, kill)
    try:
        with conn.cursor() as setup:
            setup.execute("SELECT VERSION()")
            version = str((setup.fetchone() or ("",))[0])
            if "mariadb" in version.lower():
                setup.execute("SET SESSION max_statement_time = %s", (timeout_s,))
            else:
                setup.execute("SET SESSION max_execution_time = %s", (max(1, int(timeout_s * 1000)),))
            # Session-wide too: MariaDB runs DDL after an implicit commit, outside a READ ONLY transaction.
            setup.execute("SET SESSION TRANSACTION READ ONLY")
            setup.execute("START TRANSACTION READ ONLY")
        with watchdog:
            cursor = conn.cursor(pymysql.cursors.SSCursor)  # unbuffered: rows beyond the cap stay unread
            cursor.execute(sql)
            description = cursor.description
            collector.drain(cursor.fetchmany)
        if collector.truncated:
            # More may follow. Stop the query on the server instead of reading every row; closing
            # the cursor then only drains what is already in flight, up to the interruption.
            with contextlib.suppress(pymysql.MySQLError):
                kill()
        with contextlib.suppress(pymysql.MySQLError):
            cursor.close()
        types = [_MYSQL_TYPES.get(column[1], str(column[1])) for column in description or []]
        return Fetched(description=description, types=types)
    except pymysql.MySQLError as exc:
        if watchdog.fired or _mysql_code(exc) in _MYSQL_TIMEOUT_ERRORS:
            raise SqlTimeout(f"The query ran longer than {timeout_s:g} s and was cancelled.") from None
        raise SqlError(clean_error(mysql_message(exc), url)) from None
    finally:
        with contextlib.suppress(pymysql.MySQLError):
            conn.rollback()
        with contextlib.suppress(pymysql.MySQLError):
            conn.close()


def _mysql_code(exc: pymysql.MySQLError) -> int | None:
    return exc.args[0] if exc.args and isinstance(exc.args[0], int) else None


def mysql_message(exc: pymysql.MySQLError) -> str:
    """The server's message of a PyMySQL error, without its code."""
    return str(exc.args[1]) if len(exc.args) > 1 else str(exc)


# --- SQLite -----------------------------------------------------------------------------------------

_SQLITE_ALLOWED_ACTIONS = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    sqlite3.SQLITE_RECURSIVE,
}
_SQLITE_DENIED_FUNCTIONS = {"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer", "fsdir", "zipfile"}
SQLITE_MAX_VALUE = 4_000_000
_SQLITE_TYPES = {int: "INTEGER", float: "REAL", str: "TEXT", bytes: "BLOB"}


def _sqlite_authorizer(action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None) -> int:
    """Let a statement only read: any write, pragma, attach or transaction is refused by SQLite itself."""
    if action not in _SQLITE_ALLOWED_ACTIONS:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _SQLITE_DENIED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def run_sqlite(url: URL, sql: str, collector: Collector, timeout_s: float) -> Fetched:
    """Run on the file opened read-only, behind an authorizer that lets a statement only read."""
    if not url.database or url.database == ":memory:":
        raise SqlError("A SQLite integration needs a database file.")
    uri = Path(url.database).expanduser().resolve().as_uri() + "?mode=ro"
    deadline = time.monotonic() + timeout_s
    expired = False

    def progress() -> int:
        nonlocal expired
        expired = time.monotonic() > deadline
        return int(expired)  # non-zero interrupts the statement

    try:
        conn = sqlite3.connect(uri, uri=True, timeout=min(timeout_s, 5.0), isolation_level=None)
    except sqlite3.Error as exc:
        raise SqlError(f"Could not open the database: {clean_error(exc, url)}") from None
    try:
        conn.execute("PRAGMA query_only = ON")
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        # No value (nor any string built on the way) may pass this: SQLite runs in the server's memory.
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, SQLITE_MAX_VALUE)
        conn.set_authorizer(_sqlite_authorizer)
        conn.set_progress_handler(progress, 1000)
        cursor = conn.execute(sql)  # sqlite3 refuses a second statement on its own
        collector.drain(cursor.fetchmany)
        description = cursor.description
        firsts = collector.first_types + [None] * len(description or [])
        types = [_sqlite_type(firsts[index]) for index in range(len(description or []))]
        return Fetched(description=description, types=types, types_known=False)
    except sqlite3.Error as exc:
        if expired:
            raise SqlTimeout(f"The query ran longer than {timeout_s:g} s and was cancelled.") from None
        raise SqlError(clean_error(exc, url)) from None
    except sqlite3.Warning as exc:  # "You can only execute one statement at a time."
        raise SqlError(clean_error(exc, url)) from None
    finally:
        with contextlib.suppress(sqlite3.Error):
            conn.rollback()
        conn.close()


def _sqlite_type(kind: type | None) -> str:
    """SQLite has no result column types; name the storage class of the first value that has one."""
    if kind is None:
        return "NULL"
    return _SQLITE_TYPES.get(kind, kind.__name__.upper())


# --- DuckDB -----------------------------------------------------------------------------------------


_spare_lock = threading.Lock()
_spare: subprocess.Popen[str] | None = None


def _spawn_duckdb_child() -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "datadesk.sql.duckdb_child"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        encoding="utf-8",
    )


def _duckdb_child() -> subprocess.Popen[str]:
    """A child for one query: the spare, which started (and imported DuckDB) while no query waited, if alive.

    Each query takes the spare and leaves a new one starting, so it does not wait ~0.1 s for an interpreter.
    The spare holds nothing until it is given a query; it ends when this process does (its stdin closes).
    """
    global _spare
    with _spare_lock:
        child, _spare = _spare, _spawn_duckdb_child()
    if child is None or child.poll() is not None:
        child = _spawn_duckdb_child()
    return child


def run_duckdb(url: URL, sql: str, collector: Collector, timeout_s: float, *, builtins_only: bool) -> Fetched:
    """Run in a child process (see duckdb_child): DuckDB's memory for huge values is not the server's."""
    if not url.database or url.database == ":memory:":
        raise SqlError("A DuckDB integration needs a database file.")
    child = _duckdb_child()
    assert child.stdin is not None and child.stdout is not None
    stdout = child.stdout
    watchdog = _Watchdog(timeout_s, child.kill)
    done = False

    def read() -> Any:
        line = stdout.readline()
        if not line:
            if watchdog.fired:
                raise SqlTimeout(f"The query ran longer than {timeout_s:g} s and was cancelled.")
            raise SqlError("The query stopped unexpectedly.")
        item = json.loads(line)
        if isinstance(item, dict) and "error" in item:
            prefix = "Could not open the database: " if item["error"] == "open" else ""
            raise SqlError(prefix + clean_error(str(item["message"]), url))
        return item

    def fetchmany(size: int) -> list[list[Any]]:
        nonlocal done
        rows: list[list[Any]] = []
        while not done and len(rows) < size:
            item = read()
            if isinstance(item, dict):
                done = True
            else:
                rows.append(item)
        return rows

    try:
        with watchdog:
            child.stdin.write(json.dumps({"path": url.database, "sql": sql, "builtins_only": builtins_only}) + "\n")
            child.stdin.close()
            header = read()
            description = [(name, kind) for name, kind in header["columns"]]
            collector.drain(fetchmany)
        return Fetched(description=description, types=[kind for _, kind in description])
    except BrokenPipeError:
        raise SqlError("The query stopped unexpectedly.") from None
    finally:
        child.kill()
        child.wait()
        stdout.close()
