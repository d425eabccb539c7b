"""What every connector yields: a plain snapshot of a source's metadata, and the protocol they share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

# (done, total, what) -- connectors report progress through this; total may be 0 when unknown.
Progress = Callable[[int, int, str], None]


def no_progress(_done: int, _total: int, _what: str) -> None:
    return None


@dataclass
class ColumnMeta:
    name: str
    data_type: str = ""
    description: str = ""
    ordinal: int = 0
    nullable: bool = True
    is_primary_key: bool = False
    tags: list[str] = field(default_factory=list)


@dataclass
class ForeignKey:
    columns: list[str]
    ref_schema: str
    ref_table: str
    ref_columns: list[str]


@dataclass(frozen=True)
class ColumnEdge:
    """One column-level lineage edge read from a view's or a dbt model's SQL (connectors.lineage)."""

    column: str  # output column of the table holding the edge; "" for a filter edge, which bears on the whole table
    source: tuple[str, str]  # (schema, name) of the table read, in the same source
    source_column: str
    kind: str = "value"  # value: the column's value is computed from it | filter: it decides which rows (join, where)
    source_id: str = ""  # dbt unique_id of the table read, when known (names can be ambiguous there)


@dataclass
class TableMeta:
    """A table-like thing: table, view, materialized view, or a dbt model/source/seed/snapshot."""

    schema: str
    name: str
    kind: str = "table"  # table | view | materialized_view | model | source | seed | snapshot
    description: str = ""
    columns: list[ColumnMeta] = field(default_factory=list)
    row_estimate: int | None = None
    popularity: float = 0.0  # e.g. scans from pg_stat_user_tables
    definition: str = ""  # view SQL or dbt model SQL; metadata, never data
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    # Lineage: (schema, name) of what this reads from, in the same source.
    upstream: list[tuple[str, str]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    owner: str = ""  # dbt meta.owner or similar; free text
    properties: dict[str, str] = field(default_factory=dict)
    # For dbt: where it is built in the warehouse (database, schema, name); linked to synced tables.
    relation: tuple[str, str, str] | None = None
    unique_id: str = ""  # dbt unique_id; empty for databases
    # For dbt: unique_ids of what `upstream` names; (schema, name) alone can be ambiguous there
    # (a seed and a source declared on it share both).
    upstream_ids: list[str] = field(default_factory=list)
    # For dbt: the data tests attached to it, as "test(column)" or "test" (e.g. "unique(customer_id)").
    tests: list[str] = field(default_factory=list)
    compiled: str = ""  # dbt: compiled_code, the SQL lineage is read from (raw Jinja is not SQL)
    column_lineage: list[ColumnEdge] = field(default_factory=list)
    lineage_unparsed: bool = False  # its SQL could not be read for column lineage


@dataclass
class DashboardMeta:
    """A dashboard or other consumer (dbt exposure)."""

    name: str
    description: str = ""
    url: str = ""
    owner: str = ""
    tags: list[str] = field(default_factory=list)
    upstream: list[tuple[str, str]] = field(default_factory=list)
    unique_id: str = ""
    upstream_ids: list[str] = field(default_factory=list)  # for dbt, as in TableMeta


@dataclass
class MetricMeta:
    """A dbt semantic-layer object: a semantic model (entities, measures, dimensions on a model) or a metric."""

    name: str
    kind: str = "metric"  # metric | semantic_model
    metric_type: str = ""  # a metric's: simple | ratio | derived | cumulative | conversion
    description: str = ""
    owner: str = ""
    tags: list[str] = field(default_factory=list)
    # A semantic model's entities, measures and dimensions; a metric's label, type_params and filter. Metadata only.
    properties: dict[str, Any] = field(default_factory=dict)
    unique_id: str = ""
    # What it is built on: a semantic model's model; a metric's semantic models, or the metrics it combines.
    upstream_ids: list[str] = field(default_factory=list)


@dataclass
class DataTestMeta:
    """A dbt data test on a node (and a column of it), with its last result when run_results.json says it."""

    unique_id: str
    name: str  # unique, not_null, relationships, accepted_values, dbt_utils.expression_is_true, a singular test's
    attached_id: str  # unique_id of the node it tests
    column: str = ""
    status: str = ""  # pass | fail | warn | error | skipped; "" when no result is known
    at: str = ""  # when that result was completed, ISO 8601 UTC
    failures: int | None = None  # how many rows failed it, as dbt counted them


@dataclass
class Snapshot:
    database: str
    schemas: dict[str, str] = field(default_factory=dict)  # name -> description
    tables: list[TableMeta] = field(default_factory=list)
    dashboards: list[DashboardMeta] = field(default_factory=list)
    dialect: str = ""  # sqlglot dialect the source's SQL is written in (postgres, mysql, sqlite, duckdb, ...)
    metrics: list[MetricMeta] = field(default_factory=list)  # dbt semantic models and metrics
    data_tests: list[DataTestMeta] = field(default_factory=list)  # dbt data tests, with their last results
    # The source's statement history (connectors.history): statement text and counts, never results.
    statements: list[StatementStat] = field(default_factory=list)
    usage_note: str = ""  # why the history could not be read, said to the user; "" when it was (or has none)


class ConnectionFailed(Exception):
    """The source could not be reached or read; the message is safe to show (no secrets)."""


class Connector(Protocol):
    def test(self) -> None:
        """Raise ConnectionFailed with a clear reason unless the source can be read."""

    def read(self, progress: Progress = no_progress) -> Snapshot:
        """Read the whole catalog with a few bulk queries."""


def scrub(message: str, *secrets: str | None) -> str:
    """Return message with every non-empty secret replaced by ***."""
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    return message


def tables_in_sql(sql: str, dialect: str) -> list[tuple[str, str]]:
    """The (schema, name) of each table a view's SQL reads, in order; schema is "" when unqualified."""
    import sqlglot  # imported here: only connectors that parse view SQL pay for it
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(sql, dialect=dialect)
    except sqlglot.errors.SqlglotError:
        return _tables_after_from(sql, dialect)
    if isinstance(tree, exp.Create):
        tree = tree.expression
    if tree is None or isinstance(tree, exp.Command):  # sqlglot gave up on it and kept the text
        return _tables_after_from(sql, dialect)
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    found: list[tuple[str, str]] = []
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue  # a table function such as read_parquet(...)
        key = (table.db, table.name)
        if not table.db and table.name.lower() in ctes:
            continue
        if key not in found:
            found.append(key)
    return found


