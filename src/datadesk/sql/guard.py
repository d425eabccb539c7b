"""The SQL guard: admits exactly one read-only query and names the tables it reads.

Pure, no database access. It is the first of three walls (then catalog visibility, then the engine's own
read-only mode in `engines.py`), so it refuses whatever it cannot vouch for. What runs is rebuilt from the
tree it checked (comments dropped), so no parser differential between sqlglot and the engine (comments,
quoting, executable comments) can smuggle anything past it. Functions and cast types are checked against
the allow-lists (`allowlist.py`) twice: on each function node as the generator writes it, and on every call
and cast in the tokens of the rebuilt text, as the engine will read it (`tokens.py`).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, Protocol, cast

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

from datadesk.connectors.registry import BY_NAME, SQL_DIALECTS
from datadesk.sql.allowlist import (
    NILADIC,
    SYNTAX_CALLS,
    SYSTEM_SCHEMAS,
    SYSTEM_TABLES,
    check_function,
    check_type,
    qualified_refused,
    quoted_refused,
)
from datadesk.sql.checked import Checked, SqlNotAllowed, TableRef, sqlglot_dialect
from datadesk.sql.tokens import (
    EMPTY,
    SEVERAL,
    UNPARSEABLE,
    WORD,
    check_calls,
    check_tokens,
    result_texts,
    split_explain,
    tokenize,
)

MAX_SQL_LENGTH = 100_000


def _func_name(node: exp.Func) -> str:
    return node.name if isinstance(node, (exp.Anonymous, exp.AnonymousAggFunc)) else node.sql_name().lower()


_FORBIDDEN: tuple[tuple[type[exp.Expr] | tuple[type[exp.Expr], ...], str], ...] = (
    (exp.Into, "SELECT … INTO is not allowed: it writes to a table, a file or variables."),
    (exp.Lock, "Locking clauses (FOR UPDATE, FOR SHARE, LOCK IN SHARE MODE) are not allowed."),
    ((exp.DML, exp.Returning, exp.LoadData, exp.Export),
     "Statements that change data are not allowed, not even inside WITH."),
    ((exp.DDL, exp.Drop, exp.Alter, exp.TruncateTable, exp.Comment, exp.Undrop, exp.Analyze, exp.Grant,
      exp.Revoke, exp.Cache, exp.Uncache, exp.Refresh, exp.Kill),
     "Statements that change the schema, permissions or the server are not allowed."),
    ((exp.Command, exp.Set, exp.Pragma, exp.Attach, exp.Detach, exp.Install, exp.Use, exp.Transaction,
      exp.Commit, exp.Rollback, exp.Execute, exp.Declare, exp.Show, exp.Describe, exp.Summarize),
     "Only read-only queries can be run; session, transaction and utility commands cannot."),
    (exp.NextValueFor, "A read-only query cannot advance a sequence."),
    (exp.SessionParameter, "Server variables (@@…) are not catalog data and cannot be read."),
    (exp.Hint, "Optimizer hints are not allowed."),
)  # fmt: skip

_QUERY_ROOTS = (exp.Select, exp.SetOperation, exp.Values)
# MySQL runs the text of /*! … */ and /*M! … */ comments, and /*+ … */ hints can SET_VAR limits.
_MYSQL_EXECUTABLE_COMMENT = re.compile(r"/\*(?:M?!|\+)", re.IGNORECASE)
_UNICODE_IDENTIFIER = re.compile(r'U&"', re.IGNORECASE)  # spells any name: U&"\0070g_sleep" is pg_sleep
_DUCKDB_PATHLIKE = re.compile(r"[./\\:~*?]")


def check(sql: str, dialect: str) -> Checked:
    """Admit exactly one read-only query, or raise SqlNotAllowed saying why."""
    sg_dialect = sqlglot_dialect(dialect)
    try:
        return _check(sql, dialect, sg_dialect)
    except SqlNotAllowed:
        raise
    except Exception:  # sqlglot errors, recursion limits: nothing unexamined gets through
        raise SqlNotAllowed(UNPARSEABLE) from None


def _check(sql: str, dialect: str, sg_dialect: str) -> Checked:
    if not isinstance(sql, str) or not sql.strip():
        raise SqlNotAllowed(EMPTY)
    text = sql.strip()
    if len(text) > MAX_SQL_LENGTH:
        raise SqlNotAllowed(f"The statement is longer than {MAX_SQL_LENGTH} characters.")
    if "\x00" in text:
        raise SqlNotAllowed("The statement contains a NUL character.")
    if "sqlglot.meta" in text.lower():
        raise SqlNotAllowed("Comments that steer the SQL parser are not allowed.")
    if dialect == "mysql" and _MYSQL_EXECUTABLE_COMMENT.search(text):
        raise SqlNotAllowed("MySQL executable comments (/*! … */) and optimizer hints are not allowed.")
    if dialect in ("postgres", "duckdb") and _UNICODE_IDENTIFIER.search(text):
        raise SqlNotAllowed('Unicode-escaped identifiers (U&"…") are not allowed.')

    tokens = tokenize(text, sg_dialect)
    check_tokens(tokens, dialect, after_explain=False)
    prefix, body = "", text
    if tokens[0].text.upper() == "EXPLAIN":
        prefix, body = split_explain(text, tokens[0], dialect, sg_dialect)

    root = _parse_one(body, sg_dialect)
    _validate(root, dialect)
    tables = _tables(root, sg_dialect)
    if dialect in ("mysql", "sqlite"):
        _keep_result_names(root, body, sg_dialect)

    # What runs is checked too: every call and cast in the rebuilt text, as the engine will read it;
    # and the rebuilt text must parse to a tree that passes the same checks, names the same tables
    # and rebuilds to the very same text.
    rebuilt = _generate(root, dialect)
    rebuilt_tokens = tokenize(rebuilt, sg_dialect)
    check_tokens(rebuilt_tokens, dialect, after_explain=True)
    functions = check_calls(rebuilt_tokens, dialect)
    again = _parse_one(rebuilt, sg_dialect)
    _validate(again, dialect)
    if _generate(again, dialect) != rebuilt or _tables(again, sg_dialect) != tables:
        raise SqlNotAllowed("The statement could not be checked reliably.")
    return Checked(
        sql=prefix + rebuilt,
        dialect=dialect,
        tables=tables,
        expression=again,
        explain=bool(prefix),
        functions=functions,
    )


class _Recording(Protocol):
    generated: list[tuple[exp.Expr, str]]

    def generate(self, expression: exp.Expr, copy: bool = True) -> str: ...


@cache
def _recording_generator(sg_dialect: str) -> type:
    """The dialect's generator, noting the text it writes for each function call and each type."""
    base = Dialect.get_or_raise(sg_dialect).generator_class

    def sql(self: Any, expression: str | exp.Expr | None, key: str | None = None, comment: bool = True) -> str:
        text: str = base.sql(self, expression, key, comment)
        if key is None and isinstance(expression, (exp.Func, exp.DataType)):
            self.generated.append((expression, text))
        return text

    return type(f"Recording{base.__name__}", (base,), {"sql": sql})


