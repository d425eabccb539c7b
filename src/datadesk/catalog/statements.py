"""Which tables one SQL statement of a source's history reads and writes, parsed with sqlglot (catalog.usage).

Names are resolved as the engine does: PostgreSQL folds unquoted names to lower case, MySQL keeps them as
written; a name without a schema takes the default schema given (a CTE's name is not a table). A statement
that writes a table from what it reads (INSERT ... SELECT, CREATE TABLE AS, SELECT INTO) also says which
tables feed which: catalog.query_lineage makes edges of them. Nothing here keeps a statement's text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

MAX_TEXT = 100_000  # longer statements are not parsed (counted as unparsed)
# Identifier-like words of a statement: "quoted", `quoted` or bare; a statement naming no known table is not parsed.
_WORDS = re.compile(r'"((?:[^"]|"")*)"|`((?:[^`]|``)*)`|([^\W\d][\w$]*)')

Name = tuple[str, str]  # (schema, table) as the engine resolves it


@dataclass(frozen=True)
class Touched:
    """The tables one statement reads and writes, and which of them feed which (INSERT ... SELECT, CTAS)."""

    tables: frozenset[Name]
    feeds: frozenset[tuple[Name, Name]] = frozenset()


def parse(text: str, dialect: str, default_schema: str, database: str) -> Touched | None:
    """The tables a statement touches, named as the engine resolves them; None when it cannot be parsed."""
    if len(text) > MAX_TEXT:
        return None
    try:
        trees = sqlglot.parse(text, read=dialect)
    except (sqlglot.errors.SqlglotError, RecursionError):
        return None
    tables: set[Name] = set()
    feeds: set[tuple[Name, Name]] = set()
    for tree in trees:
        if not isinstance(tree, exp.Expression):
            continue
        if isinstance(tree, exp.Command):  # sqlglot kept it as text: nothing can be said of its tables
            return None
        ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
        target = _target(tree)
        reads: set[Name] = set()
        written: Name | None = None
        for node in tree.find_all(exp.Table):
            name = _resolve(node, dialect, default_schema, database, ctes)
            if name is None:
                continue
            tables.add(name)
            if node is target:
                written = name
            else:
                reads.add(name)
        if written is not None and _feeds(tree):
            feeds |= {(up, written) for up in reads if up != written}
    return Touched(frozenset(tables), frozenset(feeds))


def _target(tree: exp.Expression) -> exp.Table | None:
    """The table a statement writes, if any."""
    node: exp.Expression | None = None
    if isinstance(tree, exp.Insert | exp.Create | exp.Update | exp.Delete | exp.Merge):
        node = tree.this
    elif isinstance(tree, exp.Select) and isinstance(tree.args.get("into"), exp.Into):
        node = tree.args["into"].this
    if isinstance(node, exp.Schema):  # INSERT INTO t (a, b) / CREATE TABLE t (a int)
        node = node.this
    return node if isinstance(node, exp.Table) else None


def _feeds(tree: exp.Expression) -> bool:
    """Whether what the statement reads fills the table it writes: INSERT ... SELECT, CREATE TABLE AS, SELECT INTO."""
    if isinstance(tree, exp.Insert):
        return True
    if isinstance(tree, exp.Create):
        return str(tree.args.get("kind") or "").upper() == "TABLE" and tree.expression is not None
    return isinstance(tree, exp.Select)


def _resolve(node: exp.Table, dialect: str, default_schema: str, database: str, ctes: set[str]) -> Name | None:
    if not isinstance(node.this, exp.Identifier):
        return None  # a table function
    name = _ident(node.this, dialect)
    catalog, schema = node.args.get("catalog"), node.args.get("db")
    if schema is None and name.lower() in ctes:
        return None
    if isinstance(catalog, exp.Identifier) and database and _ident(catalog, dialect) != database:
        return None  # another database's table
    if isinstance(schema, exp.Identifier):
        return (_ident(schema, dialect), name)
    return (default_schema, name) if default_schema else None


def _ident(identifier: exp.Identifier, dialect: str) -> str:
    """PostgreSQL folds unquoted names to lower case; MySQL keeps them as written."""
    text = str(identifier.this)
    return text if identifier.quoted or dialect != "postgres" else text.lower()


def words(text: str) -> set[str]:
    """The statement's identifier-like words, lower-cased: a cheap test of whether it names a known table."""
    return {(a or b or c).replace('""', '"').replace("``", "`").lower() for a, b, c in _WORDS.findall(text)}