def _tables_after_from(sql: str, dialect: str) -> list[tuple[str, str]]:
    """What SQL the parser cannot read still names its tables after FROM, JOIN and commas: the tokens say which."""
    from sqlglot.dialects.dialect import Dialect
    from sqlglot.errors import SqlglotError
    from sqlglot.tokens import TokenType

    try:
        tokens = Dialect.get_or_raise(dialect).tokenize(sql)
    except SqlglotError:
        return []
    names = {TokenType.VAR, TokenType.IDENTIFIER}
    found: list[tuple[str, str]] = []
    ctes = {  # WITH x AS (...)
        tokens[i - 1].text.lower()
        for i, t in enumerate(tokens[:-1])
        if t.token_type == TokenType.ALIAS and i > 0 and tokens[i + 1].token_type == TokenType.L_PAREN
    }
    i = 0
    while i < len(tokens):
        if tokens[i].token_type not in (TokenType.FROM, TokenType.JOIN):
            i += 1
            continue
        while True:  # FROM a [AS] x, b.c y ...
            parts, i = [tokens[i + 1]] if i + 1 < len(tokens) else [], i + 2
            while parts and i + 1 < len(tokens) and tokens[i].token_type == TokenType.DOT:
                parts, i = [*parts, tokens[i + 1]], i + 2
            if not parts or any(p.token_type not in names for p in parts):
                break
            key = (parts[-2].text if len(parts) > 1 else "", parts[-1].text)
            if key not in found and (key[0] or key[1].lower() not in ctes):
                found.append(key)
            i += 1 if i < len(tokens) and tokens[i].token_type == TokenType.ALIAS else 0
            i += 1 if i < len(tokens) and tokens[i].token_type in names else 0
            if i >= len(tokens) or tokens[i].token_type != TokenType.COMMA:
                break
    return found


def file_path(url: str, backend: str, label: str, example: str) -> Path:
    """The file a sqlite:/// or duckdb:/// URL names; ValueError (without the URL) when it names none."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError(f"not a valid {label} URL (expected {example})") from None
    if parsed.get_backend_name() != backend or not parsed.database or parsed.database == ":memory:":
        raise ValueError(f"not a {label} file URL (expected {example})")
    return Path(parsed.database).expanduser()


def require_file(path: Path, label: str) -> None:
    """ConnectionFailed unless the path is an existing file."""
    if not path.exists():
        raise ConnectionFailed(f"{label} file {path} does not exist")
    if not path.is_file():
        raise ConnectionFailed(f"{path} is not a file")


@dataclass
class StatementStat:
    """One entry of a source's statement history: a statement's text and how often it ran; never its results.

    Metadata that stays on this server: catalog.usage maps it to tables and stores no text of it.
    """

    text: str  # as the source keeps it: normalised (constants as $1 or ?) except where the source keeps them
    calls: int  # cumulative since the source began counting (`since`)
    user: str | None = None  # who ran it, as the source identifies users (an id, not a name); None: not said
    schema: str = ""  # the default schema (MySQL: database) it ran in; "" when the source does not say
    last_seen: datetime | None = None
    since: datetime | None = None  # when the source began counting (its last reset), when known
