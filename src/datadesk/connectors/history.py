"""The source's statement history, read at sync time: statement text and counts, never a result.

PostgreSQL keeps it in pg_stat_statements (an extension that must be installed in the database and
preloaded by the server), MySQL and MariaDB in performance_schema's digest summary. Reading it never
fails a sync: when it cannot be read, `Snapshot.usage_note` says why, in a sentence shown to the user,
and usage then counts only the queries run through datadesk. The text read stays on this server:
catalog.usage turns it into per-table counts and lineage and stores none of it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pymysql
from psycopg import sql

from datadesk.connectors.base import Snapshot, StatementStat

MAX_STATEMENTS = 20_000  # the most-run ones; pg_stat_statements keeps 5,000 by default, MariaDB 10,000 digests
WINDOW = timedelta(days=30)
ONLY_DATADESK = "usage counts only queries run through datadesk"

PG_NOT_INSTALLED = f"pg_stat_statements is not installed in this database: {ONLY_DATADESK}."
PG_NOT_LOADED = (
    "pg_stat_statements is installed in this database but the server does not load it"
    f" (shared_preload_libraries): {ONLY_DATADESK}."
)
PG_DENIED = f"The sync user may not read pg_stat_statements: {ONLY_DATADESK}."
PG_HIDDEN = (
    "{count} statements of other users are hidden from the sync user (grant it pg_read_all_stats):"
    " usage leaves them out."
)
PG_FAILED = f"pg_stat_statements could not be read: {ONLY_DATADESK}."
MY_OFF = f"performance_schema is off on this server: {ONLY_DATADESK}."
MY_NO_DIGESTS = f"performance_schema does not collect statement digests (consumer statements_digest): {ONLY_DATADESK}."
MY_DENIED = f"The sync user may not read performance_schema: {ONLY_DATADESK}."
MY_FAILED = f"performance_schema could not be read: {ONLY_DATADESK}."

PG_EXTENSION_SQL = """
SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = 'pg_stat_statements'"""
# One row per statement and user in this database (its rows per toplevel flag are added up).
PG_STATEMENTS_SQL = """
SELECT s.userid::text, s.query, sum(s.calls)::bigint AS calls
FROM {view} s
WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
GROUP BY s.userid, s.queryid, s.query
ORDER BY calls DESC
LIMIT {limit}"""
HIDDEN_TEXT = "<insufficient privilege>"

MY_DIGESTS_SQL = f"""
SELECT SCHEMA_NAME, DIGEST_TEXT, COUNT_STAR, UNIX_TIMESTAMP(LAST_SEEN) AS LAST_SEEN_AT
FROM performance_schema.events_statements_summary_by_digest
WHERE DIGEST_TEXT IS NOT NULL AND LAST_SEEN >= NOW() - INTERVAL {WINDOW.days} DAY
ORDER BY COUNT_STAR DESC
LIMIT {MAX_STATEMENTS}"""


def read_postgres(conn: psycopg.Connection[Any], snapshot: Snapshot) -> None:
    """Fill the snapshot's statements from pg_stat_statements, or its usage note; read-only, never raises."""
    try:
        with conn.transaction():  # a savepoint: an error here leaves the catalog read's transaction usable
            _read_postgres(conn, snapshot)
    except psycopg.errors.InsufficientPrivilege:
        snapshot.statements, snapshot.usage_note = [], PG_DENIED
    except psycopg.errors.ObjectNotInPrerequisiteState:  # "must be loaded via shared_preload_libraries"
        snapshot.statements, snapshot.usage_note = [], PG_NOT_LOADED
    except psycopg.Error:
        snapshot.statements, snapshot.usage_note = [], PG_FAILED


def _read_postgres(conn: psycopg.Connection[Any], snapshot: Snapshot) -> None:
    found = conn.execute(PG_EXTENSION_SQL).fetchone()
    if found is None:
        snapshot.usage_note = PG_NOT_INSTALLED
        return
    schema = sql.Identifier(found[0])
    since = None
    info = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{found[0]}.pg_stat_statements_info",)).fetchone()
    if info and info[0]:  # PostgreSQL 14 and later say when the counts were last reset
        row = conn.execute(sql.SQL("SELECT stats_reset FROM {}.pg_stat_statements_info").format(schema)).fetchone()
        since = _utc(row[0]) if row else None
    query = sql.SQL(PG_STATEMENTS_SQL).format(
        view=sql.SQL("{}.pg_stat_statements").format(schema), limit=sql.Literal(MAX_STATEMENTS)
    )
    hidden = 0
    statements = []
    for user, text, calls in conn.execute(query):
        if text is None or text == HIDDEN_TEXT:
            hidden += 1
            continue
        statements.append(StatementStat(text=text, calls=int(calls or 0), user=user, since=since))
    snapshot.statements = statements
    snapshot.usage_note = PG_HIDDEN.format(count=hidden) if hidden else ""


def read_mysql(conn: pymysql.connections.Connection[Any], snapshot: Snapshot) -> None:
    """Fill the snapshot's statements from performance_schema's digests seen in the last 30 days, or its note."""
    try:
        _read_mysql(conn, snapshot)
    except pymysql.Error as exc:
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
        snapshot.statements = []
        snapshot.usage_note = MY_DENIED if code in (1142, 1044, 1227) else MY_FAILED


def _read_mysql(conn: pymysql.connections.Connection[Any], snapshot: Snapshot) -> None:
    if not _mysql_rows(conn, "SELECT @@performance_schema AS ON_")[0]["ON_"]:
        snapshot.usage_note = MY_OFF
        return
    consumers = _mysql_rows(
        conn, "SELECT ENABLED FROM performance_schema.setup_consumers WHERE NAME = 'statements_digest'"
    )
    if not consumers or consumers[0]["ENABLED"] != "YES":
        snapshot.usage_note = MY_NO_DIGESTS
        return
    # performance_schema lives in memory: it began counting when the server started (or was last truncated).
    uptime = next((int(r["Value"]) for r in _mysql_rows(conn, "SHOW GLOBAL STATUS LIKE 'Uptime'")), None)
    # Uptime is whole seconds and LAST_SEEN too: the start, rounded down, is never after a statement it counts.
    started = datetime.now(UTC) - timedelta(seconds=uptime + 1) if uptime is not None else None
    since = started.replace(microsecond=0) if started is not None else None
    snapshot.statements = [
        StatementStat(
            text=row["DIGEST_TEXT"],
            calls=int(row["COUNT_STAR"] or 0),
            schema=row["SCHEMA_NAME"] or "",
            last_seen=datetime.fromtimestamp(float(row["LAST_SEEN_AT"]), UTC) if row["LAST_SEEN_AT"] else None,
            since=since,
        )
        for row in _mysql_rows(conn, MY_DIGESTS_SQL)
    ]
    snapshot.usage_note = ""


def _mysql_rows(conn: pymysql.connections.Connection[Any], query: str) -> list[dict[str, Any]]:
    with conn.cursor() as cursor:
        cursor.execute(query)
        return list(cursor.fetchall())


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
