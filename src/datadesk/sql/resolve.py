"""Which relation each table of a checked query names, as the engine resolves it; the query rewritten to say so.

sqlglot folds names its own way (Unicode lower case, no search path). Engines do not: PostgreSQL
folds unquoted names to ASCII lower case and walks the connection's search path, MySQL compares
table names per `lower_case_table_names`, SQLite and DuckDB compare ASCII case-insensitively. So
names are resolved here by the engine's own rules (by the engine itself for PostgreSQL), and what
runs names every table fully qualified with quoted exact identifiers: the engine cannot pick
another relation than the one that was checked against the catalog.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb
import psycopg
import pymysql
from sqlalchemy.engine import make_url
from sqlglot import exp
from sqlglot.errors import ErrorLevel
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

from datadesk.errors import NotFound
from datadesk.sql import duckdb_child, engines, guard
from datadesk.sql.checked import Checked, SqlNotAllowed, TableRef

NOT_FOUND = "A table in this query is not in the catalog, or not visible to you."
_TIMEOUT_S = 10.0
_PG_NAME_BYTES = 63  # NAMEDATALEN - 1: PostgreSQL truncates longer identifiers
_PG_SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast", "pg_temp_", "pg_toast_temp_")
# Each name as the parser would resolve it (depth 0), then the tables that inherit from it: PostgreSQL
# reads their rows too. Partitions are left out: the catalog has their partitioned parent stand for them.
_PG_LOOKUP = """
WITH RECURSIVE q AS (
  SELECT u.i, pg_catalog.to_regclass(u.name) AS oid
  FROM pg_catalog.unnest(%s::pg_catalog.text[]) WITH ORDINALITY AS u(name, i)
), tree AS (
  SELECT q.i, q.oid, 0 AS depth FROM q
  UNION ALL
  SELECT tree.i, h.inhrelid, tree.depth + 1
  FROM tree
  JOIN pg_catalog.pg_inherits h ON h.inhparent = tree.oid
  JOIN pg_catalog.pg_class k ON k.oid = h.inhrelid AND NOT k.relispartition
)
SELECT tree.i, tree.depth, n.nspname, c.relname
FROM tree
LEFT JOIN pg_catalog.pg_class c ON c.oid = tree.oid
LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
ORDER BY tree.i, tree.depth, n.nspname, c.relname"""


@dataclass(frozen=True)
class Target:
    """A relation as the engine looks it up: (schema, name), compared under `Located.fold`."""

    schema: str
    name: str


@dataclass(frozen=True)
class Located:
    """Where each table of a checked query lives, before the catalog is consulted."""

    checked: Checked
    integration_type: str
    fold: Callable[[str], str]  # two names are the same relation to the engine when their folds are equal
    catalog: str | None  # the database or catalog part the rewritten names carry; None for two-part engines
    occurrences: tuple[Target, ...]  # one per table reference, in walk order
    inherited: Mapping[Target, tuple[Target, ...]] = field(default_factory=dict)  # read along with a target

    @property
    def targets(self) -> tuple[Target, ...]:
        return tuple(dict.fromkeys(self.occurrences))

    def same(self, a: str, b: str) -> bool:
        return self.fold(a) == self.fold(b)


@dataclass(frozen=True)
class Qualified:
    """The rewritten statement, re-checked, and which target each of its tables is."""

    checked: Checked
    targets: dict[TableRef, Target]


def ascii_lower(name: str) -> str:
    """Lower case for A-Z only, as SQLite, DuckDB and PostgreSQL's identifier folding do it."""
    return name.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _exact(name: str) -> str:
    return name


def locate(integration_type: str, url: str, checked: Checked) -> Located:
    """Resolve every table reference the way the engine will at run time; NotFound when it resolves to none."""
    references = _references(checked.expression.copy(), integration_type)
    if integration_type == "postgres":
        return _locate_postgres(url, checked, references)
    if integration_type == "mysql":
        return _locate_mysql(url, checked, references)
    if integration_type == "sqlite":
        targets = tuple(_sqlite_target(_parts(table)) for table in references)
        return Located(checked, integration_type, ascii_lower, None, targets)
    if integration_type == "duckdb":
        return _locate_duckdb(url, checked, references)
    raise SqlNotAllowed("This integration holds no data to query.")


