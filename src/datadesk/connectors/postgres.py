"""PostgreSQL: the whole catalog from pg_catalog in five bulk queries, inside one read-only transaction."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import psycopg
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from datadesk.connectors import history
from datadesk.connectors.base import (
    ColumnMeta,
    ConnectionFailed,
    ForeignKey,
    Progress,
    Snapshot,
    TableMeta,
    no_progress,
    scrub,
)

KINDS = {"r": "table", "p": "table", "f": "table", "v": "view", "m": "materialized_view"}
# Schemas are filtered the same way everywhere; n is the pg_namespace row.
SCHEMA_FILTER = r"""n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
    AND n.nspname NOT LIKE 'pg\_temp\_%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'"""
# Table-like relations, without the partitions of a partitioned table (their parent stands for them)
# and without the ones an extension owns (pg_stat_statements, pg_buffercache...).
RELATION_FILTER = f"""c.relkind IN ('r', 'p', 'f', 'v', 'm') AND NOT c.relispartition AND {SCHEMA_FILTER}
    AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid
                    AND e.deptype = 'e')"""

SCHEMAS_SQL = f"""
SELECT n.nspname, coalesce(d.description, '')
FROM pg_namespace n
LEFT JOIN pg_description d
  ON d.objoid = n.oid AND d.classoid = 'pg_namespace'::regclass AND d.objsubid = 0
WHERE {SCHEMA_FILTER}
ORDER BY n.nspname"""

# Partitioned tables keep no rows or scan counts of their own: sum those of their leaf partitions. A leaf
# never analysed (reltuples -1) is unknown and adds nothing; with no leaf analysed the estimate is unknown
# (NULL), as for a table. New, empty partitions often stay unanalysed, so one must not hide the others.
RELATIONS_SQL = f"""
SELECT c.oid, n.nspname, c.relname, c.relkind, coalesce(d.description, ''),
       CASE WHEN c.relkind = 'p' THEN
            (SELECT sum(l.reltuples) FROM pg_partition_tree(c.oid) t
             JOIN pg_class l ON l.oid = t.relid WHERE t.isleaf AND l.reltuples >= 0)
       ELSE c.reltuples END,
       CASE WHEN c.relkind = 'p' THEN
            (SELECT sum(coalesce(s2.seq_scan, 0) + coalesce(s2.idx_scan, 0)) FROM pg_partition_tree(c.oid) t
             JOIN pg_stat_user_tables s2 ON s2.relid = t.relid WHERE t.isleaf)
       ELSE coalesce(s.seq_scan, 0) + coalesce(s.idx_scan, 0) END,
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) ELSE '' END,
       pg_get_userbyid(c.relowner)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE {RELATION_FILTER}
ORDER BY n.nspname, c.relname"""

# Key column names are resolved here, so Python never keeps an attnum map per table.
KEYS_SQL = f"""
SELECT con.conrelid, con.contype,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(num, pos)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num ORDER BY k.pos),
       rn.nspname, rc.relname,
       ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(num, pos)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num ORDER BY k.pos)
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class rc ON rc.oid = con.confrelid
LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
WHERE con.contype IN ('p', 'f') AND {RELATION_FILTER}
ORDER BY con.conrelid, con.conname"""

COLUMNS_SQL = f"""
SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       coalesce(d.description, '')
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_description d
  ON d.objoid = a.attrelid AND d.classoid = 'pg_class'::regclass AND d.objsubid = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped AND {RELATION_FILTER}
ORDER BY a.attrelid, a.attnum"""

UPSTREAM_SCHEMA_FILTER = SCHEMA_FILTER.replace("n.nspname", "un.nspname")
# A view's rewrite rule depends on every relation its query reads (deptype 'n').
LINEAGE_SQL = f"""
SELECT DISTINCT r.ev_class, un.nspname, uc.relname
FROM pg_rewrite r
JOIN pg_class c ON c.oid = r.ev_class
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_depend dep ON dep.classid = 'pg_rewrite'::regclass AND dep.objid = r.oid
    AND dep.refclassid = 'pg_class'::regclass AND dep.deptype = 'n' AND dep.refobjid <> r.ev_class
JOIN pg_class uc ON uc.oid = dep.refobjid AND uc.relkind IN ('r', 'p', 'f', 'v', 'm')
JOIN pg_namespace un ON un.oid = uc.relnamespace
    AND {UPSTREAM_SCHEMA_FILTER}
