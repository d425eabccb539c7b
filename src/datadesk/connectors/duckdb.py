"""DuckDB: schemas, tables, views, columns and keys from the duckdb_*() functions, read-only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import duckdb

from datadesk.connectors.base import (
    ColumnMeta,
    ConnectionFailed,
    ForeignKey,
    Progress,
    Snapshot,
    TableMeta,
    file_path,
    no_progress,
    require_file,
    tables_in_sql,
)

INTERNAL_SCHEMAS = "('information_schema', 'pg_catalog')"
SCHEMAS_SQL = f"""
SELECT schema_name, coalesce(comment, '') FROM duckdb_schemas()
WHERE database_name = current_database() AND schema_name NOT IN {INTERNAL_SCHEMAS}
ORDER BY schema_name"""
TABLES_SQL = """
SELECT schema_name, table_name, coalesce(comment, ''), estimated_size FROM duckdb_tables()
WHERE database_name = current_database() AND NOT internal AND NOT temporary
ORDER BY schema_name, table_name"""
VIEWS_SQL = f"""
SELECT schema_name, view_name, coalesce(comment, ''), sql FROM duckdb_views()
WHERE database_name = current_database() AND NOT internal AND NOT temporary
  AND schema_name NOT IN {INTERNAL_SCHEMAS}
ORDER BY schema_name, view_name"""
COLUMNS_SQL = """
SELECT schema_name, table_name, column_name, data_type, is_nullable, coalesce(comment, '')
FROM duckdb_columns()
WHERE database_name = current_database() AND NOT internal
ORDER BY schema_name, table_name, column_index"""
# DuckDB only allows foreign keys within one schema, so the referenced table shares the schema.
KEYS_SQL = """
SELECT schema_name, table_name, constraint_type, constraint_column_names, referenced_table,
       referenced_column_names
FROM duckdb_constraints()
WHERE database_name = current_database() AND constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY')
ORDER BY schema_name, table_name, constraint_index"""
PHASES = 5


class DuckDBConnector:
    """Reads a DuckDB file's metadata, opening it read-only."""

    def __init__(self, url: str) -> None:
        self.path = file_path(url, "duckdb", "DuckDB", "duckdb:///path/to/file.duckdb")

    def test(self) -> None:
        """Open the file and list its schemas."""
        conn = self._connect()
        try:
            list(self._rows(conn, SCHEMAS_SQL))
        finally:
            conn.close()

    def read(self, progress: Progress = no_progress) -> Snapshot:
        """Read schemas, tables, views, columns, keys and view lineage."""
        conn = self._connect()
        try:
            return self._read(conn, progress)
        finally:
            conn.close()

    def _read(self, conn: duckdb.DuckDBPyConnection, progress: Progress) -> Snapshot:
        database = next(self._rows(conn, "SELECT current_database()"))[0]
        snapshot = Snapshot(database=database, dialect="duckdb")
        snapshot.schemas = {name: comment for name, comment in self._rows(conn, SCHEMAS_SQL)}
        progress(1, PHASES, "schemas")

        tables: dict[tuple[str, str], TableMeta] = {}
        for schema, name, comment, size in self._rows(conn, TABLES_SQL):
            tables[schema, name] = TableMeta(schema, name, "table", comment, row_estimate=size)
        for schema, name, comment, sql in self._rows(conn, VIEWS_SQL):
            tables[schema, name] = TableMeta(schema, name, "view", comment, definition=sql or "")
        snapshot.tables = sorted(tables.values(), key=lambda t: (t.schema, t.name))
        progress(2, PHASES, f"{len(tables)} tables and views")

        primary: set[tuple[str, str, str]] = set()
        for schema, name, kind, columns, ref_table, ref_columns in self._rows(conn, KEYS_SQL):
            if kind == "PRIMARY KEY":
                primary.update((schema, name, column) for column in columns)
            elif (schema, name) in tables:
                tables[schema, name].foreign_keys.append(ForeignKey(columns, schema, ref_table, ref_columns))
        progress(3, PHASES, "keys")

        for schema, name, column, data_type, nullable, comment in self._rows(conn, COLUMNS_SQL):
            table = tables.get((schema, name))
            if table is None:
                continue
            table.columns.append(
                ColumnMeta(
                    name=column,
                    data_type=data_type,
                    description=comment,
                    ordinal=len(table.columns) + 1,
                    nullable=bool(nullable),
                    is_primary_key=(schema, name, column) in primary,
                )
            )
        progress(4, PHASES, "columns")

        index = {(t.schema.lower(), t.name.lower()): (t.schema, t.name) for t in snapshot.tables}
        for view in snapshot.tables:
            if view.kind == "view":
                view.upstream = [
                    _resolve(schema, name, view.schema, database, index)
                    for schema, name in tables_in_sql(view.definition, "duckdb")
                ]
        progress(5, PHASES, "view lineage")
        return snapshot

    def _connect(self) -> duckdb.DuckDBPyConnection:
        require_file(self.path, "DuckDB")
        try:
            return duckdb.connect(str(self.path), read_only=True)
        except duckdb.Error as exc:
            raise ConnectionFailed(self._explain(exc)) from None

    def _rows(self, conn: duckdb.DuckDBPyConnection, sql: str) -> Iterator[Any]:
        try:
            cursor = conn.execute(sql)
            while batch := cursor.fetchmany(5000):
                yield from batch
        except duckdb.Error as exc:
            raise ConnectionFailed(self._explain(exc)) from None

    def _explain(self, exc: duckdb.Error) -> str:
        message = str(exc)
        lowered = message.lower()
        if "not a valid duckdb database file" in lowered or "unable to open database" in lowered:
            return f"{self.path} is not a DuckDB database"
        if "lock" in lowered:
            return f"{self.path} is locked by another process that has it open for writing"
        if "version" in lowered and "storage" in lowered:
            return f"{self.path} was written by another DuckDB version: {message.splitlines()[0]}"
        return f"DuckDB file {self.path}: {message.splitlines()[0] if message else type(exc).__name__}"


def _resolve(
    schema: str, name: str, view_schema: str, database: str, index: dict[tuple[str, str], tuple[str, str]]
) -> tuple[str, str]:
    """The (schema, name) a view's reference points to: DuckDB looks in the view's schema, then in main."""
    candidates = [schema] if schema and schema != database else [view_schema, "main"]
    for candidate in candidates:
        found = index.get((candidate.lower(), name.lower()))
        if found:
            return found
    return candidates[0], name
