"""Column-level lineage: which source columns each view and dbt model column is computed or filtered from."""

from __future__ import annotations

import graphlib
from collections import defaultdict

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.qualify_columns import qualify_columns
from sqlglot.optimizer.qualify_tables import qualify_tables
from sqlglot.optimizer.scope import build_scope
from sqlglot.schema import MappingSchema

from datadesk.connectors.base import ColumnEdge, ColumnMeta, Snapshot, TableMeta
from datadesk.connectors.lineage_scope import Leaf, ScopeWalk

MAX_SQL = 200_000
VIEW_KINDS = ("view", "materialized_view")
DBT_KINDS = ("model", "snapshot")
# Lineage needs column names only; real type strings would be parsed by some dialects, and some fail to.
ANY_TYPE = "UNKNOWN"


def annotate(snapshot: Snapshot) -> int:
    """Fill each view's and dbt model's column_lineage from its SQL; returns how many could not be read."""
    resolver = Resolver(snapshot)
    unparsed = 0
    for table in _upstream_first(snapshot.tables):
        sql = _sql(table)
        if not sql:
            continue
        table.column_lineage = []
        try:
            if len(sql) > MAX_SQL:
                raise ValueError("SQL too long to read for lineage")
            table.column_lineage = _edges(table, sql, resolver)
            table.lineage_unparsed = False
        # sqlglot raises its own errors, and also ValueError, KeyError, RecursionError... on SQL it cannot read.
        except Exception:
            table.lineage_unparsed = True
            unparsed += 1
    return unparsed


class Resolver:
    """The snapshot's tables by the names SQL reaches them by, and how each engine resolves those names."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.dialect = snapshot.dialect or None
        self.database = snapshot.database.lower()
        self.by_name: dict[tuple[str, str], list[TableMeta]] = defaultdict(list)
        self.by_relation: dict[tuple[str, str, str], list[TableMeta]] = defaultdict(list)
        for table in snapshot.tables:
            if table.relation:  # dbt: the relation it is built as, which is what compiled SQL names
                database, schema, name = (part.lower() for part in table.relation)
                self.by_relation[database, schema, name].append(table)
                self.by_name[schema, name].append(table)
            elif not table.unique_id:
                self.by_name[table.schema.lower(), table.name.lower()].append(table)

    def find(self, reader: TableMeta, ref: exp.Table) -> TableMeta | None:
        """The table a reference in reader's SQL (identifiers already lower case) points to, if in the snapshot."""
        name, schema, database = ref.name, ref.db, ref.catalog
        if reader.unique_id:
            candidates: list[TableMeta] = []
            if database:
                candidates = self.by_relation.get((database, schema, name), [])
            if not candidates:
                own_schema = reader.relation[1].lower() if reader.relation else reader.schema.lower()
                candidates = self.by_name.get((schema or own_schema, name), [])
            # A seed and the source declared on it share a relation; the node's own dependencies tell which.
            return next((c for c in candidates if c.unique_id in reader.upstream_ids), next(iter(candidates), None))
        if self.dialect == "postgres":  # pg_get_viewdef qualifies whatever is not on the default search_path
            schemas = [schema or "public"]
        elif self.dialect == "duckdb":  # the view's schema, then main; a one-part prefix may name the database
            schemas = [schema] if schema and schema != self.database else [reader.schema.lower(), "main"]
        else:  # MySQL: the view's own database; SQLite: main, the only schema
            schemas = [schema or reader.schema.lower()]
        return next((found[0] for s in schemas if (found := self.by_name.get((s, name)))), None)


def _sql(table: TableMeta) -> str:
    if table.unique_id:
        return table.compiled if table.kind in DBT_KINDS else ""  # raw Jinja is not SQL
    return table.definition if table.kind in VIEW_KINDS else ""


def _upstream_first(tables: list[TableMeta]) -> list[TableMeta]:
    """dbt nodes after those they read, so columns added to a model are known when its dependents are read."""
    by_id = {table.unique_id: table for table in tables if table.unique_id}
    graph = {uid: [up for up in table.upstream_ids if up in by_id] for uid, table in by_id.items()}
    try:
        order = list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError:
        return tables
    return [by_id[uid] for uid in order] + [table for table in tables if not table.unique_id]


