"""Runs one DuckDB query in a child process and streams its rows to the parent as JSON lines.

DuckDB computes 2,048 rows at a time in the memory of the process that runs it, so a query of huge
values (`repeat('x', 10000000) FROM range(50)`) would grow the server by gigabytes. Here it grows
a child with a memory limit instead, which the parent kills as soon as it has read enough.

Protocol: one JSON request line on stdin ({"path", "sql", "builtins_only"}); then on stdout one header object
({"columns": [[name, type], ...]}), one JSON array per row (values converted and cut as
`values.cell` does), and a final {"end": true}; or an {"error": ..., "message": ...} object.
"""

from __future__ import annotations

import json
import resource
import sys
from typing import Any

import duckdb

from datadesk.sql.values import cell

CONFIG: dict[str, Any] = {
    "enable_external_access": False,  # no files, URLs, ATTACH, COPY or extension installs
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "python_enable_replacements": False,  # never scan this process's Python variables as tables
}
READS = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
MEMORY_LIMIT = 2 * 1024**3  # address space of the child; a query past it fails, the server does not
BATCH = 64


def connect(path: str, *, builtins_only: bool = True) -> duckdb.DuckDBPyConnection:
    """A read-only connection that sees only built-in functions unless a name is qualified.

    A database file may hold macros named like built-ins (`lower`, `hamming`), and DuckDB would call
    them instead; with only `system.main` on the search path it cannot. Tables are always named in
    full by the time a query runs. Then the configuration is locked, so no SET can undo any of it.
    """
    conn = duckdb.connect(path, read_only=True, config=dict(CONFIG))
    if builtins_only:
        conn.execute("SET search_path = 'system.main'")
    conn.execute("SET lock_configuration = true")
    return conn


def _send(item: object) -> None:
    sys.stdout.write(json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n")


def main() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    request = json.loads(sys.stdin.readline())
    try:
        conn = connect(request["path"], builtins_only=bool(request.get("builtins_only", True)))
    except duckdb.Error as exc:
        _send({"error": "open", "message": str(exc)})
        return
    try:
        statements = conn.extract_statements(request["sql"])  # DuckDB's own parser
        if len(statements) != 1:
            _send({"error": "several", "message": "Only one statement can be run at a time."})
            return
        if statements[0].type not in READS:
            _send({"error": "not_read", "message": "Only read-only queries can be run."})
            return
        result = conn.execute(statements[0])
        _send({"columns": [[str(c[0]), str(c[1])] for c in result.description or []]})
        while rows := result.fetchmany(BATCH):
            for row in rows:
                _send([cell(value)[0] for value in row])
        _send({"end": True})
    except (duckdb.Error, MemoryError) as exc:
        message = "The query needed more memory than a query may use." if isinstance(exc, MemoryError) else str(exc)
        _send({"error": "sql", "message": message})
    finally:
        sys.stdout.flush()
        conn.close()


if __name__ == "__main__":
    main()
