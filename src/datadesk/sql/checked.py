"""What the guard hands back: an admitted query (`Checked`) and the tables it names, or the refusal saying why."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from datadesk.connectors.registry import SQL_DIALECTS
from datadesk.errors import DomainError


class SqlNotAllowed(DomainError):
    """The statement is not one read-only query the guard can vouch for; the message says why."""

    status = 400
    code = "sql_not_allowed"


@dataclass(frozen=True)
class TableRef:
    """A table as the query names it; identifiers normalised the way the engine resolves them."""

    schema: str | None
    name: str
    catalog: str | None = None

    def __str__(self) -> str:
        return ".".join(part for part in (self.catalog, self.schema, self.name) if part is not None)


@dataclass(frozen=True)
class Checked:
    """An admitted query. `sql` is what to run: rebuilt from the checked tree, comments dropped."""

    sql: str
    dialect: str
    tables: tuple[TableRef, ...]
    expression: exp.Expr = field(compare=False, repr=False)  # the checked query (behind any EXPLAIN)
    explain: bool = False
    # Every function the text that runs calls, lower case: an engine whose database can define functions
    # of its own (DuckDB macros, a PostgreSQL schema ahead of pg_catalog) may resolve one of these names
    # to its own definition; whoever opens the database can compare.
    functions: frozenset[str] = frozenset()


def sqlglot_dialect(dialect: str) -> str:
    """sqlglot's name for a guard dialect (an integration type); SqlNotAllowed for one that is not SQL."""
    try:
        return SQL_DIALECTS[dialect]
    except KeyError:
        raise SqlNotAllowed(f"Unknown SQL dialect {dialect!r}.") from None