def qualify(located: Located, exact: Mapping[Target, tuple[str, str]]) -> Qualified:
    """Rewrite the statement with each target's exact (schema, name), fully qualified and quoted, and re-check it."""
    checked = located.checked
    if not located.occurrences and not checked.tables:
        return Qualified(checked, {})
    dialect = checked.dialect
    body = _generate(checked.expression, dialect)
    if not checked.sql.endswith(body):
        raise SqlNotAllowed("The statement could not be checked reliably.")
    prefix = checked.sql[: len(checked.sql) - len(body)]  # EXPLAIN and its options, if any
    tree = checked.expression.copy()
    tables = _references(tree, located.integration_type)
    if len(tables) != len(located.occurrences):
        raise SqlNotAllowed("The statement could not be checked reliably.")
    expected: dict[TableRef, Target] = {}
    for table, target in zip(tables, located.occurrences, strict=True):
        schema, name = exact[target]
        catalog = _quoted(located.catalog) if located.catalog is not None else None
        table.set("catalog", catalog)
        table.set("db", _quoted(schema))
        table.set("this", _quoted(name))
        ref = TableRef(
            schema=_normalised(schema, dialect),
            name=_normalised(name, dialect),
            catalog=None if located.catalog is None else _normalised(located.catalog, dialect),
        )
        if expected.setdefault(ref, target) != target and exact[expected[ref]] != (schema, name):
            raise NotFound(NOT_FOUND)  # two relations the checker could not tell apart
    rewritten = guard.check(prefix + _generate(tree, dialect), dialect)
    # Every table of what runs must be one that was resolved and qualified here; a name left bare
    # (the guard and the engine disagreeing on a CTE name) is refused rather than guessed.
    if set(rewritten.tables) != set(expected):
        raise NotFound(NOT_FOUND)
    return Qualified(rewritten, expected)


# --- walking the tree ------------------------------------------------------------------------------


def _references(tree: exp.Expr, integration_type: str) -> list[exp.Table]:
    """Every table reference that names a relation, CTE names excluded where the engine would see them."""
    key = _CTE_KEYS[integration_type]
    found: list[exp.Table] = []
    try:
        _collect(tree, frozenset(), key, found)
    except RecursionError:
        raise SqlNotAllowed("The statement is nested too deeply to be checked.") from None
    return found


def _collect(
    node: exp.Expr, ctes: frozenset[str], key: Callable[[exp.Identifier], str], found: list[exp.Table]
) -> None:
    # A CTE sees those before it, as in the guard, but names compare as the engine compares them;
    # where the two disagree, `qualify` refuses.
    with_ = node.args.get("with_")
    if isinstance(with_, exp.With):
        recursive = bool(with_.args.get("recursive"))
        visible = set(ctes)
        for cte in with_.expressions:
            alias = cte.args.get("alias")
            ident = alias.this if isinstance(alias, exp.TableAlias) else None
            name = key(ident) if isinstance(ident, exp.Identifier) else cte.alias
            _collect_cte(cte.this, frozenset(visible), name if recursive else None, key, found)
            visible.add(name)
        ctes = frozenset(visible)
    if isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier):
        bare = node.args.get("db") is None and node.args.get("catalog") is None
        if not (bare and key(node.this) in ctes):
            found.append(node)
    _collect_children(node, ctes, key, found)


def _collect_children(
    node: exp.Expr,
    ctes: frozenset[str],
    key: Callable[[exp.Identifier], str],
    found: list[exp.Table],
    scopes: Mapping[str, frozenset[str]] | None = None,
) -> None:
    for name, value in node.args.items():
        if name == "with_":
            continue
        for child in value if isinstance(value, list) else [value]:
            if isinstance(child, exp.Expr):
                _collect(child, (scopes or {}).get(name, ctes), key, found)


