"""The SQL guard: admits exactly one read-only query and names the tables and columns it reads.

Pure, no database access. It is the first of three walls (then catalog visibility, then the
engine's own read-only mode in `runner.py`), so it refuses whatever it cannot vouch for. What
runs is rebuilt from the tree it checked (comments dropped), so no parser differential between
sqlglot and the engine (comments, quoting, executable comments) can smuggle anything past it.

Functions and cast types are admitted from per-dialect allow-lists (`allowlists/*.txt`), checked
twice: on each function node as the generator writes it, and on every call and cast in the tokens
of the rebuilt text, as the engine will read it. System schemas and catalog tables are refused.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Protocol, TypeVar, cast

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, build_scope
from sqlglot.schema import MappingSchema
from sqlglot.tokens import Token, TokenType

from datadesk.errors import DomainError

DIALECTS: dict[str, str] = {"postgres": "postgres", "mysql": "mysql", "sqlite": "sqlite", "duckdb": "duckdb"}
MAX_SQL_LENGTH = 100_000

_UNPARSEABLE = "The statement could not be parsed as a single read-only query."
_SEVERAL = "Only one statement can be run at a time."
_EMPTY = "The statement is empty."


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


# --- the allow-lists ------------------------------------------------------------------------------
# One file per dialect and kind under allowlists/: the functions a read-only analytical query may
# call and the types it may cast to, each reviewed against the engine's documentation. A name that
# is not listed is refused, so a function added in an engine's next release is refused until someone
# reads what it does and lists it.

_ENGINE_NAMES = {"postgres": "PostgreSQL", "mysql": "MySQL/MariaDB", "sqlite": "SQLite", "duckdb": "DuckDB"}


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
_SYNTAX_CALLS = frozenset({"cast", "try_cast", "safe_cast", "row", "array", "exists"})
_CASTS = frozenset({"CAST", "TRY_CAST", "SAFE_CAST"})
# Functions the engine calls without parentheses when the bare word is written (SQL's niladic
# functions): the word alone must be allow-listed too. PostgreSQL parses `user` as such a call.
_NILADIC: dict[str, frozenset[str]] = {
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
_SYSTEM_SCHEMAS: dict[str, frozenset[str]] = {
    "postgres": frozenset({"information_schema"}),  # and every pg_* schema (pg_catalog, pg_toast, pg_temp_N)
    "mysql": frozenset({"mysql", "information_schema", "performance_schema", "sys"}),
    "sqlite": frozenset(),
    "duckdb": frozenset({"system", "temp", "information_schema", "pg_catalog"}),
}
# Relation names that are the engine's own wherever they are written: SQLite reserves sqlite_* and
# answers pragma_* and dbstat (eponymous virtual tables) in every schema; DuckDB finds its catalog
# views (duckdb_tables, sqlite_master, pg_class, ...) on the default search path; MariaDB's Sequence
# engine answers seq_1_to_N in every database.
_SYSTEM_TABLES: dict[str, re.Pattern[str]] = {
    "postgres": re.compile(r"(?!)"),  # pg_* is decided with the qualifiers, below
    "mysql": re.compile(r"seq_\d+_to_\d+(_step_\d+)?"),
    "sqlite": re.compile(r"(sqlite_|pragma_).*|dbstat|fsdir|zipfile|sqlar"),
    "duckdb": re.compile(r"(duckdb_|sqlite_|pg_|pragma_).*"),
}


def _function_refused(name: str, dialect: str) -> SqlNotAllowed:
    return SqlNotAllowed(
        f"The function {name}() is not allowed: only the {_ENGINE_NAMES[dialect]} functions on the guard's"
        " allow-list (aggregates, window, string, date, math, JSON and array functions) can be called."
    )


def _check_function(name: str, dialect: str) -> None:
    if name.lower() not in allowed_functions(dialect):
        raise _function_refused(name.lower(), dialect)


def _check_type(name: str, dialect: str) -> None:
    if _type_name(name) not in allowed_types(dialect):
        raise SqlNotAllowed(
            f"Casting to {name.strip()} is not allowed: only built-in {_ENGINE_NAMES[dialect]} types can be used,"
            " not a table's row type, a catalog lookup (regclass, oid) or a user-defined type."
        )


def _type_name(text: str) -> str:
    """The name part of a type as generated: `DECIMAL(10, 2)[]` is decimal, `CHAR CHARACTER SET x` char."""
    name = re.split(r"[(\[]", text.lower(), maxsplit=1)[0]
    for suffix in (" character set ", " collate "):
        name = name.split(suffix, 1)[0]
    return " ".join(name.split())


def _quoted_refused(text: str) -> SqlNotAllowed:
    return SqlNotAllowed(f"Quoted function names such as {text}() are not allowed; write the name unquoted.")


def _qualified_refused(name: str) -> SqlNotAllowed:
    return SqlNotAllowed(
        f"Schema-qualified or method-style calls such as ….{name}() are not allowed; call built-in functions"
        " by their plain name."
    )


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
_QUERY_START = {TokenType.SELECT, TokenType.WITH, TokenType.VALUES, TokenType.L_PAREN}
# MySQL runs the text of /*! … */ and /*M! … */ comments, and /*+ … */ hints can SET_VAR limits.
_MYSQL_EXECUTABLE_COMMENT = re.compile(r"/\*(?:M?!|\+)", re.IGNORECASE)
_UNICODE_IDENTIFIER = re.compile(r'U&"', re.IGNORECASE)  # spells any name: U&"\0070g_sleep" is pg_sleep
_DUCKDB_PATHLIKE = re.compile(r"[./\\:~*?]")
_KEYWORD = re.compile(r"[A-Za-z_]+")

_PG_EXPLAIN_OPTIONS = {"VERBOSE", "COSTS", "SETTINGS", "GENERIC_PLAN", "SUMMARY", "MEMORY", "FORMAT"}
_PG_EXPLAIN_FORMATS = {"TEXT", "XML", "JSON", "YAML"}
_EXPLAIN_BOOLEANS = {"TRUE": "TRUE", "ON": "TRUE", "1": "TRUE", "FALSE": "FALSE", "OFF": "FALSE", "0": "FALSE"}
_EXPLAIN_RUNS = {"ANALYZE", "ANALYSE"}
_EXPLAIN_ANALYZE = "EXPLAIN ANALYZE runs the statement; only a plain EXPLAIN is allowed."


def check(sql: str, dialect: str) -> Checked:
    """Admit exactly one read-only query, or raise SqlNotAllowed saying why."""
    sg_dialect = _sqlglot_dialect(dialect)
    try:
        return _check(sql, dialect, sg_dialect)
    except SqlNotAllowed:
        raise
    except Exception:  # sqlglot errors, recursion limits: nothing unexamined gets through
        raise SqlNotAllowed(_UNPARSEABLE) from None


def _sqlglot_dialect(dialect: str) -> str:
    try:
        return DIALECTS[dialect]
    except KeyError:
        raise SqlNotAllowed(f"Unknown SQL dialect {dialect!r}.") from None


def _check(sql: str, dialect: str, sg_dialect: str) -> Checked:
    if not isinstance(sql, str) or not sql.strip():
        raise SqlNotAllowed(_EMPTY)
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

    tokens = _tokenize(text, sg_dialect)
    _check_tokens(tokens, dialect, after_explain=False)
    prefix, body = "", text
    if tokens[0].text.upper() == "EXPLAIN":
        prefix, body = _split_explain(text, tokens[0], dialect, sg_dialect)

    root = _parse_one(body, sg_dialect)
    _validate(root, dialect)
    tables = _tables(root, sg_dialect)
    if dialect in ("mysql", "sqlite"):
        _keep_result_names(root, body, sg_dialect)

    # What runs is checked too: every call and cast in the rebuilt text, as the engine will read it;
    # and the rebuilt text must parse to a tree that passes the same checks, names the same tables
    # and rebuilds to the very same text.
    rebuilt = _generate(root, dialect)
    rebuilt_tokens = _tokenize(rebuilt, sg_dialect)
    _check_tokens(rebuilt_tokens, dialect, after_explain=True)
    functions = _check_calls(rebuilt_tokens, dialect)
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
    sg_dialect = DIALECTS[dialect]
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
            _check_type(written, dialect)
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
        raise _qualified_refused(_func_name(node))
    if head is None:
        return  # written as an operator or other syntax: its operands are checked on their own
    word, quoted = head.group("word"), head.group("quoted")
    if head.group("call"):
        if quoted:
            raise _quoted_refused(quoted)
        if word.lower() not in _SYNTAX_CALLS and not (dialect == "duckdb" and isinstance(node, exp.Columns)):
            _check_function(word, dialect)
    elif word and head.end() == len(written) and not any(True for _ in node.iter_expressions()):
        _check_function(word, dialect)  # a niladic function written bare: CURRENT_DATE, CURRENT_USER


_LIST_ENDS = {
    "FROM", "WHERE", "GROUP_BY", "HAVING", "ORDER_BY", "LIMIT", "UNION", "INTERSECT", "EXCEPT", "WINDOW", "INTO",
    "FOR", "LOCK", "OFFSET", "FETCH", "SEMICOLON", "QUALIFY",
}  # fmt: skip
_SELECT_MODIFIERS = {
    "DISTINCT", "ALL", "DISTINCTROW", "HIGH_PRIORITY", "STRAIGHT_JOIN", "SQL_SMALL_RESULT", "SQL_BIG_RESULT",
    "SQL_BUFFER_RESULT", "SQL_NO_CACHE", "SQL_CACHE", "SQL_CALC_FOUND_ROWS",
}  # fmt: skip
_OPENING = {TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE}
_CLOSING = {TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE}
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
    texts = _result_texts(body, sg_dialect)
    if texts is None or len(texts) != len(select.expressions):
        return
    for projection, text in zip(list(select.expressions), texts, strict=True):
        if not isinstance(projection, _NAMED_AS_WRITTEN) and 0 < len(text) <= 255:
            projection.replace(exp.alias_(projection.copy(), text, quoted=True))


def _result_texts(body: str, sg_dialect: str) -> list[str] | None:
    """The text of each item in the select list of the outermost SELECT, as written."""
    tokens = sqlglot.tokenize(body, read=sg_dialect)
    depth, start = 0, None
    for index, token in enumerate(tokens):
        depth += (token.token_type in _OPENING) - (token.token_type in _CLOSING)
        if depth == 0 and token.token_type == TokenType.SELECT:
            start = index + 1
            break
    if start is None:
        return None
    while start < len(tokens) and tokens[start].text.upper() in _SELECT_MODIFIERS:
        start += 1
    items: list[list[Token]] = [[]]
    depth = 0
    for token in tokens[start:]:
        if depth == 0 and token.token_type.name in _LIST_ENDS:
            break
        depth += (token.token_type in _OPENING) - (token.token_type in _CLOSING)
        if depth == 0 and token.token_type == TokenType.COMMA:
            items.append([])
        else:
            items[-1].append(token)
    if not all(items):
        return None
    return [body[item[0].start : item[-1].end + 1].strip() for item in items]


def _tokenize(text: str, sg_dialect: str) -> list[Token]:
    tokens = sqlglot.tokenize(text, read=sg_dialect)
    if not any(token.token_type != TokenType.SEMICOLON for token in tokens):
        raise SqlNotAllowed(_EMPTY)
    return tokens


def _check_tokens(tokens: list[Token], dialect: str, *, after_explain: bool) -> None:
    """Cheap checks on the token stream, before any parsing: one statement, a read keyword first."""
    statements: list[list[Token]] = [[]]
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            statements.append([])
        else:
            statements[-1].append(token)
    statements = [statement for statement in statements if statement]
    if len(statements) != 1:
        raise SqlNotAllowed(_SEVERAL)
    statement = statements[0]

    first = statement[0]
    starts_query = first.token_type in _QUERY_START or (dialect == "duckdb" and first.token_type == TokenType.FROM)
    if first.text.upper() == "EXPLAIN" and not after_explain:
        pass
    elif not starts_query:
        if after_explain:
            raise SqlNotAllowed("EXPLAIN is allowed only in front of a read-only query.")
        word = first.text.upper() if _KEYWORD.fullmatch(first.text) else "this"
        raise SqlNotAllowed(
            f"Only read-only queries (SELECT, WITH, VALUES, EXPLAIN) can be run; {word} statements cannot."
        )

    if any(token.token_type == TokenType.INTO for token in statement):
        raise SqlNotAllowed("SELECT … INTO is not allowed: it writes to a table, a file or variables.")


# Token types that are never a function's name, even before a parenthesis.
_LITERALS = frozenset(
    token_type for token_type in TokenType if token_type.name.endswith("STRING") or token_type == TokenType.NUMBER
)
_GRAMMAR = frozenset(
    getattr(TokenType, name)
    for name in (
        "ALIAS ALL AND ANY ARRAY BETWEEN CASE COLLATE CUBE DISTINCT ELSE ESCAPE EXCEPT EXISTS FILTER FROM GLOB"
        " GROUP_BY GROUPING_SETS HAVING ILIKE IN INTERSECT IS JOIN LATERAL LIKE LIMIT MEMBER_OF NOT OFFSET ON OR"
        " ORDER_BY OVER PARTITION_BY QUALIFY RLIKE ROLLUP ROW SELECT SIMILAR_TO SOME THEN UNION USING VALUES WHEN"
        " WHERE WINDOW"
    ).split()
)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*(?: [A-Za-z_][A-Za-z0-9_$]*)*")  # keywords may be two words
_SAMPLING_METHODS = frozenset({"BERNOULLI", "SYSTEM", "RESERVOIR"})
_STAR_MODIFIERS = frozenset({"EXCLUDE", "REPLACE", "RENAME"})


def _check_calls(tokens: list[Token], dialect: str) -> frozenset[str]:
    """Every call in the text that runs names an allow-listed function, every cast an allow-listed type.

    Read on the tokens of the rebuilt text, as the engine reads it: a name followed by `(` is a call
    unless the grammar says otherwise (CAST's type, a table alias's column list, a CTE's column list,
    IN, EXISTS, OVER, FILTER, WITHIN GROUP, ...). Unknown words before `(` count as calls. Returns the
    names called, lower case.
    """
    called: set[str] = set()
    partner = _partners(tokens)
    in_type = _cast_types(tokens, partner, dialect)
    ctes = _cte_names(tokens, partner)
    star_modifiers: set[int] = set()
    for i, token in enumerate(tokens):
        if token.token_type == TokenType.DCOLON:
            raise SqlNotAllowed("The statement could not be checked reliably.")
        if i in in_type or token.token_type in _LITERALS:
            continue
        word = token.token_type in (TokenType.VAR, TokenType.IDENTIFIER) or bool(_WORD.fullmatch(token.text))
        before = tokens[i - 1] if i else None
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        if not word or (before is not None and before.token_type == TokenType.ALIAS):
            continue  # `AS name(a, b)` names a relation's columns
        if after is None or after.token_type != TokenType.L_PAREN:
            if (
                token.token_type != TokenType.IDENTIFIER
                and token.text.lower() in _NILADIC[dialect]
                and not (before is not None and before.token_type == TokenType.DOT)
                and not (after is not None and after.token_type == TokenType.DOT)
            ):
                _check_function(token.text, dialect)
                called.add(token.text.lower())
            continue
        if token.token_type in _GRAMMAR or i in ctes or _grammar_word(tokens, i, partner, dialect, star_modifiers):
            continue
        if token.token_type == TokenType.IDENTIFIER:
            raise _quoted_refused(_quote(token.text, dialect))
        if before is not None and before.token_type == TokenType.DOT:
            raise _qualified_refused(token.text)
        if token.text.upper() in _CASTS:
            continue  # its type was checked by _cast_types
        if token.text.lower() not in _SYNTAX_CALLS:
            _check_function(token.text, dialect)
            called.add(token.text.lower())
    return frozenset(called)


def _quote(name: str, dialect: str) -> str:
    return f"`{name}`" if dialect == "mysql" else f'"{name}"'


def _partners(tokens: list[Token]) -> dict[int, int]:
    """Each bracket's index to its partner's; unbalanced text is refused."""
    pairs = {TokenType.L_PAREN: TokenType.R_PAREN, TokenType.L_BRACKET: TokenType.R_BRACKET,
             TokenType.L_BRACE: TokenType.R_BRACE}  # fmt: skip
    closing = set(pairs.values())
    stack: list[int] = []
    partner: dict[int, int] = {}
    for i, token in enumerate(tokens):
        if token.token_type in pairs:
            stack.append(i)
        elif token.token_type in closing:
            if not stack or pairs[tokens[stack[-1]].token_type] != token.token_type:
                raise SqlNotAllowed(_UNPARSEABLE)
            opened = stack.pop()
            partner[opened], partner[i] = i, opened
    if stack:
        raise SqlNotAllowed(_UNPARSEABLE)
    return partner


def _cast_types(tokens: list[Token], partner: dict[int, int], dialect: str) -> set[int]:
    """Check the type of every CAST(x AS type); return the positions the types take."""
    positions: set[int] = set()
    for i, token in enumerate(tokens[:-1]):
        if token.text.upper() not in _CASTS or tokens[i + 1].token_type != TokenType.L_PAREN:
            continue
        close = partner[i + 1]
        k = i + 2
        while k < close and tokens[k].token_type != TokenType.ALIAS:
            k = partner.get(k, k) + 1 if tokens[k].token_type in _OPENING else k + 1
        if k >= close:
            raise SqlNotAllowed("The statement could not be checked reliably.")
        words: list[str] = []
        j = k + 1
        while j < close:
            kind = tokens[j].token_type
            if kind in _OPENING:
                for inner in range(j + 1, partner[j]):  # type parameters: sizes, or nested types
                    if tokens[inner + 1].token_type == TokenType.L_PAREN and _WORD.fullmatch(tokens[inner].text):
                        _check_type(tokens[inner].text, dialect)
                j = partner[j] + 1
                continue
            if kind in (TokenType.IDENTIFIER, TokenType.DOT) or not _WORD.fullmatch(tokens[j].text):
                shown = "".join(t.text if t.token_type != TokenType.IDENTIFIER else _quote(t.text, dialect)
                                for t in tokens[k + 1 : close])  # fmt: skip
                raise SqlNotAllowed(f"Casting to {shown} is not allowed: only built-in type names can be used.")
            words.append(tokens[j].text)
            j += 1
        _check_type(" ".join(words), dialect)
        positions.update(range(k + 1, close))
    return positions


def _cte_names(tokens: list[Token], partner: dict[int, int]) -> set[int]:
    """Positions of the names in `WITH [RECURSIVE] name [(columns)] AS [NOT] [MATERIALIZED] (query), ...`."""
    names: set[int] = set()
    n = len(tokens)
    for w, token in enumerate(tokens):
        if token.token_type != TokenType.WITH:
            continue
        j = w + 1
        if j < n and tokens[j].token_type == TokenType.RECURSIVE:
            j += 1
        while j < n:
            k = j + 1
            if k < n and tokens[k].token_type == TokenType.L_PAREN:
                k = partner[k] + 1
            if k >= n or tokens[k].token_type != TokenType.ALIAS:
                break
            k += 1
            for optional in ("NOT", "MATERIALIZED"):
                if k < n and tokens[k].text.upper() == optional:
                    k += 1
            if k >= n or tokens[k].token_type != TokenType.L_PAREN:
                break
            names.add(j)
            k = partner[k] + 1
            if k >= n or tokens[k].token_type != TokenType.COMMA:
                break
            j = k + 1
    return names


def _grammar_word(tokens: list[Token], i: int, partner: dict[int, int], dialect: str, star_modifiers: set[int]) -> bool:
    """Words the grammar puts before `(` in a given place: not calls there."""
    text = tokens[i].text.upper()
    before = tokens[i - 1] if i else None
    previous = before.text.upper() if before is not None else ""
    if text == "MATERIALIZED":  # WITH x AS [NOT] MATERIALIZED (…)
        return previous == "AS" or (previous == "NOT" and i >= 2 and tokens[i - 2].token_type == TokenType.ALIAS)
    if text == "GROUP":  # WITHIN GROUP (ORDER BY …)
        return previous == "WITHIN"
    if text in _SAMPLING_METHODS:  # TABLESAMPLE BERNOULLI (10), USING SAMPLE SYSTEM (10 PERCENT)
        return previous in ("TABLESAMPLE", "SAMPLE")
    if dialect == "duckdb" and text in _STAR_MODIFIERS and before is not None:  # * EXCLUDE (a) REPLACE (…)
        after_modifier = before.token_type == TokenType.R_PAREN and partner[i - 1] - 1 in star_modifiers
        if before.token_type == TokenType.STAR or after_modifier:
            star_modifiers.add(i)
            return True
        return False
    if dialect == "duckdb" and text == "COLUMNS":  # COLUMNS('regex'): picks columns, calls nothing
        return True
    if dialect == "mysql" and text == "AGAINST" and before is not None and before.token_type == TokenType.R_PAREN:
        opened = partner[i - 1]
        return opened > 0 and tokens[opened - 1].text.upper() == "MATCH"
    return False


def _split_explain(text: str, explain: Token, dialect: str, sg_dialect: str) -> tuple[str, str]:
    """Split `EXPLAIN [options] query` into a canonical prefix and the query text."""
    rest = text[explain.end + 1 :]
    if not rest.strip(" \t\r\n;"):
        raise SqlNotAllowed("EXPLAIN needs a query to explain.")
    tokens = _tokenize(rest, sg_dialect)
    index, options = _explain_options(tokens, dialect)
    if index >= len(tokens):
        raise SqlNotAllowed("EXPLAIN needs a query to explain.")
    _check_tokens(tokens[index:], dialect, after_explain=True)
    prefix = f"EXPLAIN {options} " if options else "EXPLAIN "
    return prefix, rest[tokens[index].start :]


def _explain_options(tokens: list[Token], dialect: str) -> tuple[int, str]:
    """Read EXPLAIN's options from an allowlist; return where the query starts and the options' text."""

    def word(index: int) -> str:
        return tokens[index].text.upper() if index < len(tokens) else ""

    if word(0) in _EXPLAIN_RUNS:
        raise SqlNotAllowed(_EXPLAIN_ANALYZE)
    if dialect == "postgres" and tokens[0].token_type == TokenType.L_PAREN:
        options: list[str] = []
        index = 1
        while True:
            name = word(index)
            if name in _EXPLAIN_RUNS:
                raise SqlNotAllowed(_EXPLAIN_ANALYZE)
            if name not in _PG_EXPLAIN_OPTIONS:
                raise SqlNotAllowed(f"The EXPLAIN option {name or '(missing)'} is not allowed.")
            index += 1
            if name == "FORMAT":
                if word(index) not in _PG_EXPLAIN_FORMATS:
                    raise SqlNotAllowed("EXPLAIN FORMAT must be TEXT, XML, JSON or YAML.")
                options.append(f"FORMAT {word(index)}")
                index += 1
            elif word(index) in _EXPLAIN_BOOLEANS:
                options.append(f"{name} {_EXPLAIN_BOOLEANS[word(index)]}")
                index += 1
            else:
                options.append(name)
            if word(index) == ",":
                index += 1
            elif word(index) == ")":
                return index + 1, "(" + ", ".join(options) + ")"
            else:
                raise SqlNotAllowed(_UNPARSEABLE)
    if dialect == "postgres" and word(0) == "VERBOSE":
        if word(1) in _EXPLAIN_RUNS:
            raise SqlNotAllowed(_EXPLAIN_ANALYZE)
        return 1, "VERBOSE"
    if dialect == "mysql":
        if word(0) == "FORMAT" and word(1) == "=" and word(2) in {"TRADITIONAL", "JSON", "TREE"}:
            return 3, f"FORMAT={word(2)}"
        if word(0) in {"EXTENDED", "PARTITIONS"}:
            return 1, word(0)
    if dialect == "sqlite" and word(0) == "QUERY" and word(1) == "PLAN":
        return 2, "QUERY PLAN"
    return 0, ""


def _parse_one(text: str, sg_dialect: str) -> exp.Expr:
    # A comment after the last `;` comes back as a bare Semicolon node: not a statement.
    parsed = sqlglot.parse(text, read=sg_dialect)
    statements = [s for s in parsed if s is not None and not isinstance(s, exp.Semicolon)]
    if not statements:
        raise SqlNotAllowed(_EMPTY)
    if len(statements) > 1:
        raise SqlNotAllowed(_SEVERAL)
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
            raise _qualified_refused(_func_name(node))
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
        raise _quoted_refused(name.sql(dialect=DIALECTS[dialect]))
    text = name.name if isinstance(name, exp.Identifier) else str(name)
    if isinstance(node.parent, exp.Dot) and node.arg_key == "expression":
        raise _qualified_refused(text)
    if text.lower() not in _SYNTAX_CALLS:
        _check_function(text, dialect)


def _check_datatype(node: exp.DataType, dialect: str) -> None:
    if isinstance(node, exp.ObjectIdentifier):
        raise SqlNotAllowed(f"Casting to {node.name} is not allowed: it looks names up in the catalog.")
    if node.this == exp.DType.USERDEFINED:
        kind = node.args.get("kind")
        plain = isinstance(kind, str) or (isinstance(kind, exp.Identifier) and not kind.quoted)
        name = kind if isinstance(kind, str) else kind.sql(dialect=DIALECTS[dialect]) if kind else "this type"
        if not plain or not _WORD.fullmatch(name):
            raise SqlNotAllowed(
                f"Casting to {name} is not allowed: only built-in {_ENGINE_NAMES[dialect]} types can be used,"
                " not a table's row type or a user-defined type."
            )
        _check_type(name, dialect)


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
        and identifier.name.lower() in _NILADIC[dialect]
    ):
        _check_function(identifier.name, dialect)


def _check_table(table: exp.Table, dialect: str) -> None:
    qualifiers = [part.name.lower() for part in (table.args.get("catalog"), table.args.get("db")) if part]
    if isinstance(table.this, exp.Func):
        if qualifiers:
            raise _qualified_refused(_func_name(table.this))
        return  # a table function: checked as a function
    if not isinstance(table.this, exp.Identifier):
        raise SqlNotAllowed("This kind of table reference is not supported.")
    name = table.name.lower()
    system = any(q in _SYSTEM_SCHEMAS[dialect] for q in qualifiers) or bool(_SYSTEM_TABLES[dialect].fullmatch(name))
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


# --- columns -------------------------------------------------------------------------------------

K = TypeVar("K", bound=Hashable)

_DEFAULT_CATALOG = "dd_default_catalog"
_DEFAULT_SCHEMA = "dd_default_schema"


def columns_read(checked: Checked, schema: Mapping[K, Iterable[str]]) -> dict[K | TableRef, set[str]]:
    """Which columns of which table the query reads, anywhere in it; `*` and `t.*` read every column.

    `schema` maps each table (a TableRef from `checked.tables`, or `(schema, name)`) to its
    catalog columns; results use the same keys. When a column can't be pinned to one table it
    counts against every candidate table; when the query can't be resolved at all, it is refused.
    """
    sg_dialect = _sqlglot_dialect(checked.dialect)
    resolver = _ColumnResolver(schema, sg_dialect)
    try:
        qualified = qualify(
            checked.expression.copy(),
            dialect=sg_dialect,
            schema=resolver.mapping_schema(),
            catalog=_DEFAULT_CATALOG,
            db=_DEFAULT_SCHEMA,
            validate_qualify_columns=False,
            quote_identifiers=False,
        )
        root_scope = build_scope(qualified)
        if root_scope is None:
            raise SqlNotAllowed("Could not work out which columns the query reads.")
        resolver.resolve(qualified, list(root_scope.traverse()))
    except SqlNotAllowed:
        raise
    except Exception:
        raise SqlNotAllowed("Could not work out which columns the query reads.") from None
    return cast("dict[K | TableRef, set[str]]", resolver.result)


class _ColumnResolver:
    def __init__(self, schema: Mapping[K, Iterable[str]], sg_dialect: str) -> None:
        self.sg_dialect = sg_dialect
        self.keys: dict[TableRef, Hashable] = {}
        self.columns: dict[TableRef, dict[str, str]] = {}  # normalised name -> name as the catalog has it
        for key, names in schema.items():
            ref = self._normalise_ref(key)
            self.keys.setdefault(ref, key)
            known = self.columns.setdefault(ref, {})
            for name in names:
                known[self._normalise(name)] = name
        self.result: dict[Hashable, set[str]] = {}

    def _normalise(self, name: str) -> str:
        # Catalog names are exact, like quoted identifiers; case-insensitive engines still fold them.
        return normalize_identifiers(exp.to_identifier(name, quoted=True), dialect=self.sg_dialect).name

    def _normalise_ref(self, key: Hashable) -> TableRef:
        if isinstance(key, TableRef):
            ref = key
        elif isinstance(key, tuple) and len(key) == 2 and isinstance(key[1], str):
            ref = TableRef(schema=key[0], name=key[1])
        else:
            raise TypeError(f"schema keys are TableRef or (schema, name), not {key!r}")
        return TableRef(
            schema=None if ref.schema is None else self._normalise(ref.schema),
            name=self._normalise(ref.name),
            catalog=None if ref.catalog is None else self._normalise(ref.catalog),
        )

    def mapping_schema(self) -> MappingSchema:
        nested: dict[str, dict[str, dict[str, dict[str, str]]]] = {}
        for ref, known in self.columns.items():
            schemas = nested.setdefault(ref.catalog or _DEFAULT_CATALOG, {})
            schemas.setdefault(ref.schema or _DEFAULT_SCHEMA, {})[ref.name] = {name: "text" for name in known}
        return MappingSchema(dict(nested), dialect=self.sg_dialect, normalize=False)

    def resolve(self, qualified: exp.Expr, scopes: list[Scope]) -> None:
        by_node = {id(scope.expression): scope for scope in scopes}
        for table in qualified.find_all(exp.Table):
            alias = table.args.get("alias")
            real = self._real(table)
            if real is not None and isinstance(alias, exp.TableAlias) and alias.columns:
                self._read_all(real)  # `users AS u(a, b)` renames by position: count every column
        if any(isinstance(node, exp.Columns) for node in qualified.walk()):
            for scope in scopes:  # DuckDB COLUMNS(regex) picks columns by pattern: count them all
                for source in self._real_sources(scope):
                    self._read_all(source)
        for dot in qualified.find_all(exp.Dot):
            row = dot.this.this if isinstance(dot.this, exp.Paren) else None
            if isinstance(row, exp.TableColumn) or (isinstance(row, exp.Column) and not row.table):
                home = self._scope_of(row, by_node)
                if home is None:
                    raise SqlNotAllowed("Could not work out which columns the query reads.")
                self._check_field(_find_source(row.name, list(_chain(home))), row.name, dot.expression)
        for node in qualified.find_all(exp.Column, exp.TableColumn, exp.Star):
            home = self._scope_of(node, by_node)
            if home is None:
                raise SqlNotAllowed("Could not work out which columns the query reads.")
            chain = list(_chain(home))
            if isinstance(node, exp.Column):
                self._resolve_column(node, chain)
            elif isinstance(node, exp.TableColumn):  # a whole row: `SELECT u FROM users u`
                real = self._real(_find_source(node.name, chain))
                if real is not None:
                    self._read_all(real)
                self._read_candidates(node.name, chain)
            elif not isinstance(node.parent, (exp.Column, exp.Count)):
                # A bare * the qualifier could not expand (or one inside a function): all it can see.
                for source in self._real_sources(home):
                    self._read_all(source)

    def _check_field(self, source: exp.Table | Scope | None, row: str, field: exp.Expr) -> None:
        """`(alias).name` must name a column: PostgreSQL reads it as a call of `name` on the whole row otherwise."""
        real = self._real(source)
        if real is not None:
            outputs = set(self.columns.get(real) or ())
        elif isinstance(source, Scope):
            outputs = set(source.expression.named_selects) if isinstance(source.expression, exp.Query) else set()
            alias = source.expression.parent.args.get("alias") if source.expression.parent else None
            if isinstance(alias, exp.TableAlias):
                outputs |= {column.name for column in alias.columns}
        else:
            return  # a composite column's field: the catalog does not say which fields it has
        quoted = isinstance(field, exp.Identifier) and field.quoted
        name = field.name if isinstance(field, exp.Identifier) else ""
        if name not in outputs and (quoted or name.lower() not in {output.lower() for output in outputs}):
            raise SqlNotAllowed(
                f"({row}).{field.sql()} does not name a column; PostgreSQL would call a function of that name"
                " on the whole row."
            )

    @staticmethod
    def _scope_of(node: exp.Expr, by_node: dict[int, Scope]) -> Scope | None:
        parent = node.parent
        while parent is not None:
            if id(parent) in by_node:
                return by_node[id(parent)]
            parent = parent.parent
        return None

    def _resolve_column(self, column: exp.Column, chain: list[Scope]) -> None:
        qualifier = column.table
        if isinstance(column.this, exp.Star):
            source = _find_source(qualifier, chain) if qualifier else None
            real = self._real(source)
            if real is not None:
                self._read_all(real)
            elif source is None:
                for scope in chain[:1] if not qualifier else chain:
                    for table in self._real_sources(scope):
                        self._read_all(table)
            return
        name = column.name
        if qualifier:
            source = _find_source(qualifier, chain)
            real = self._real(source)
            if real is not None:
                self._read(real, name)
            elif source is None:  # a struct field or an unknown qualifier: count both names
                self._read_candidates(qualifier, chain)
                self._read_candidates(name, chain)
            return
        whole_row = self._real(_find_source(name, chain))  # `SELECT u FROM users u` reads every column
        if whole_row is not None:
            self._read_all(whole_row)
        self._read_candidates(name, chain)

    def _real(self, source: exp.Table | Scope | None) -> TableRef | None:
        if not isinstance(source, exp.Table) or not isinstance(source.this, exp.Identifier):
            return None
        catalog, schema = source.catalog, source.db
        return TableRef(
            schema=None if schema in ("", _DEFAULT_SCHEMA) else schema,
            name=source.name,
            catalog=None if catalog in ("", _DEFAULT_CATALOG) else catalog,
        )

    def _real_sources(self, scope: Scope) -> list[TableRef]:
        found = (self._real(source) for _, source in scope.selected_sources.values())
        return [ref for ref in found if ref is not None]

    def _read(self, ref: TableRef, name: str) -> None:
        known = self.columns.get(ref)
        if known is None:
            names = {name}
        elif name in known:
            names = {known[name]}
        else:  # engines that fold column names (MySQL) resolve what sqlglot did not
            names = {original for normal, original in known.items() if normal.lower() == name.lower()}
        if names:
            self.result.setdefault(self.keys.get(ref, ref), set()).update(names)

    def _read_all(self, ref: TableRef) -> None:
        known = self.columns.get(ref)
        if known is None:
            raise SqlNotAllowed(f"Could not work out which columns of {ref} the query reads.")
        if known:
            self.result.setdefault(self.keys.get(ref, ref), set()).update(known.values())

    def _read_candidates(self, name: str, chain: list[Scope]) -> None:
        for scope in chain:
            for ref in self._real_sources(scope):
                known = self.columns.get(ref)  # a table with unknown columns may hold this one too
                if known is None or any(normal.lower() == name.lower() for normal in known):
                    self._read(ref, name)


def _chain(scope: Scope) -> Iterator[Scope]:
    current: Scope | None = scope
    while current is not None:
        yield current
        current = current.parent


def _find_source(alias: str, chain: list[Scope]) -> exp.Table | Scope | None:
    for scope in chain:
        if alias in scope.sources:
            source = scope.sources[alias]
            return source if isinstance(source, (exp.Table, Scope)) else None
    return None