WHERE c.relkind IN ('v', 'm') AND {RELATION_FILTER}
ORDER BY r.ev_class, un.nspname, uc.relname"""

PHASES = 5


class PostgresConnector:
    """Reads a PostgreSQL database's metadata from pg_catalog."""

    def __init__(self, url: str, connect_timeout: int = 5, statement_timeout_ms: int = 120_000) -> None:
        self.url = _parse(url)
        self.connect_timeout = connect_timeout
        self.statement_timeout_ms = statement_timeout_ms

    @property
    def _where(self) -> str:
        return f"{self.url.host or 'localhost'}:{self.url.port or 5432}"

    def test(self) -> None:
        """Connect and run one read-only query."""
        with self._connect() as conn:
            list(self._rows(conn, "SELECT 1"))

    def read(self, progress: Progress = no_progress) -> Snapshot:
        """Read schemas, relations, keys, columns and view lineage."""
        with self._connect() as conn:
            snapshot = Snapshot(database=self.url.database or "", dialect="postgres")
            snapshot.schemas = {name: comment for name, comment in self._rows(conn, SCHEMAS_SQL)}
            progress(1, PHASES, "schemas")

            by_oid: dict[int, TableMeta] = {}
            for oid, schema, name, kind, comment, tuples, scans, definition, owner in self._rows(conn, RELATIONS_SQL):
                table = TableMeta(
                    schema=schema,
                    name=name,
                    kind=KINDS[kind],
                    description=comment,
                    row_estimate=None if tuples is None or tuples < 0 else int(tuples),
                    popularity=float(scans or 0),
                    definition=(definition or "").strip(),
                    properties={"db_owner": owner},
                )
                if kind == "p":
                    table.properties["partitioned"] = "true"
                elif kind == "f":
                    table.properties["foreign"] = "true"
                by_oid[oid] = table
                snapshot.tables.append(table)
            progress(2, PHASES, f"{len(by_oid)} tables and views")

            primary: set[tuple[int, str]] = set()
            for oid, contype, cols, ref_schema, ref_table, ref_cols in self._rows(conn, KEYS_SQL):
                if contype == "p":
                    primary.update((oid, col) for col in cols)
                elif oid in by_oid:
                    by_oid[oid].foreign_keys.append(ForeignKey(cols, ref_schema, ref_table, ref_cols))
            progress(3, PHASES, "keys")

            for oid, name, data_type, nullable, comment in self._rows(conn, COLUMNS_SQL):
                if oid not in by_oid:
                    continue
                columns = by_oid[oid].columns
                columns.append(
                    ColumnMeta(
                        name=name,
                        data_type=data_type,
                        description=comment,
                        ordinal=len(columns) + 1,
                        nullable=nullable,
                        is_primary_key=(oid, name) in primary,
                    )
                )
            progress(4, PHASES, "columns")

            for oid, schema, name in self._rows(conn, LINEAGE_SQL):
                if oid in by_oid:
                    by_oid[oid].upstream.append((schema, name))
            progress(5, PHASES, "view lineage")
            history.read_postgres(conn, snapshot)  # for catalog.usage; never fails the read
            return snapshot

    def _connect(self) -> psycopg.Connection[Any]:
        url = self.url
        params: dict[str, Any] = {
            "host": url.host or None,
            "port": url.port,
            "user": url.username,
            "password": url.password,
            "dbname": url.database,
            "connect_timeout": self.connect_timeout,
            "application_name": "datadesk",
        }
        # libpq options in the URL's query string (sslmode, sslrootcert, options, even host) pass through,
        # as libpq itself would take them; the sources check has looked at both.
        params |= {str(k): v for k, v in url.query.items() if isinstance(v, str)}
        try:
            conn = psycopg.connect(**{k: v for k, v in params.items() if v is not None})
        except psycopg.Error as exc:
            raise ConnectionFailed(self._explain(exc)) from None
        # One consistent, read-only snapshot of the catalog for every query of the read.
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        try:
            conn.execute(f"SET LOCAL statement_timeout = {int(self.statement_timeout_ms)}")
            # JIT compiling these catalog queries costs far more (~0.4 s at 2,000 tables) than it saves.
            conn.execute("SET LOCAL jit = off")
        except psycopg.Error as exc:
            conn.close()
            raise ConnectionFailed(self._explain(exc)) from None
        return conn

    def _rows(self, conn: psycopg.Connection[Any], sql: str) -> Iterator[tuple[Any, ...]]:
        """Stream a query's rows through a server-side cursor, turning errors into ConnectionFailed."""
        try:
            with conn.cursor(name="datadesk_read") as cursor:
                cursor.itersize = 5000
                cursor.execute(sql)
                yield from cursor
        except psycopg.Error as exc:
            raise ConnectionFailed(self._explain(exc)) from None

    def _explain(self, exc: psycopg.Error) -> str:
        """A short, human reason for a psycopg error, without the password."""
        text = str(exc)
        user, host = self.url.username or "(default user)", self.url.host
        # libpq reports connection failures as text only (no SQLSTATE), so match on its wording.
        reasons = [
            (r"password authentication failed", f"authentication failed for user {user!r}: wrong password"),
            (r"no password supplied", f"the server wants a password for user {user!r} and none was given"),
            (
                r'role ".*" does not exist|not permitted to log in|no pg_hba\.conf entry',
                f"the server refused user {user!r}: {_server_message(text)}",
            ),
            (r'database ".*" does not exist', f"database {self.url.database!r} does not exist"),
            (r"connection refused", "connection refused (is PostgreSQL running and listening there?)"),
            (r"timeout expired", f"no answer within {self.connect_timeout} s (host down or firewalled?)"),
            (r"resolve host|translate host name", f"unknown host {host!r}"),
            (r"ssl negotiation", "something answered there, but it is not PostgreSQL"),
            (r"statement timeout", "reading the catalog took too long and was cancelled"),
        ]
        reason = next(
            (why for pattern, why in reasons if re.search(pattern, text, re.IGNORECASE)), _server_message(text)
        )
        return scrub(f"PostgreSQL at {self._where}: {reason}", self.url.password)


def _server_message(text: str) -> str:
    """The server's own words from a libpq error, without the connection preamble and severity."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    last = lines[0] if lines else text
    for marker in (" failed: FATAL:", " failed: ", "FATAL:", "ERROR:"):
        if marker in last:
            last = last.split(marker, 1)[1]
    return last.strip()


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError("not a valid database URL (expected postgresql://user:password@host:port/db)") from None
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise ValueError(f"not a PostgreSQL URL: {parsed.get_backend_name()}://...")
    return parsed