def _collect_cte(
    body: exp.Expr,
    ctes: frozenset[str],
    recursive_name: str | None,
    key: Callable[[exp.Identifier], str],
    found: list[exp.Table],
) -> None:
    """A CTE's body. Under RECURSIVE it sees itself only in the recursive term of a UNION [ALL].

    DuckDB reads the real table everywhere else (a body without UNION, the first term, INTERSECT);
    PostgreSQL, SQLite and MariaDB refuse such a self-reference, so qualifying it costs nothing there.
    """
    inner = body
    while isinstance(inner, exp.Subquery) and not any(v for k, v in inner.args.items() if k != "this"):
        inner = inner.this
    if recursive_name is None or not isinstance(inner, exp.Union) or inner.args.get("with_") is not None:
        _collect(body, ctes, key, found)
        return
    _collect_children(inner, ctes, key, found, {"expression": ctes | {recursive_name}})


def _pg_name(ident: exp.Identifier) -> str:
    name = ident.this if ident.quoted else ascii_lower(ident.this)
    return name.encode()[:_PG_NAME_BYTES].decode(errors="ignore")


_CTE_KEYS: dict[str, Callable[[exp.Identifier], str]] = {
    "postgres": _pg_name,
    "mysql": lambda ident: ident.this.lower(),  # MariaDB matches CTE names case-insensitively
    "sqlite": lambda ident: ascii_lower(ident.this),
    "duckdb": lambda ident: ascii_lower(ident.this),
}


def _parts(table: exp.Table) -> tuple[str | None, str | None, str]:
    """(catalog, schema, name) as written, quotes removed."""
    catalog, db = table.args.get("catalog"), table.args.get("db")
    return (
        catalog.name if isinstance(catalog, exp.Identifier) else None,
        db.name if isinstance(db, exp.Identifier) else None,
        table.name,
    )


def _bare(table: exp.Table) -> exp.Table:
    """The reference's name alone: no alias, sample or joins."""
    parts = {key: table.args.get(key) for key in ("this", "db", "catalog")}
    return exp.Table(**{key: part.copy() for key, part in parts.items() if isinstance(part, exp.Expr)})