def _generate(tree: exp.Expr, dialect: str) -> str:
    """The text to run, rebuilt from `tree`; each function and type is checked as the generator writes it."""
    sg_dialect = SQL_DIALECTS[dialect]
    generator = cast(
        "_Recording",
        _recording_generator(sg_dialect)(
            dialect=sg_dialect,
            comments=False,
            unsupported_level=ErrorLevel.RAISE,
            # Function names keep their case: a quoted "Name"(…) in PostgreSQL is another function than NAME(…).
            normalize_functions=False,
        ),
    )
    generator.generated = []
    text = generator.generate(tree)
    for node, written in generator.generated:
        if isinstance(node, exp.DataType):
            check_type(written, dialect)
        elif isinstance(node, exp.Func):
            _check_written_call(node, written, dialect)
    return text


_WRITTEN_HEAD = re.compile(
    r"""\s*(?:(?P<word>[A-Za-z_][A-Za-z0-9_$]*)|(?P<quoted>"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\]))\s*(?P<call>\()?"""
)


def _check_written_call(node: exp.Func, written: str, dialect: str) -> None:
    """The name the generator wrote for one function node is allow-listed, unquoted and unqualified."""
    head = _WRITTEN_HEAD.match(written)
    if isinstance(node.parent, exp.Dot) and node.arg_key == "expression":
        raise qualified_refused(_func_name(node))
    if head is None:
        return  # written as an operator or other syntax: its operands are checked on their own
    word, quoted = head.group("word"), head.group("quoted")
    if head.group("call"):
        if quoted:
            raise quoted_refused(quoted)
        if word.lower() not in SYNTAX_CALLS and not (dialect == "duckdb" and isinstance(node, exp.Columns)):
            check_function(word, dialect)
    elif word and head.end() == len(written) and not any(True for _ in node.iter_expressions()):
        check_function(word, dialect)  # a niladic function written bare: CURRENT_DATE, CURRENT_USER