def _edges(table: TableMeta, sql: str, resolver: Resolver) -> list[ColumnEdge]:
    """Parse once, qualify once against the tables the SQL reads, build the scope once, then walk it."""
    query, spellings = _query(sql, resolver.dialect)
    query, read = _qualify_tables(query, table, resolver)
    columns = {key: {c.name.lower(): c.name for c in known.columns} for key, known in read.items()}
    schema: dict[str, object] = {key: dict.fromkeys(names, ANY_TYPE) for key, names in columns.items() if names}
    query = qualify_columns(query, MappingSchema(schema, dialect=resolver.dialect, normalize=False))
    root = build_scope(query)
    if root is None:
        raise ValueError("not a query")
    walk = ScopeWalk(root)
    outputs, filters = walk.outputs(), walk.filters()
    if any(name == "*" for name, _ in outputs):  # a * over a table whose columns are unknown: go by the table's
        outputs = [(name, walk.output(root, name)) for name in (c.name.lower() for c in table.columns)]

    def edges(column: str, leaves: frozenset[Leaf], kind: str) -> list[ColumnEdge]:
        found = []
        for key, name in sorted(leaves):
            source, source_column = read.get(key), columns.get(key, {}).get(name)
            if source is not None and source_column is not None:  # a column the source does not list has no resource
                found.append(ColumnEdge(column, (source.schema, source.name), source_column, kind, source.unique_id))
        return found

    for names in columns.values():
        spellings.update({lower: name for lower, name in names.items() if lower not in spellings})
    result: list[ColumnEdge] = []
    for column, (_, leaves) in zip(_output_columns(table, [n for n, _ in outputs], spellings), outputs, strict=True):
        if column is not None:
            result += edges(column, leaves, "value")
    result += edges("", filters, "filter")
    return list(dict.fromkeys(result))


def _qualify_tables(query: exp.Query, table: TableMeta, resolver: Resolver) -> tuple[exp.Query, dict[str, TableMeta]]:
    """Qualify the query's tables, renaming each one in the snapshot to a key of its own; the tables by key."""
    read: dict[str, TableMeta] = {}

    def resolve(ref: exp.Table) -> None:
        if not isinstance(ref.this, exp.Identifier):  # a table function such as read_parquet(...)
            return
        found = resolver.find(table, ref)
        if found is None or found is table:  # not in the snapshot, or an incremental model reading itself
            return
        key = next((key for key, known in read.items() if known is found), f"__dd_{len(read)}")
        read[key] = found
        # Its own key, not its name: the schema then finds it whatever the dialect's naming rules.
        ref.set("this", exp.to_identifier(key, quoted=True))
        ref.set("db", None)
        ref.set("catalog", None)

    # Only qualify_tables tells a real table from a CTE of the same name exactly; on_qualify sees real ones only.
    return qualify_tables(query, dialect=resolver.dialect, on_qualify=resolve), read


def _query(sql: str, dialect: str | None) -> tuple[exp.Query, dict[str, str]]:
    """The SELECT of a view or model, identifiers lower case; and their original spellings."""
    tree = sqlglot.parse_one(sql, dialect=dialect)
    if isinstance(tree, exp.Create):  # SQLite and DuckDB keep the whole CREATE VIEW statement
        tree = tree.expression
    if isinstance(tree, exp.Subquery):
        tree = tree.unnest()
    if not isinstance(tree, exp.Query):
        raise ValueError("not a query")
    # Every engine here matches table and column names case-insensitively in practice; quoting them all keeps
    # sqlglot from folding them again by the dialect's rules (upper case for Snowflake).
    spellings: dict[str, str] = {}
    for identifier in tree.find_all(exp.Identifier):
        spellings.setdefault(identifier.this.lower(), identifier.this)
        identifier.set("this", identifier.this.lower())
        identifier.set("quoted", True)
    # Left unaliased, qualify_tables would alias a table by its name folded by the dialect's rules.
    for ref in tree.find_all(exp.Table):
        if isinstance(ref.this, exp.Identifier) and not ref.alias and isinstance(ref.parent, exp.From | exp.Join):
            ref.set("alias", exp.TableAlias(this=exp.to_identifier(ref.name, quoted=True)))
    return tree, spellings


def _output_columns(table: TableMeta, outputs: list[str], spellings: dict[str, str]) -> list[str | None]:
    """The table's column for each output column of its SQL (None if it has none); dbt nodes get missing ones."""
    if not table.unique_id and len(outputs) == len(table.columns):
        # The engine names a view's columns in the order its query selects them, even when CREATE VIEW renames them.
        return [column.name for column in sorted(table.columns, key=lambda c: c.ordinal)]
    existing = {column.name.lower(): column.name for column in table.columns}
    names: list[str | None] = []
    for output in outputs:
        if output not in existing and table.unique_id:
            ordinal = max((column.ordinal for column in table.columns), default=0) + 1
            table.columns.append(ColumnMeta(name=spellings.get(output, output), ordinal=ordinal))
            existing[output] = table.columns[-1].name
        names.append(existing.get(output))
    return names
