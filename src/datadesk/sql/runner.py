"""Run one query on an integration's database: read-only at the engine, time-limited, row-capped.

This is the second wall behind `guard.check`: even a statement that slipped past the guard meets
the engine's own read-only mode (and, where the engine has one, a single-statement protocol).
Each run opens its own connection, always rolls back and always closes it.

Read-only modes stop writes to tables, not what a privileged account may do through functions
(PostgreSQL superusers' pg_read_file, MariaDB's LOAD_FILE, INTO OUTFILE or SET GLOBAL). The guard
refuses those; integrations should still connect as a read-only database user.
"""

from __future__ import annotations

import base64
import contextlib
import math
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any, TypeAlias
from uuid import UUID

import duckdb
import psycopg
import pymysql
import pymysql.cursors
from pymysql.constants import FIELD_TYPE
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from datadesk.errors import DomainError

JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None

_DIALECT_OF_BACKEND = {
    "postgresql": "postgres",
    "mysql": "mysql",
    "mariadb": "mysql",
    "sqlite": "sqlite",
    "duckdb": "duckdb",
}
_SEVERAL = "Only one statement can be run at a time."


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
class RunResult:
    columns: list[dict[str, str]]  # [{"name": ..., "type": ...}]
    rows: list[list[JSONValue]]
    row_count: int
    truncated: bool
    duration_ms: int


@dataclass
class _Fetched:
    description: Sequence[Sequence[Any]] | None
    rows: Sequence[Sequence[Any]]
    types: list[str]


def dialect_of(url: str) -> str:
    """The guard dialect (`postgres`, `mysql`, `sqlite`, `duckdb`) for a SQLAlchemy URL."""
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        raise SqlError("The database URL is not valid.") from None
    if backend not in _DIALECT_OF_BACKEND:
        raise SqlError(f"Unsupported database type {backend!r}.")
    return _DIALECT_OF_BACKEND[backend]


def run(url: str, sql: str, *, max_rows: int = 1000, timeout_s: float = 30.0) -> RunResult:
    """Run one read-only statement; at most `max_rows` rows come back, `truncated` says if there were more."""
    if max_rows < 0 or not timeout_s > 0:
        raise ValueError("max_rows must be >= 0 and timeout_s > 0")
    dialect = dialect_of(url)
    parsed = make_url(url)
    engines: dict[str, Callable[[URL, str, int, float], _Fetched]] = {
        "postgres": _run_postgres,
        "mysql": _run_mysql,
        "sqlite": _run_sqlite,
        "duckdb": _run_duckdb,
    }
    started = time.monotonic()
    fetched = engines[dialect](parsed, sql, max_rows + 1, timeout_s)
    duration_ms = int((time.monotonic() - started) * 1000)
    names = [str(column[0]) for column in fetched.description or []]
    rows = [[to_json(value) for value in row] for row in fetched.rows[:max_rows]]
    return RunResult(
        columns=[{"name": name, "type": kind} for name, kind in zip(names, fetched.types, strict=True)],
        rows=rows,
        row_count=len(rows),
        truncated=len(fetched.rows) > max_rows,
        duration_ms=duration_ms,
    )