_NAMED_AS_WRITTEN = (exp.Alias, exp.Column, exp.Star, exp.Literal, exp.Paren, exp.Null, exp.Boolean)


def _keep_result_names(root: exp.Expr, body: str, sg_dialect: str) -> None:
    """Alias unaliased result expressions with their text as written.

    MySQL and SQLite name such a column by its text (`count(*)`); the rebuilt text would otherwise
    rename it (`COUNT(*)`).
    """
    select = root
    while isinstance(select, exp.SetOperation):
        select = select.this
    if not isinstance(select, exp.Select):
        return
    texts = result_texts(body, sg_dialect)
    if texts is None or len(texts) != len(select.expressions):
        return
    for projection, text in zip(list(select.expressions), texts, strict=True):
        if not isinstance(projection, _NAMED_AS_WRITTEN) and 0 < len(text) <= 255:
            projection.replace(exp.alias_(projection.copy(), text, quoted=True))


def _parse_one(text: str, sg_dialect: str) -> exp.Expr:
    # A comment after the last `;` comes back as a bare Semicolon node: not a statement.
    parsed = sqlglot.parse(text, read=sg_dialect)
    statements = [s for s in parsed if s is not None and not isinstance(s, exp.Semicolon)]
    if not statements:
        raise SqlNotAllowed(EMPTY)
    if len(statements) > 1:
        raise SqlNotAllowed(SEVERAL)
    return statements[0]


def _validate(root: exp.Expr, dialect: str) -> None:
    """Refuse anything but a query, and any node, function, type or table that reaches outside it."""
    query = root
    while isinstance(query, exp.Subquery):
        query = query.this
    if not isinstance(query, _QUERY_ROOTS):
        raise SqlNotAllowed("Only read-only queries (SELECT, WITH, VALUES, EXPLAIN) can be run.")
    for node in root.walk():
        for kinds, reason in _FORBIDDEN:
            if isinstance(node, kinds):
                raise SqlNotAllowed(reason)
        if isinstance(node, exp.Pivot) and not node.args.get("unpivot"):
            # Its column names are stored values, and column names are what the assistant's model hears.
            raise SqlNotAllowed("PIVOT is not allowed: it turns stored values into column names.")
        if isinstance(node, (exp.Anonymous, exp.AnonymousAggFunc)):
            _check_anonymous(node, dialect)
        elif isinstance(node, exp.Func) and isinstance(node.parent, exp.Dot) and node.arg_key == "expression":
            raise qualified_refused(_func_name(node))
        elif isinstance(node, exp.DataType):
            _check_datatype(node, dialect)
        elif isinstance(node, exp.Dot) and isinstance(node.expression, exp.Star):
            _check_row_expansion(node)
        elif isinstance(node, exp.Column):
            _check_bare_word(node, dialect)
        elif isinstance(node, exp.Table):
            _check_table(node, dialect)
        elif isinstance(node, (exp.Placeholder, exp.Parameter)) or (
            dialect == "mysql" and isinstance(node, exp.PropertyEQ)
        ):
            raise SqlNotAllowed("Parameters, variables and assignments (?, $1, @x, :=) are not allowed.")
        elif isinstance(node, exp.Operator):
            raise SqlNotAllowed("OPERATOR(…) is not allowed: use the plain built-in operators.")
        elif isinstance(node, exp.PositionalColumn):
            raise SqlNotAllowed("Positional column references (#2) are not allowed; name the columns.")


def _check_anonymous(node: exp.Func, dialect: str) -> None:
    name = node.this
    if isinstance(name, exp.Identifier) and name.quoted:
        raise quoted_refused(name.sql(dialect=SQL_DIALECTS[dialect]))
    text = name.name if isinstance(name, exp.Identifier) else str(name)
    if isinstance(node.parent, exp.Dot) and node.arg_key == "expression":
        raise qualified_refused(text)
    if text.lower() not in SYNTAX_CALLS:
        check_function(text, dialect)


