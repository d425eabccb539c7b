"""The allow-lists: the functions and cast types each engine's queries may call, the schemas and tables that
are the engine's own, and the refusals that cite them. Functions and types are listed one file per dialect and
kind under allowlists/, each reviewed against the engine's documentation; a name that is not listed is refused,
so a function added in an engine's next release is refused until someone reads what it does and lists it.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from datadesk.connectors.registry import BY_NAME
from datadesk.sql.checked import SqlNotAllowed


@cache
def allowed_functions(dialect: str) -> frozenset[str]:
    """The function names a query in `dialect` may call, lower case."""
    return _read_allowlist(f"{dialect}.functions.txt")


@cache
def allowed_types(dialect: str) -> frozenset[str]:
    """The type names a query in `dialect` may cast to, lower case, as the rebuilt SQL spells them."""
    return _read_allowlist(f"{dialect}.types.txt")


def _read_allowlist(name: str) -> frozenset[str]:
    text = resources.files("datadesk.sql").joinpath("allowlists", name).read_text(encoding="utf-8")
    entries = (line.split("#", 1)[0].strip().lower() for line in text.splitlines())
    return frozenset(entry for entry in entries if entry)


# Not calls, though written as a name and a parenthesis: constructors and predicates of the grammar.
SYNTAX_CALLS = frozenset({"cast", "try_cast", "safe_cast", "row", "array", "exists"})
CASTS = frozenset({"CAST", "TRY_CAST", "SAFE_CAST"})
# Functions the engine calls without parentheses when the bare word is written (SQL's niladic
# functions): the word alone must be allow-listed too. PostgreSQL parses `user` as such a call.
NILADIC: dict[str, frozenset[str]] = {
    "postgres": frozenset(
        "current_date current_time current_timestamp localtime localtimestamp current_user current_role"
        " session_user user current_catalog current_schema system_user".split()
    ),
    "mysql": frozenset(
        "current_date current_time current_timestamp localtime localtimestamp utc_date utc_time utc_timestamp"
        " current_user current_role".split()
    ),
    "sqlite": frozenset("current_date current_time current_timestamp".split()),
    "duckdb": frozenset(
        "current_date current_time current_timestamp localtime localtimestamp current_user current_role"
        " session_user user current_catalog current_schema".split()
    ),
}
# Schemas (and DuckDB catalogs) that hold the engine's catalog or server state, never a user's data.
SYSTEM_SCHEMAS: dict[str, frozenset[str]] = {
    "postgres": frozenset({"information_schema"}),  # and every pg_* schema (pg_catalog, pg_toast, pg_temp_N)
    "mysql": frozenset({"mysql", "information_schema", "performance_schema", "sys"}),
    "sqlite": frozenset(),
    "duckdb": frozenset({"system", "temp", "information_schema", "pg_catalog"}),
}
# Relation names that are the engine's own wherever they are written: SQLite reserves sqlite_* and
# answers pragma_* and dbstat (eponymous virtual tables) in every schema; DuckDB finds its catalog
# views (duckdb_tables, sqlite_master, pg_class, ...) on the default search path; MariaDB's Sequence
# engine answers seq_1_to_N in every database.
SYSTEM_TABLES: dict[str, re.Pattern[str]] = {
    "postgres": re.compile(r"(?!)"),  # pg_* is decided with the qualifiers (guard._check_table)
    "mysql": re.compile(r"seq_\d+_to_\d+(_step_\d+)?"),
    "sqlite": re.compile(r"(sqlite_|pragma_).*|dbstat|fsdir|zipfile|sqlar"),
    "duckdb": re.compile(r"(duckdb_|sqlite_|pg_|pragma_).*"),
}


def _function_refused(name: str, dialect: str) -> SqlNotAllowed:
    engine = BY_NAME[dialect].display_name
    return SqlNotAllowed(
        f"The function {name}() is not allowed: only the {engine} functions on the guard's"
        " allow-list (aggregates, window, string, date, math, JSON and array functions) can be called."
    )


def check_function(name: str, dialect: str) -> None:
    """Refuse a call of a function that is not on the dialect's allow-list."""
    if name.lower() not in allowed_functions(dialect):
        raise _function_refused(name.lower(), dialect)


def check_type(name: str, dialect: str) -> None:
    """Refuse a cast to a type that is not on the dialect's allow-list."""
    if _type_name(name) not in allowed_types(dialect):
        engine = BY_NAME[dialect].display_name
        raise SqlNotAllowed(
            f"Casting to {name.strip()} is not allowed: only built-in {engine} types can be used,"
            " not a table's row type, a catalog lookup (regclass, oid) or a user-defined type."
        )


def _type_name(text: str) -> str:
    """The name part of a type as generated: `DECIMAL(10, 2)[]` is decimal, `CHAR CHARACTER SET x` char."""
    name = re.split(r"[(\[]", text.lower(), maxsplit=1)[0]
    for suffix in (" character set ", " collate "):
        name = name.split(suffix, 1)[0]
    return " ".join(name.split())


def quoted_refused(text: str) -> SqlNotAllowed:
    """The refusal of a quoted function name: quoting could name a function other than the one listed."""
    return SqlNotAllowed(f"Quoted function names such as {text}() are not allowed; write the name unquoted.")


def qualified_refused(name: str) -> SqlNotAllowed:
    """The refusal of a schema-qualified or method-style call: only built-ins, by their plain name."""
    return SqlNotAllowed(
        f"Schema-qualified or method-style calls such as ….{name}() are not allowed; call built-in functions"
        " by their plain name."
    )
