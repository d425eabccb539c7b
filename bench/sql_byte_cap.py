"""Measure what a 500 MB result costs the process that runs it: time, bytes handed back, peak RSS growth.

Runs the issue's query on each engine through `datadesk.sql.runner.run` with the default 5 MB byte cap,
each in a fresh child process so the peaks do not mix. PostgreSQL is the local server's `test` database
unless --pg-url says otherwise.

    .venv/bin/python bench/sql_byte_cap.py [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

QUERIES = {
    "postgres": "SELECT repeat('x', 10000000) FROM generate_series(1, 50)",
    "mysql": "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 50)"
    " SELECT repeat('x', 10000000) FROM r",
    "sqlite": "WITH RECURSIVE d(n, x) AS (SELECT 1, 'x' UNION ALL SELECT n + 1, x || x FROM d WHERE n < 22),"
    " r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 50) SELECT x FROM d, r WHERE d.n = 22",
    "duckdb": "SELECT repeat('x', 10000000) FROM range(50)",
}

CHILD = """
import json, sys, time
from datadesk.sql import runner

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
    return 0

url, sql = sys.argv[1], sys.argv[2]
runner.run(url, "SELECT 1", builtins_only=False)  # drivers loaded before the baseline
before = status("VmRSS")
open("/proc/self/clear_refs", "w").write("5")
started = time.monotonic()
try:
    result = runner.run(url, sql, builtins_only=False, timeout_s=60)
    outcome = {"rows": result.row_count, "truncated": result.truncated,
               "bytes": len(json.dumps(result.rows))}
except Exception as exc:
    outcome = {"error": f"{type(exc).__name__}: {exc}"[:120]}
outcome["seconds"] = round(time.monotonic() - started, 2)
outcome["peak_growth_mb"] = round((status("VmHWM") - before) / 2**20, 1)
print(json.dumps(outcome))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--mysql-url", default="mysql+pymysql://root@127.0.0.1:3306/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        sqlite_path, duckdb_path = Path(folder) / "b.db", Path(folder) / "b.duckdb"
        import sqlite3

        import duckdb

        sqlite3.connect(sqlite_path).close()
        duckdb.connect(str(duckdb_path)).close()
        urls = {
            "postgres": args.pg_url,
            "mysql": args.mysql_url,
            "sqlite": f"sqlite:///{sqlite_path}",
            "duckdb": f"duckdb:///{duckdb_path}",
        }
        print(f"{'engine':<10} {'outcome':<46} {'seconds':>8} {'peak RSS growth':>16}")
        for engine, sql in QUERIES.items():
            out = subprocess.run(
                [sys.executable, "-c", CHILD, urls[engine], sql], capture_output=True, text=True, check=True
            ).stdout
            result = json.loads(out.strip().splitlines()[-1])
            what = result.get("error") or (
                f"{result['rows']} rows, {result['bytes'] / 1e6:.1f} MB back, truncated={result['truncated']}"
            )
            print(f"{engine:<10} {what:<46} {result['seconds']:>8} {result['peak_growth_mb']:>13} MB")


if __name__ == "__main__":
    main()