def to_json(value: object) -> JSONValue:
    """A JSON-safe form of a driver value.

    Decimals become strings (exact; a JSON number would be read as a float), bytes become base64,
    NaN and infinities become "NaN", "Infinity", "-Infinity", times ISO 8601, intervals str().
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date, clock_time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json(item) for item in value]
    return str(value)  # ranges, network addresses, enums and whatever else a driver invents


_QUOTED = re.compile(r"'(?:[^'\\]|\\.|'')*'?|\"(?:[^\"\\]|\\.|\"\")*\"?", re.DOTALL)
_NUMBER = re.compile(r"(?<!\w)(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(?!\w)")


def strip_literals(message: str) -> str:
    """The message with every quoted literal ('…' or "…") and every number replaced by `?`."""
    return _NUMBER.sub("?", _QUOTED.sub("?", message))


def _clean(error: BaseException | str, url: URL) -> str:
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


def _run_postgres(url: URL, sql: str, fetch: int, timeout_s: float) -> _Fetched:
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
    try:
        conn = psycopg.connect(**{key: value for key, value in params.items() if value is not None})
    except psycopg.Error as exc:
        raise SqlError(f"Could not connect to the database: {_clean(exc, url)}") from None
    # statement_timeout cancels on the server; the watchdog is a backstop for poolers that drop it.
    watchdog = _Watchdog(timeout_s + 1.0, conn.cancel_safe)
    try:
        conn.read_only = True  # psycopg opens the transaction with BEGIN READ ONLY
        conn.execute(f"SET LOCAL statement_timeout = {max(1, int(timeout_s * 1000))}")
        # The guard assumes standard strings; a server set otherwise would read backslashes differently.
        conn.execute("SET LOCAL standard_conforming_strings = on")
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
            rows = cursor.fetchmany(fetch)
        types = [column.type_display for column in description or []]
        return _Fetched(description=description, rows=list(rows), types=types)
    except psycopg.errors.QueryCanceled:
        raise SqlTimeout(f"The query ran longer than {timeout_s:g} s and was cancelled.") from None
    except psycopg.Error as exc:
        if watchdog.fired:
            raise SqlTimeout(f"The query ran longer than {timeout_s:g} s and was cancelled.") from None
        raise SqlError(_clean(exc, url)) from None
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


def _mysql_params(url: URL, timeout_s: float) -> dict[str, Any]:
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


def _run_mysql(url: URL, sql: str, fetch: int, timeout_s: float) -> _Fetched:
    params = _mysql_params(url, timeout_s)
    try:
        conn = pymysql.connect(**params)
    except pymysql.MySQLError as exc:
        raise SqlError(f"Could not connect to the database: {_clean(_mysql_message(exc), url)}") from None
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
            rows = list(cursor.fetchmany(fetch))
        if len(rows) >= fetch:
            # More may follow. Stop the query on the server instead of reading every row; closing
            # the cursor then only drains what is already in flight, up to the interruption.
            with contextlib.suppress(pymysql.MySQLError):
                kill()
        with contextlib.suppress(pymysql.MySQLError):
            cursor.close()
        types = [_MYSQL_TYPES.get(column[1], str(column[1])) for column in description or []]
        return _Fetched(description=description, rows=rows, types=types)
    except pymysql.MySQLError as exc:
        if watchdog.fired or _mysql_code(exc) in _MYSQL_TIMEOUT_ERRORS:
            raise SqlTimeout(f"The query ran longer than {timeout_s:g} s and was cancelled.") from None
        raise SqlError(_clean(_mysql_message(exc), url)) from None
    finally:
        with contextlib.suppress(pymysql.MySQLError):
            conn.rollback()
        with contextlib.suppress(pymysql.MySQLError):
            conn.close()


def _mysql_code(exc: pymysql.MySQLError) -> int | None:
    return exc.args[0] if exc.args and isinstance(exc.args[0], int) else None


def _mysql_message(exc: pymysql.MySQLError) -> str:
    return str(exc.args[1]) if len(exc.args) > 1 else str(exc)


# --- SQLite -----------------------------------------------------------------------------------------

_SQLITE_ALLOWED_ACTIONS = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    sqlite3.SQLITE_RECURSIVE,
}
_SQLITE_DENIED_FUNCTIONS = {"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer", "fsdir", "zipfile"}
_SQLITE_TYPES = {int: "INTEGER", float: "REAL", str: "TEXT", bytes: "BLOB"}


def _sqlite_authorizer(action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None) -> int:
    """Let a statement only read: any write, pragma, attach or transaction is refused by SQLite itself."""
    if action not in _SQLITE_ALLOWED_ACTIONS:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _SQLITE_DENIED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def _run_sqlite(url: URL, sql: str, fetch: int, timeout_s: float) -> _Fetched:
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
        raise SqlError(f"Could not open the database: {_clean(exc, url)}") from None
    try:
        conn.execute("PRAGMA query_only = ON")
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        conn.set_authorizer(_sqlite_authorizer)
        conn.set_progress_handler(progress, 1000)
        cursor = conn.execute(sql)  # sqlite3 refuses a second statement on its own
        rows = cursor.fetchmany(fetch)
        description = cursor.description
        types = [_sqlite_type([row[index] for row in rows]) for index in range(len(description or []))]
        return _Fetched(description=description, rows=rows, types=types)
    except sqlite3.Error as exc:
        if expired:
            raise SqlTimeout(f"The query ran longer than {timeout_s:g} s and was cancelled.") from None
        raise SqlError(_clean(exc, url)) from None
    except sqlite3.Warning as exc:  # "You can only execute one statement at a time."
        raise SqlError(_clean(exc, url)) from None
    finally:
        with contextlib.suppress(sqlite3.Error):
            conn.rollback()
        conn.close()


def _sqlite_type(values: list[Any]) -> str:
    """SQLite has no result column types; name the storage class of the first value that has one."""
    for value in values:
        if value is not None:
            return _SQLITE_TYPES.get(type(value), type(value).__name__.upper())
    return "NULL"


# --- DuckDB -----------------------------------------------------------------------------------------

_DUCKDB_CONFIG = {
    "enable_external_access": False,  # no files, URLs, ATTACH, COPY or extension installs
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "python_enable_replacements": False,  # never scan this process's Python variables as tables
    "lock_configuration": True,  # and no SET can undo any of it
}
_DUCKDB_READS = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}


def _run_duckdb(url: URL, sql: str, fetch: int, timeout_s: float) -> _Fetched:
    if not url.database or url.database == ":memory:":
        raise SqlError("A DuckDB integration needs a database file.")
    try:
        conn = duckdb.connect(url.database, read_only=True, config=dict(_DUCKDB_CONFIG))
    except duckdb.Error as exc:
        raise SqlError(f"Could not open the database: {_clean(exc, url)}") from None
    watchdog = _Watchdog(timeout_s, conn.interrupt)
    try:
        statements = conn.extract_statements(sql)  # DuckDB's own parser
        if len(statements) != 1:
            raise SqlError(_SEVERAL)
        if statements[0].type not in _DUCKDB_READS:
            raise SqlError("Only read-only queries can be run.")
        with watchdog:
            result = conn.execute(statements[0])
            description = result.description
            rows = result.fetchmany(fetch)
        types = [str(column[1]) for column in description or []]
        return _Fetched(description=description, rows=rows, types=types)
    except duckdb.InterruptException:
        raise SqlTimeout(f"The query ran longer than {timeout_s:g} s and was cancelled.") from None
    except duckdb.Error as exc:
        if watchdog.fired:
            raise SqlTimeout(f"The query ran longer than {timeout_s:g} s and was cancelled.") from None
        raise SqlError(_clean(exc, url)) from None
    finally:
        conn.close()