def _check_datatype(node: exp.DataType, dialect: str) -> None:
    if isinstance(node, exp.ObjectIdentifier):
        raise SqlNotAllowed(f"Casting to {node.name} is not allowed: it looks names up in the catalog.")
    if node.this == exp.DType.USERDEFINED:
        kind = node.args.get("kind")
        plain = isinstance(kind, str) or (isinstance(kind, exp.Identifier) and not kind.quoted)
        name = kind if isinstance(kind, str) else kind.sql(dialect=SQL_DIALECTS[dialect]) if kind else "this type"
        if not plain or not WORD.fullmatch(name):
            engine = BY_NAME[dialect].display_name
            raise SqlNotAllowed(
                f"Casting to {name} is not allowed: only built-in {engine} types can be used,"
                " not a table's row type or a user-defined type."
            )
        check_type(name, dialect)


def _check_row_expansion(node: exp.Dot) -> None:
    """`(x).*` expands a composite value: only a table's own row, never a cast to some row type."""
    inner = node.this.this if isinstance(node.this, exp.Paren) else node.this
    if not isinstance(inner, exp.Column) or isinstance(inner.this, exp.Star):
        raise SqlNotAllowed("Expanding (…).* is allowed only on a table's row, written (alias).*.")


def _check_bare_word(column: exp.Column, dialect: str) -> None:
    """PostgreSQL reads an unquoted `user` or `current_role` as a function call, not a column."""
    identifier = column.this
    if (
        not column.table
        and isinstance(identifier, exp.Identifier)
        and not identifier.quoted
        and identifier.name.lower() in NILADIC[dialect]
    ):
        check_function(identifier.name, dialect)


def _check_table(table: exp.Table, dialect: str) -> None:
    qualifiers = [part.name.lower() for part in (table.args.get("catalog"), table.args.get("db")) if part]
    if isinstance(table.this, exp.Func):
        if qualifiers:
            raise qualified_refused(_func_name(table.this))
        return  # a table function: checked as a function
    if not isinstance(table.this, exp.Identifier):
        raise SqlNotAllowed("This kind of table reference is not supported.")
    name = table.name.lower()
    system = any(q in SYSTEM_SCHEMAS[dialect] for q in qualifiers) or bool(SYSTEM_TABLES[dialect].fullmatch(name))
    if dialect == "postgres":
        # Every pg_* schema is the server's; unqualified pg_* names resolve to pg_catalog before the search path.
        system = system or any(q.startswith("pg_") for q in qualifiers) or (not qualifiers and name.startswith("pg_"))
    if system:
        shown = ".".join(part.name for part in table.parts)
        raise SqlNotAllowed(f"{shown} is part of the engine's system catalog, which cannot be read.")
    if dialect == "duckdb":
        for part in table.parts:
            if _DUCKDB_PATHLIKE.search(part.name):
                raise SqlNotAllowed(f"DuckDB would read {part.name!r} as a file or URL; that is not allowed.")


def _tables(root: exp.Expr, sg_dialect: str) -> tuple[TableRef, ...]:
    found: dict[TableRef, None] = {}
    _collect_tables(normalize_identifiers(root.copy(), dialect=sg_dialect), frozenset(), found)
    return tuple(found)


def _collect_tables(node: exp.Expr, ctes: frozenset[str], found: dict[TableRef, None]) -> None:
    """Every catalog table the query names, CTE names excluded where (and only where) they are in scope.

    A CTE sees the CTEs before it, and itself only under RECURSIVE. Engines that are more
    permissive (forward references) make us report a table that isn't one: a refusal, never a leak.
    """
    with_ = node.args.get("with_")
    if isinstance(with_, exp.With):
        recursive = bool(with_.args.get("recursive"))
        visible = set(ctes)
        for cte in with_.expressions:
            name = cte.alias
            _collect_tables(cte.this, frozenset(visible | {name}) if recursive else frozenset(visible), found)
            visible.add(name)
        ctes = frozenset(visible)
    if isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier):
        ref = TableRef(schema=node.db or None, name=node.name, catalog=node.catalog or None)
        if not (ref.schema is None and ref.catalog is None and ref.name in ctes):
            found[ref] = None
    for key, value in node.args.items():
        if key == "with_":
            continue
        for child in value if isinstance(value, list) else [value]:
            if isinstance(child, exp.Expr):
                _collect_tables(child, ctes, found)
