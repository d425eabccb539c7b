"""Build the Acme Analytics demo warehouse (acme.duckdb) and its dbt artifacts into a folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from datadesk.demo_data import dbt, rows, spec
from datadesk.demo_data.dbt_project import MODELS, TARGET_SCHEMA, Model, compile_sql


@dataclass(frozen=True)
class WarehouseFiles:
    duckdb_path: Path
    manifest_path: Path
    catalog_path: Path
    run_results_path: Path


def build(directory: Path) -> WarehouseFiles:
    """Write directory/acme.duckdb and directory/dbt/{manifest,catalog,run_results}.json, replacing earlier ones."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{spec.CATALOG}.duckdb"
    for stale in (path, path.with_name(path.name + ".wal")):
        stale.unlink(missing_ok=True)
    conn = duckdb.connect(str(path))
    try:
        conn.execute("BEGIN")  # one transaction: hundreds of DDL and COMMENT statements, committed once
        create_raw(conn)
        data = rows.generate()
        for table in spec.TABLES:
            insert(conn, table, data[table.qualified])
        for view in spec.VIEWS:
            conn.execute(f"CREATE VIEW {view.schema}.{view.name} AS {view.sql.strip()}")
            conn.execute(f"COMMENT ON VIEW {view.schema}.{view.name} IS {_literal(view.comment)}")
        for model in _in_build_order(MODELS):
            build_model(conn, model)
        conn.execute("COMMIT")
        conn.execute("CHECKPOINT")
        manifest_path, catalog_path, run_results_path = dbt.write(directory / "dbt", conn)
    finally:
        conn.close()
    return WarehouseFiles(path, manifest_path, catalog_path, run_results_path)


def create_raw(conn: duckdb.DuckDBPyConnection) -> None:
    """Schemas and raw tables with keys and comments, empty."""
    for schema in spec.SCHEMAS:
        conn.execute(f"CREATE SCHEMA {schema}")
    for table in spec.TABLES:
        parts = [f"{c.name} {c.type}" for c in table.columns]
        if table.primary_key:
            parts.append(f"PRIMARY KEY ({', '.join(table.primary_key)})")
        for key in table.foreign_keys:
            target = f"{table.schema}.{key.table} ({', '.join(key.ref_columns)})"
            parts.append(f"FOREIGN KEY ({', '.join(key.columns)}) REFERENCES {target}")
        conn.execute(f"CREATE TABLE {table.qualified} ({', '.join(parts)})")
        conn.execute(f"COMMENT ON TABLE {table.qualified} IS {_literal(table.comment)}")
        for column in table.columns:
            if column.comment:
                conn.execute(f"COMMENT ON COLUMN {table.qualified}.{column.name} IS {_literal(column.comment)}")


def insert(conn: duckdb.DuckDBPyConnection, table: spec.Table, data: list[rows.Row]) -> None:
    """Bulk insert: one list parameter per column, unnested side by side (much faster than executemany)."""
    if not data:
        return
    columns = [list(values) for values in zip(*data, strict=True)]
    if len(columns) != len(table.columns):
        raise ValueError(f"{table.qualified}: rows have {len(columns)} values, the table {len(table.columns)} columns")
    selects = ", ".join(f"unnest(${i}::{c.type}[])" for i, c in enumerate(table.columns, start=1))
    conn.execute(f"INSERT INTO {table.qualified} SELECT {selects}", columns)


def build_model(conn: duckdb.DuckDBPyConnection, model: Model) -> None:
    """Create a dbt model as table or view, with its docs persisted as comments (persist_docs)."""
    relation = f"{TARGET_SCHEMA}.{model.name}"
    kind = "VIEW" if model.materialized == "view" else "TABLE"
    conn.execute(f"CREATE {kind} {relation} AS {compile_sql(model.sql, quoted=False).strip()}")
    conn.execute(f"COMMENT ON {kind} {relation} IS {_literal(model.description)}")
    for name, description in model.columns:
        conn.execute(f"COMMENT ON COLUMN {relation}.{name} IS {_literal(description)}")


def _in_build_order(models: tuple[Model, ...]) -> list[Model]:
    """Models after the models they ref()."""
    done: dict[str, Model] = {}
    pending = list(models)
    while pending:
        ready = [m for m in pending if all(ref in done for ref in m.refs())]
        if not ready:
            raise ValueError(f"ref() cycle among {[m.name for m in pending]}")
        for model in ready:
            done[model.name] = model
            pending.remove(model)
    return list(done.values())


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
