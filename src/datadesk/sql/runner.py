"""Run one query on an integration's database: read-only at the engine (`engines.py`), time-limited, row- and
byte-capped; the result as the run hands it back.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from datadesk.connectors.registry import TYPE_OF_BACKEND
from datadesk.sql import engines
from datadesk.sql.engines import Fetched, SqlError
from datadesk.sql.values import Collector, JSONValue


@dataclass
class RunResult:
    columns: list[dict[str, str]]  # [{"name": ..., "type": ...}]
    rows: list[list[JSONValue]]
    row_count: int
    truncated: bool
    duration_ms: int
    types_known: bool = True  # False where types are read off the values (SQLite)


def dialect_of(url: str) -> str:
    """The guard dialect (`postgres`, `mysql`, `sqlite`, `duckdb`) for a SQLAlchemy URL."""
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        raise SqlError("The database URL is not valid.") from None
    if backend not in TYPE_OF_BACKEND:
        raise SqlError(f"Unsupported database type {backend!r}.")
    return TYPE_OF_BACKEND[backend]


DEFAULT_MAX_BYTES = 5_000_000


def run(
    url: str,
    sql: str,
    *,
    max_rows: int = 1000,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout_s: float = 30.0,
    builtins_only: bool = True,
) -> RunResult:
    """Run one read-only statement; at most `max_rows` rows and about `max_bytes` of JSON come back.

    `truncated` says the result was cut: more rows, the byte cap reached, or a value over CELL_CAP.
    `builtins_only` says every table is named in full (the service's statements are), so PostgreSQL's
    search path can hold pg_catalog alone: no function, operator or type of the database's own
    schemas can then stand in for the built-in one the guard admitted.
    """
    if max_rows < 0 or max_bytes < 1 or not timeout_s > 0:
        raise ValueError("max_rows must be >= 0, max_bytes >= 1 and timeout_s > 0")
    dialect = dialect_of(url)
    parsed = make_url(url)
    runs: dict[str, Callable[[URL, str, Collector, float], Fetched]] = {
        "postgres": functools.partial(engines.run_postgres, builtins_only=builtins_only),
        "mysql": engines.run_mysql,
        "sqlite": engines.run_sqlite,
        "duckdb": functools.partial(engines.run_duckdb, builtins_only=builtins_only),
    }
    started = time.monotonic()
    collector = Collector(max_rows, max_bytes)
    fetched = runs[dialect](parsed, sql, collector, timeout_s)
    duration_ms = int((time.monotonic() - started) * 1000)
    names = [str(column[0]) for column in fetched.description or []]
    return RunResult(
        columns=[{"name": name, "type": kind} for name, kind in zip(names, fetched.types, strict=True)],
        rows=collector.rows,
        row_count=len(collector.rows),
        truncated=collector.truncated,
        duration_ms=duration_ms,
        types_known=fetched.types_known,
    )


_QUOTED = re.compile(r"'(?:[^'\\]|\\.|'')*'?|\"(?:[^\"\\]|\\.|\"\")*\"?", re.DOTALL)
_NUMBER = re.compile(r"(?<!\w)(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(?!\w)")


def strip_literals(message: str) -> str:
    """The message with every quoted literal ('…' or "…") and every number replaced by `?`."""
    return _NUMBER.sub("?", _QUOTED.sub("?", message))
