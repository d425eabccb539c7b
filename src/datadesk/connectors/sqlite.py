"""SQLite: tables, views, columns and keys from sqlite_master joined to the pragma table functions."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from typing import Any

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

SCHEMA = "main"
OBJECTS_SQL = r"""
SELECT type, name, coalesce(sql, '') FROM sqlite_master
WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\_%' ESCAPE '\'
ORDER BY name"""
COLUMNS_SQL = r"""
SELECT m.name, p.name, p.type, p."notnull", p.pk
FROM sqlite_master m JOIN pragma_table_info(m.name) p
WHERE m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\'
ORDER BY m.name, p.cid"""
FOREIGN_KEYS_SQL = r"""
SELECT m.name, f.id, f."table", f."from", f."to"
FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f
WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\'
ORDER BY m.name, f.id, f.seq"""
PHASES = 4


class SQLiteConnector:
    """Reads a SQLite file's metadata, opening it read-only."""

    def __init__(self, url: str) -> None:
        self.path = file_path(url, "sqlite", "SQLite", "sqlite:///path/to/file.db")

    def test(self) -> None:
        """Open the file and read its schema."""
        with closing(self._connect()) as conn:
            list(self._rows(conn, "SELECT count(*) FROM sqlite_master"))

    def read(self, progress: Progress = no_progress) -> Snapshot:
        """Read tables, views, columns, keys, row estimates and view lineage."""
        with closing(self._connect()) as conn:
            snapshot = Snapshot(database=self.path.stem, schemas={SCHEMA: ""}, dialect="sqlite")
            tables: dict[str, TableMeta] = {}
            for kind, name, sql in self._rows(conn, OBJECTS_SQL):
                table = TableMeta(schema=SCHEMA, name=name, kind=kind, definition=sql if kind == "view" else "")
                if sql.upper().startswith("CREATE VIRTUAL TABLE"):
                    table.properties["virtual"] = "true"
                tables[name.lower()] = table
                snapshot.tables.append(table)
            progress(1, PHASES, f"{len(tables)} tables and views")

            for table_name, name, data_type, notnull, pk in self._columns(conn, tables):
                table = tables[table_name.lower()]
                table.columns.append(
                    ColumnMeta(
                        name=name,
                        data_type=data_type,
                        ordinal=len(table.columns) + 1,
                        nullable=not notnull and not (pk and table.kind == "table"),
                        is_primary_key=bool(pk) and table.kind == "table",
                    )
                )
            progress(2, PHASES, "columns")

            for table_name, fk_id, ref_table, column, ref_column in self._rows(conn, FOREIGN_KEYS_SQL):
                table = tables[table_name.lower()]
                if fk_id >= len(table.foreign_keys):
                    table.foreign_keys.append(ForeignKey([], SCHEMA, ref_table, []))
                fk = table.foreign_keys[-1]
                fk.columns.append(column)
                if ref_column is None:  # REFERENCES t without columns means t's primary key
                    referenced = tables.get(ref_table.lower())
                    pks = [c.name for c in referenced.columns if c.is_primary_key] if referenced else []
                    fk.ref_columns = pks
                else:
                    fk.ref_columns.append(ref_column)
            progress(3, PHASES, "keys")

            self._row_estimates(conn, tables)
            for table in snapshot.tables:
                if table.kind == "view":
                    table.upstream = [
                        (SCHEMA, tables[name.lower()].name if name.lower() in tables else name)
                        for _schema, name in tables_in_sql(table.definition, "sqlite")
                    ]
            progress(4, PHASES, "row estimates and view lineage")
            return snapshot

    def _connect(self) -> sqlite3.Connection:
        require_file(self.path, "SQLite")
        try:
            return sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        except sqlite3.Error as exc:
            raise ConnectionFailed(self._explain(exc)) from None

    def _rows(self, conn: sqlite3.Connection, sql: str) -> Iterator[Any]:
        try:
            yield from conn.execute(sql)
        except sqlite3.Error as exc:
            raise ConnectionFailed(self._explain(exc)) from None

    def _columns(self, conn: sqlite3.Connection, tables: dict[str, TableMeta]) -> Iterator[Any]:
        """All columns in one query; if a broken view makes that fail, object by object, skipping it."""
        try:
            rows = conn.execute(COLUMNS_SQL).fetchall()
        except sqlite3.OperationalError:
            rows = []
            for table in tables.values():
                try:
                    rows += [
                        (table.name, *row)
                        for row in conn.execute(
                            'SELECT name, type, "notnull", pk FROM pragma_table_info(?) ORDER BY cid',
                            (table.name,),
                        )
                    ]
                except sqlite3.OperationalError:
                    continue
        except sqlite3.Error as exc:
            raise ConnectionFailed(self._explain(exc)) from None
        yield from rows

    def _row_estimates(self, conn: sqlite3.Connection, tables: dict[str, TableMeta]) -> None:
        """Row counts from sqlite_stat1, which exists once ANALYZE has run."""
        try:
            rows = conn.execute("SELECT tbl, stat FROM sqlite_stat1").fetchall()
        except sqlite3.OperationalError:
            return
        for table_name, stat in rows:
            table = tables.get(str(table_name).lower())
            count = str(stat or "").split(" ", 1)[0]
            if table is not None and count.isdigit():
                table.row_estimate = max(table.row_estimate or 0, int(count))

    def _explain(self, exc: sqlite3.Error) -> str:
        message = str(exc)
        if "file is not a database" in message or "malformed" in message:
            return f"{self.path} is not a SQLite database ({message})"
        if "unable to open" in message:
            return f"cannot open {self.path} (check the path and its permissions)"
        return f"SQLite file {self.path}: {message}"
