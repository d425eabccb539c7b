"""Checks on the token stream, as the engine reads the text: one statement, a read keyword first, EXPLAIN's
options, every call and cast of the text that runs on the allow-lists; and the select list as written.
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot.tokens import Token, TokenType

from datadesk.sql.allowlist import (
    CASTS,
    NILADIC,
    SYNTAX_CALLS,
    check_function,
    check_type,
    qualified_refused,
    quoted_refused,
)
from datadesk.sql.checked import SqlNotAllowed

UNPARSEABLE = "The statement could not be parsed as a single read-only query."
SEVERAL = "Only one statement can be run at a time."
EMPTY = "The statement is empty."

_QUERY_START = {TokenType.SELECT, TokenType.WITH, TokenType.VALUES, TokenType.L_PAREN}
_KEYWORD = re.compile(r"[A-Za-z_]+")

_PG_EXPLAIN_OPTIONS = {"VERBOSE", "COSTS", "SETTINGS", "GENERIC_PLAN", "SUMMARY", "MEMORY", "FORMAT"}
_PG_EXPLAIN_FORMATS = {"TEXT", "XML", "JSON", "YAML"}
_EXPLAIN_BOOLEANS = {"TRUE": "TRUE", "ON": "TRUE", "1": "TRUE", "FALSE": "FALSE", "OFF": "FALSE", "0": "FALSE"}
_EXPLAIN_RUNS = {"ANALYZE", "ANALYSE"}
_EXPLAIN_ANALYZE = "EXPLAIN ANALYZE runs the statement; only a plain EXPLAIN is allowed."

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


def result_texts(body: str, sg_dialect: str) -> list[str] | None:
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


def tokenize(text: str, sg_dialect: str) -> list[Token]:
    """The text's tokens; SqlNotAllowed if there is nothing but semicolons."""
    tokens = sqlglot.tokenize(text, read=sg_dialect)
    if not any(token.token_type != TokenType.SEMICOLON for token in tokens):
        raise SqlNotAllowed(EMPTY)
    return tokens


def check_tokens(tokens: list[Token], dialect: str, *, after_explain: bool) -> None:
    """Cheap checks on the token stream, before any parsing: one statement, a read keyword first."""
    statements: list[list[Token]] = [[]]
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            statements.append([])
        else:
            statements[-1].append(token)
    statements = [statement for statement in statements if statement]
    if len(statements) != 1:
        raise SqlNotAllowed(SEVERAL)
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
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*(?: [A-Za-z_][A-Za-z0-9_$]*)*")  # keywords may be two words
_SAMPLING_METHODS = frozenset({"BERNOULLI", "SYSTEM", "RESERVOIR"})
_STAR_MODIFIERS = frozenset({"EXCLUDE", "REPLACE", "RENAME"})


def check_calls(tokens: list[Token], dialect: str) -> frozenset[str]:
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
        word = token.token_type in (TokenType.VAR, TokenType.IDENTIFIER) or bool(WORD.fullmatch(token.text))
        before = tokens[i - 1] if i else None
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        if not word or (before is not None and before.token_type == TokenType.ALIAS):
            continue  # `AS name(a, b)` names a relation's columns
        if after is None or after.token_type != TokenType.L_PAREN:
            if (
                token.token_type != TokenType.IDENTIFIER
                and token.text.lower() in NILADIC[dialect]
                and not (before is not None and before.token_type == TokenType.DOT)
                and not (after is not None and after.token_type == TokenType.DOT)
            ):
                check_function(token.text, dialect)
                called.add(token.text.lower())
            continue
        if token.token_type in _GRAMMAR or i in ctes or _grammar_word(tokens, i, partner, dialect, star_modifiers):
            continue
        if token.token_type == TokenType.IDENTIFIER:
            raise quoted_refused(_quote(token.text, dialect))
        if before is not None and before.token_type == TokenType.DOT:
            raise qualified_refused(token.text)
        if token.text.upper() in CASTS:
            continue  # its type was checked by _cast_types
        if token.text.lower() not in SYNTAX_CALLS:
            check_function(token.text, dialect)
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
                raise SqlNotAllowed(UNPARSEABLE)
            opened = stack.pop()
            partner[opened], partner[i] = i, opened
    if stack:
        raise SqlNotAllowed(UNPARSEABLE)
    return partner


def _cast_types(tokens: list[Token], partner: dict[int, int], dialect: str) -> set[int]:
    """Check the type of every CAST(x AS type); return the positions the types take."""
    positions: set[int] = set()
    for i, token in enumerate(tokens[:-1]):
        if token.text.upper() not in CASTS or tokens[i + 1].token_type != TokenType.L_PAREN:
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
                    if tokens[inner + 1].token_type == TokenType.L_PAREN and WORD.fullmatch(tokens[inner].text):
                        check_type(tokens[inner].text, dialect)
                j = partner[j] + 1
                continue
            if kind in (TokenType.IDENTIFIER, TokenType.DOT) or not WORD.fullmatch(tokens[j].text):
                shown = "".join(t.text if t.token_type != TokenType.IDENTIFIER else _quote(t.text, dialect)
                                for t in tokens[k + 1 : close])  # fmt: skip
                raise SqlNotAllowed(f"Casting to {shown} is not allowed: only built-in type names can be used.")
            words.append(tokens[j].text)
            j += 1
        check_type(" ".join(words), dialect)
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


def split_explain(text: str, explain: Token, dialect: str, sg_dialect: str) -> tuple[str, str]:
    """Split `EXPLAIN [options] query` into a canonical prefix and the query text."""
    rest = text[explain.end + 1 :]
    if not rest.strip(" \t\r\n;"):
        raise SqlNotAllowed("EXPLAIN needs a query to explain.")
    tokens = tokenize(rest, sg_dialect)
    index, options = _explain_options(tokens, dialect)
    if index >= len(tokens):
        raise SqlNotAllowed("EXPLAIN needs a query to explain.")
    check_tokens(tokens[index:], dialect, after_explain=True)
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
                raise SqlNotAllowed(UNPARSEABLE)
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
