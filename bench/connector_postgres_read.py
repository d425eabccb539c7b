"""Time PostgresConnector.read() on a fresh database of 2,000 tables and print time and peak RSS.

Builds the tables (3 schemas, 8-25 columns each, comments on half, primary and foreign keys, 50 views)
with a few big DDL scripts in a throwaway database, reads it in a child process (so the peak RSS is the
read's alone), then drops the database.

    .venv/bin/python bench/connector_postgres_read.py [--tables 2000] [--views 50]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SCHEMAS = ("sales", "finance", "ops")
TYPES = ("integer", "bigint", "text", "varchar(80)", "numeric(12,2)", "timestamptz", "boolean", "date", "jsonb")


def build_ddl(tables: int, views: int, seed: int = 7) -> list[str]:
    """The DDL creating the schemas, tables, comments, keys and views, in scripts of ~200 tables."""
    rng = random.Random(seed)
    parts = [f"CREATE SCHEMA {s};" for s in SCHEMAS]
    names: list[tuple[str, str]] = []
    for i in range(tables):
        schema, name = SCHEMAS[i % len(SCHEMAS)], f"t{i:05d}"
        columns = ["id bigint PRIMARY KEY"]
        previous = [n for n in names[-30:] if n[0] == schema]
        if previous and rng.random() < 0.5:
            ref = rng.choice(previous)
            columns.append(f"ref_id bigint REFERENCES {ref[0]}.{ref[1]}(id)")
        columns += [f"c{j} {rng.choice(TYPES)}" for j in range(rng.randint(8, 25) - len(columns))]
        parts.append(f"CREATE TABLE {schema}.{name} ({', '.join(columns)});")
        if i % 2 == 0:
            parts.append(f"COMMENT ON TABLE {schema}.{name} IS 'Table {i}, documented for the bench';")
            parts.append(f"COMMENT ON COLUMN {schema}.{name}.id IS 'Identifier of a row of {name}';")
        names.append((schema, name))
    for v in range(views):
        (s1, t1), (s2, t2) = rng.sample(names, 2)
        parts.append(
            f"CREATE VIEW {s1}.v{v:03d} AS SELECT a.id, b.id AS other_id FROM {s1}.{t1} a "
            f"JOIN {s2}.{t2} b ON b.id = a.id;"
        )
    # One script per ~200 tables: a single transaction for all of them runs out of lock slots.
    return ["\n".join(parts[i : i + 600]) for i in range(0, len(parts), 600)]


def read(url: str) -> dict[str, float]:
    """Read the database once; return the numbers measured in this process."""
    from datadesk.connectors.postgres import PostgresConnector

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    snapshot = PostgresConnector(url).read()
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "rss_before_mib": rss_before / 1024,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "tables": len(snapshot.tables),
        "columns": sum(len(t.columns) for t in snapshot.tables),
        "foreign_keys": sum(len(t.foreign_keys) for t in snapshot.tables),
        "lineage_edges": sum(len(t.upstream) for t in snapshot.tables),
    }


def main() -> None:
    """Build, read, report, drop."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", type=int, default=2000)
    parser.add_argument("--views", type=int, default=50)
    parser.add_argument("--read", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.read:
        print(json.dumps(read(args.read)))
        return

    import psycopg
    from tests.dbs import fresh_pg_database

    with fresh_pg_database("dd_bench") as url:
        started = time.perf_counter()
        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
            for script in build_ddl(args.tables, args.views):
                conn.execute(script.encode())
            conn.execute("ANALYZE")
        print(f"built {args.tables} tables and {args.views} views in {time.perf_counter() - started:.1f} s")
        for attempt in (1, 2):
            out = subprocess.run(
                [sys.executable, __file__, "--read", url], check=True, capture_output=True, text=True
            ).stdout
            numbers = json.loads(out)
            print(
                f"read #{attempt}: {numbers['seconds']:.3f} s, peak RSS {numbers['peak_rss_mib']:.1f} MiB "
                f"(process before read {numbers['rss_before_mib']:.1f} MiB); {numbers['tables']} tables/views, "
                f"{numbers['columns']} columns, {numbers['foreign_keys']} foreign keys, "
                f"{numbers['lineage_edges']} lineage edges"
            )


if __name__ == "__main__":
    main()