def _quoted(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


def _normalised(name: str, dialect: str) -> str:
    """A quoted name as the guard reports it in `Checked.tables`."""
    identifier = normalize_identifiers(_quoted(name), dialect=dialect)
    return identifier.name


def _generate(tree: exp.Expr, dialect: str) -> str:
    # The guard's own generation settings, so the rebuilt text is the very text it would run.
    return tree.sql(dialect=dialect, comments=False, unsupported_level=ErrorLevel.RAISE, normalize_functions=False)


# --- PostgreSQL ------------------------------------------------------------------------------------


def _locate_postgres(url: str, checked: Checked, references: list[exp.Table]) -> Located:
    if not references:
        return Located(checked, "postgres", _exact, None, ())
    # The text of each reference as written (quotes kept): to_regclass folds and walks the search
    # path exactly as the parser will, as the integration's own user, with its own settings.
    names = [_bare(table).sql("postgres") for table in references]
    with _pg_connection(url) as conn:
        try:
            database = str((conn.execute("SELECT pg_catalog.current_database()").fetchone() or ("",))[0])
            rows = conn.execute(_PG_LOOKUP, (names,)).fetchall()
        except psycopg.Error:
            # permission denied for a schema, a cross-database reference, a malformed name
            raise NotFound(NOT_FOUND) from None
    found: dict[int, list[Target]] = {}
    for index, _depth, schema, name in rows:
        if schema is None or name is None or schema.startswith(_PG_SYSTEM_SCHEMAS):
            raise NotFound(NOT_FOUND)
        found.setdefault(index, []).append(Target(schema, name))
    targets = tuple(found[index][0] for index in range(1, len(names) + 1))
    inherited = {found[index][0]: tuple(dict.fromkeys(found[index][1:])) for index in found if found[index][1:]}
    return Located(checked, "postgres", _exact, database, targets, inherited)


@contextlib.contextmanager
def _pg_connection(url: str) -> Iterator[psycopg.Connection[Any]]:
    parsed = make_url(url)
    try:
        conn = psycopg.connect(**engines.pg_params(parsed, _TIMEOUT_S))
    except psycopg.Error as exc:
        raise engines.SqlError(f"Could not connect to the database: {engines.clean_error(exc, parsed)}") from None
    try:
        conn.read_only = True
        conn.execute(f"SET LOCAL statement_timeout = {int(_TIMEOUT_S * 1000)}")
        yield conn
    finally:
        with contextlib.suppress(psycopg.Error):
            conn.rollback()
        conn.close()


# --- MySQL / MariaDB -------------------------------------------------------------------------------


def _locate_mysql(url: str, checked: Checked, references: list[exp.Table]) -> Located:
    if not references:
        return Located(checked, "mysql", _exact, None, ())
    parsed = make_url(url)
    try:
        conn = pymysql.connect(**engines.mysql_params(parsed, _TIMEOUT_S))
    except pymysql.MySQLError as exc:
        message = engines.clean_error(engines.mysql_message(exc), parsed)
        raise engines.SqlError(f"Could not connect to the database: {message}") from None
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT DATABASE(), @@lower_case_table_names")
            database, lower_case = cursor.fetchone() or (None, 0)
    finally:
        with contextlib.suppress(pymysql.MySQLError):
            conn.close()
    # 0: names are compared as stored (case-sensitive); 1 and 2: compared in lower case.
    fold: Callable[[str], str] = _exact if int(lower_case) == 0 else str.lower
    targets: list[Target] = []
    for table in references:
        catalog, schema, name = _parts(table)
        if catalog is not None or (schema is None and not database):
            raise NotFound(NOT_FOUND)
        targets.append(Target(schema if schema is not None else str(database), name))
    return Located(checked, "mysql", fold, None, tuple(targets))


# --- SQLite ----------------------------------------------------------------------------------------


def _sqlite_target(parts: tuple[str | None, str | None, str]) -> Target:
    # The runner attaches nothing and a fresh connection's temp schema is empty: everything is in main.
    catalog, schema, name = parts
    if catalog is not None:
        raise NotFound(NOT_FOUND)
    return Target(schema if schema is not None else "main", name)


# --- DuckDB ----------------------------------------------------------------------------------------


def _locate_duckdb(url: str, checked: Checked, references: list[exp.Table]) -> Located:
    if not references:
        return Located(checked, "duckdb", ascii_lower, None, ())
    parsed = make_url(url)
    if not parsed.database or parsed.database == ":memory:":
        raise engines.SqlError("A DuckDB integration needs a database file.")
    try:
        conn = duckdb_child.connect(parsed.database)
    except duckdb.Error as exc:
        raise engines.SqlError(f"Could not open the database: {engines.clean_error(exc, parsed)}") from None
    try:
        # current_database() would name `system`: the search path holds only built-ins (duckdb_child.connect)
        default = str(
            (conn.execute("SELECT database_name FROM duckdb_databases() WHERE NOT internal").fetchone() or ("",))[0]
        )
        catalogs = {
            ascii_lower(str(row[0])) for row in conn.execute("SELECT database_name FROM duckdb_databases()").fetchall()
        }
        schemas = {
            ascii_lower(str(row[0])) for row in conn.execute("SELECT schema_name FROM duckdb_schemas()").fetchall()
        }
    finally:
        conn.close()
    targets = tuple(_duckdb_target(_parts(table), default, catalogs, schemas) for table in references)
    return Located(checked, "duckdb", ascii_lower, default, targets)


def _duckdb_target(
    parts: tuple[str | None, str | None, str], default: str, catalogs: set[str], schemas: set[str]
) -> Target:
    """DuckDB's reading of a name: `a.b` is schema a, or catalog a's schema main if only a catalog is so named."""
    catalog, schema, name = parts
    if catalog is not None:
        if ascii_lower(catalog) != ascii_lower(default):
            raise NotFound(NOT_FOUND)
        return Target(schema or "main", name)
    if schema is None:
        return Target("main", name)  # the search path: temp (empty here), then the default catalog's main
    is_catalog, is_schema = ascii_lower(schema) in catalogs, ascii_lower(schema) in schemas
    if is_catalog and is_schema:
        raise NotFound(NOT_FOUND)  # DuckDB itself refuses: "Ambiguous reference to catalog or schema"
    if is_catalog:
        if ascii_lower(schema) != ascii_lower(default):
            raise NotFound(NOT_FOUND)
        return Target("main", name)
    return Target(schema, name)
