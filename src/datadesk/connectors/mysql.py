"""MySQL and MariaDB: the catalog from information_schema in five bulk queries; view lineage via sqlglot."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import pymysql
import pymysql.cursors
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
    tables_in_sql,
)

SYSTEM_SCHEMAS = ("mysql", "information_schema", "performance_schema", "sys")
# Connection options a SQLAlchemy URL may carry in its query string that pymysql understands.
URL_OPTIONS = ("charset", "unix_socket", "ssl_ca", "ssl_cert", "ssl_key")
URL_FLAGS = ("ssl_verify_cert", "ssl_verify_identity")
PHASES = 5


class MySQLConnector:
    """Reads a MySQL or MariaDB server's metadata; one database if the URL names one, else all of them."""

    def __init__(self, url: str, connect_timeout: int = 5, read_timeout: int = 120) -> None:
        self.url = _parse(url)
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout

    @property
    def _where(self) -> str:
        return f"{self.url.host or 'localhost'}:{self.url.port or 3306}"

    def test(self) -> None:
        """Connect and run one query."""
        conn = self._connect()
        try:
            list(self._rows(conn, "SELECT 1"))
        finally:
            conn.close()

    def read(self, progress: Progress = no_progress) -> Snapshot:
        """Read schemas, tables, views, columns and keys."""
        conn = self._connect()
        try:
            return self._read(conn, progress)
        finally:
            conn.close()

    def _read(self, conn: pymysql.connections.Connection[Any], progress: Progress) -> Snapshot:
        params: tuple[str, ...]
        if self.url.database:
            where, params = "= %s", (self.url.database,)
        else:
            where, params = f"NOT IN ({', '.join(['%s'] * len(SYSTEM_SCHEMAS))})", SYSTEM_SCHEMAS
        snapshot = Snapshot(database=self.url.database or self.url.host or "mysql", dialect="mysql")
        # SELECT * because only MariaDB has SCHEMA_COMMENT.
        for row in self._rows(conn, f"SELECT * FROM information_schema.SCHEMATA WHERE SCHEMA_NAME {where}", params):
            snapshot.schemas[row["SCHEMA_NAME"]] = row.get("SCHEMA_COMMENT") or ""
        progress(1, PHASES, "schemas")

        tables: dict[tuple[str, str], TableMeta] = {}
        for row in self._rows(
            conn,
            "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, TABLE_COMMENT, TABLE_ROWS, ENGINE"
            f" FROM information_schema.TABLES WHERE TABLE_SCHEMA {where}"
            " AND TABLE_TYPE IN ('BASE TABLE', 'VIEW', 'SYSTEM VERSIONED')"
            " ORDER BY TABLE_SCHEMA, TABLE_NAME",
            params,
        ):
            view = row["TABLE_TYPE"] == "VIEW"
            table = TableMeta(
                schema=row["TABLE_SCHEMA"],
                name=row["TABLE_NAME"],
                kind="view" if view else "table",
                description="" if view else row["TABLE_COMMENT"] or "",
                row_estimate=None if view or row["TABLE_ROWS"] is None else int(row["TABLE_ROWS"]),
                properties={"engine": row["ENGINE"]} if row["ENGINE"] else {},
            )
            tables[table.schema, table.name] = table
            snapshot.tables.append(table)
        progress(2, PHASES, f"{len(tables)} tables and views")

        primary: set[tuple[str, str, str]] = set()
        fks: dict[tuple[str, str, str], ForeignKey] = {}
        for row in self._rows(
            conn,
            "SELECT TABLE_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_SCHEMA,"
            " REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE"
            f" WHERE TABLE_SCHEMA {where} AND (CONSTRAINT_NAME = 'PRIMARY' OR REFERENCED_TABLE_NAME IS NOT NULL)"
            " ORDER BY TABLE_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION",
            params,
        ):
            schema, name = row["TABLE_SCHEMA"], row["TABLE_NAME"]
            if row["REFERENCED_TABLE_NAME"] is None:
                primary.add((schema, name, row["COLUMN_NAME"]))
                continue
            key = (schema, name, row["CONSTRAINT_NAME"])
            if key not in fks and (schema, name) in tables:
                fks[key] = ForeignKey([], row["REFERENCED_TABLE_SCHEMA"], row["REFERENCED_TABLE_NAME"], [])
                tables[schema, name].foreign_keys.append(fks[key])
            if key in fks:
                fks[key].columns.append(row["COLUMN_NAME"])
                fks[key].ref_columns.append(row["REFERENCED_COLUMN_NAME"])
        progress(3, PHASES, "keys")

        for row in self._rows(
            conn,
            "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_COMMENT"
            f" FROM information_schema.COLUMNS WHERE TABLE_SCHEMA {where}"
            " ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION",
            params,
        ):
            schema, name, column = row["TABLE_SCHEMA"], row["TABLE_NAME"], row["COLUMN_NAME"]
            owner = tables.get((schema, name))
            if owner is None:
                continue
            owner.columns.append(
                ColumnMeta(
                    name=column,
                    data_type=row["COLUMN_TYPE"],
                    description=row["COLUMN_COMMENT"] or "",
                    ordinal=len(owner.columns) + 1,
                    nullable=row["IS_NULLABLE"] == "YES",
                    is_primary_key=(schema, name, column) in primary,
                )
            )
        progress(4, PHASES, "columns")

        for row in self._rows(
            conn,
            "SELECT TABLE_SCHEMA, TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS"
            f" WHERE TABLE_SCHEMA {where}",
            params,
        ):
            view = tables.get((row["TABLE_SCHEMA"], row["TABLE_NAME"]))
            if view is None or not row["VIEW_DEFINITION"]:
                continue  # the definition is hidden from users without SHOW VIEW
            view.definition = row["VIEW_DEFINITION"]
            view.upstream = [(schema or view.schema, name) for schema, name in tables_in_sql(view.definition, "mysql")]
        progress(5, PHASES, "view lineage")
        history.read_mysql(conn, snapshot)  # for catalog.usage; never fails the read
        return snapshot

    def _connect(self) -> pymysql.connections.Connection[Any]:
        url = self.url
        options: dict[str, Any] = {"charset": "utf8mb4"}
        options |= {k: v for k, v in url.query.items() if k in URL_OPTIONS and isinstance(v, str)}
        options |= {k: str(v).lower() in ("1", "true", "yes") for k, v in url.query.items() if k in URL_FLAGS}
        try:
            conn = pymysql.connect(
                host=url.host or "localhost",
                port=url.port or 3306,
                user=url.username or "",
                password=url.password or "",
                database=url.database or None,
                connect_timeout=self.connect_timeout,
                read_timeout=self.read_timeout,
                cursorclass=pymysql.cursors.SSDictCursor,
                **options,
            )
            conn.query("SET SESSION TRANSACTION READ ONLY")
        except pymysql.Error as exc:
            raise ConnectionFailed(self._explain(exc)) from None
        return conn

    def _rows(
        self, conn: pymysql.connections.Connection[Any], sql: str, params: Sequence[str] = ()
    ) -> Iterator[dict[str, Any]]:
        """Stream a query's rows as dicts (an unbuffered cursor), turning errors into ConnectionFailed."""
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql, params)
                yield from cursor
        except pymysql.Error as exc:
            raise ConnectionFailed(self._explain(exc)) from None

    def _explain(self, exc: pymysql.Error) -> str:
        """A short, human reason for a pymysql error, without the password."""
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
        message = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
        user = self.url.username or ""
        if code in (1045, 1698):
            reason = f"access denied for user {user!r} (wrong password, or no access from this host)"
        elif code == 1044:
            reason = f"user {user!r} has no access to database {self.url.database!r}"
        elif code == 1049:
            reason = f"database {self.url.database!r} does not exist"
        elif code in (2003, 2005, 2006, 2013):
            reason = _connect_reason(message, self.connect_timeout, self.url.host)
        elif code in (1142, 1227):
            reason = f"permission denied: {message}"
        else:
            reason = message
        return scrub(f"MySQL at {self._where}: {reason}", self.url.password)


def _connect_reason(message: str, timeout: int, host: str | None) -> str:
    lowered = message.lower()
    if "refused" in lowered:
        return "connection refused (is the server running and listening there?)"
    if "timed out" in lowered:
        return f"no answer within {timeout} s (host down or firewalled?)"
    if re.search(r"name or service not known|nodename nor servname|getaddrinfo", lowered):
        return f"unknown host {host!r}"
    if "lost connection" in lowered or "gone away" in lowered:
        return "the server closed the connection (is it really MySQL/MariaDB?)"
    return message


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError("not a valid database URL (expected mysql://user:password@host:port/db)") from None
    if parsed.get_backend_name() not in ("mysql", "mariadb"):
        raise ValueError(f"not a MySQL URL: {parsed.get_backend_name()}://...")
    return parsed
