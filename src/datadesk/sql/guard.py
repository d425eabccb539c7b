"""The SQL guard: admits exactly one read-only query and names the tables and columns it reads.

Pure, no database access. It is the first of three walls (then catalog visibility, then the
engine's own read-only mode in `runner.py`), so it refuses whatever it cannot vouch for. What
runs is rebuilt from the tree it checked (comments dropped), so no parser differential between
sqlglot and the engine (comments, quoting, executable comments) can smuggle anything past it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TypeVar, cast

import sqlglot
from sqlglot import exp
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


@dataclass(frozen=True)
class _Deny:
    exact: frozenset[str]
    prefixes: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()

    def matches(self, name: str) -> bool:
        return name in self.exact or name.startswith(self.prefixes) or name.endswith(self.suffixes)


def _deny(exact: str, prefixes: str = "", suffixes: str = "") -> _Deny:
    return _Deny(frozenset(exact.split()), tuple(prefixes.split()), tuple(suffixes.split()))


# Functions that reach outside the query: files, network, other SQL, sleeping, locks, sequences,
# server settings or server state. Names are compared lowercased; prefixes cover families.
# current_setting() and @@variables are refused too: server configuration is not catalog data, it
# is the first step of the file-read attacks in the injection corpora, and analysis never needs it.
_EVERYWHERE = _deny(
    "sleep benchmark load_file load_extension readfile writefile getenv current_setting set_config"
    " sys_exec sys_eval xp_cmdshell",
    prefixes="pg_sleep pg_read_ dblink lo_import lo_export query_to_xml",
)
_DENY: dict[str, _Deny] = {
    "postgres": _deny(
        "nextval setval currval lastval txid_current txid_current_if_assigned pg_current_xact_id"
        " pg_current_xact_id_if_assigned pg_notify pg_reload_conf pg_rotate_logfile pg_switch_wal"
        " pg_switch_xlog pg_promote pg_terminate_backend pg_cancel_backend pg_stat_file"
        " pg_import_system_collations loread lowrite pg_log_backend_memory_contexts pg_log_standby_snapshot"
        " pg_export_snapshot pg_start_backup pg_stop_backup pg_prewarm gin_clean_pending_list",
        prefixes="pg_ls_ pg_file_ lo_ pg_advisory pg_try_advisory table_to_xml schema_to_xml database_to_xml"
        " cursor_to_xml pg_logical_ pg_replication_ pg_create_ pg_drop_ pg_copy_ pg_backup_ pg_wal_ pg_xlog_"
        " pg_stat_reset pg_stat_statements_reset brin_summarize brin_desummarize",
    ),
    "mysql": _deny(
        "get_lock release_lock release_all_locks is_free_lock is_used_lock master_pos_wait source_pos_wait"
        " master_gtid_wait wait_for_executed_gtid_set wait_until_sql_thread_after_gtids nextval setval lastval"
        " set_firewall_mode",
        prefixes="sys_ lib_mysqludf audit_log_ keyring_ group_replication_ asynchronous_connection_failover_"
        " version_tokens_ mysql_firewall firewall_ service_get_",
    ),
    "duckdb": _deny(
        "query query_table glob sniff_csv which_secret checkpoint force_checkpoint json_execute_serialized_sql"
        " truncate_duckdb_logs write_log add_grammar_extension remove_grammar_extension sleep_ms"
        " load_aws_credentials st_read",
        prefixes="read_ parquet_ duckdb_ pragma_ python_ pandas_ arrow_ iceberg_ delta_ enable_ disable_ sqlite_"
        " postgres_ mysql_ azure_ from_csv register_external create_external destroy_external deregister_external",
        suffixes="_scan _attach",
    ),
    "sqlite": _deny(
        "edit fts3_tokenizer fts5_tokenizer randomblob zeroblob fsdir lsdir zipfile sha3_query",
        prefixes="pragma_ sqlar_ shell_ sqlite_db",
    ),
}

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
_NOT_A_NAME = {TokenType.STRING, TokenType.NUMBER, TokenType.L_PAREN, TokenType.R_PAREN, TokenType.COMMA}
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

    # What runs is checked too: the rebuilt text must parse to a tree that passes the same checks,
    # names the same tables and rebuilds to the very same text.
    rebuilt = _generate(root, sg_dialect)
    _check_tokens(_tokenize(rebuilt, sg_dialect), dialect, after_explain=True)
    again = _parse_one(rebuilt, sg_dialect)
    _validate(again, dialect)
    if _generate(again, sg_dialect) != rebuilt or _tables(again, sg_dialect) != tables:
        raise SqlNotAllowed("The statement could not be checked reliably.")
    return Checked(sql=prefix + rebuilt, dialect=dialect, tables=tables, expression=again, explain=bool(prefix))


def _generate(tree: exp.Expr, sg_dialect: str) -> str:
    # Function names keep their case: a quoted "Name"(…) in PostgreSQL is another function than NAME(…).
    return tree.sql(dialect=sg_dialect, comments=False, unsupported_level=ErrorLevel.RAISE, normalize_functions=False)


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

    deny = _DENY[dialect]
    for token, following in itertools.pairwise(statement):
        if token.token_type == TokenType.INTO:
            raise SqlNotAllowed("SELECT … INTO is not allowed: it writes to a table, a file or variables.")
        if following.token_type == TokenType.L_PAREN and token.token_type not in _NOT_A_NAME:
            _check_function_name(token.text.lower(), deny)


def _check_function_name(name: str, deny: _Deny) -> None:
    if deny.matches(name) or _EVERYWHERE.matches(name):
        raise SqlNotAllowed(
            f"The function {name}() is not allowed: it reaches outside the query "
            "(files, network, other SQL, sleeping, locks, sequences or server settings)."
        )


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
    """Refuse anything but a query, and any node or function that reaches outside it."""
    query = root
    while isinstance(query, exp.Subquery):
        query = query.this
    if not isinstance(query, _QUERY_ROOTS):
        raise SqlNotAllowed("Only read-only queries (SELECT, WITH, VALUES, EXPLAIN) can be run.")
    deny = _DENY[dialect]
    for node in root.walk():
        for kinds, reason in _FORBIDDEN:
            if isinstance(node, kinds):
                raise SqlNotAllowed(reason)
        if isinstance(node, exp.Func):
            for name in _function_names(node):
                _check_function_name(name, deny)
        if isinstance(node, exp.Table):
            _check_table(node, dialect)


def _function_names(node: exp.Func) -> set[str]:
    if isinstance(node, exp.Anonymous):
        return {node.name.lower()}
    return {name.lower() for name in type(node).sql_names()} | {node.key.lower()}


def _check_table(table: exp.Table, dialect: str) -> None:
    if isinstance(table.this, exp.Func):
        return  # a table function: checked as a function
    if not isinstance(table.this, exp.Identifier):
        raise SqlNotAllowed("This kind of table reference is not supported.")
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
