"""The guard: dangerous statements are refused, legitimate reads pass with the right tables and columns."""

from __future__ import annotations

import pytest
import sqlglot

from datadesk.sql.checked import Checked, SqlNotAllowed, TableRef
from datadesk.sql.columns import columns_read
from datadesk.sql.guard import check
from tests.sql.attacks import DIALECTS, corpus_attacks, corpus_reasons, handcrafted


def T(name: str, schema: str | None = None, catalog: str | None = None) -> TableRef:
    return TableRef(schema=schema, name=name, catalog=catalog)


USERS, ORDERS, TEAMS = T("users"), T("orders"), T("teams")

# --- dangerous statements ---------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS)
def test_statements_built_from_injection_corpora_are_refused(dialect: str) -> None:
    attacks = corpus_attacks(dialect)
    assert len(attacks) >= 300
    admitted = []
    for sql in attacks:
        try:
            check(sql, dialect)
        except SqlNotAllowed:
            continue
        admitted.append(sql)
    assert admitted == []


def test_the_corpora_hold_hundreds_of_parseable_attacks_not_only_broken_fragments() -> None:
    reasons = [reason for dialect in DIALECTS for reason in corpus_reasons(dialect).values()]
    assert sum(reason != "unparseable" for reason in reasons) >= 300


@pytest.mark.parametrize(("dialect", "sql"), [(d, sql) for d in DIALECTS for sql in handcrafted(d)])
def test_handcrafted_attacks_are_refused(dialect: str, sql: str) -> None:
    with pytest.raises(SqlNotAllowed) as refusal:
        check(sql, dialect)
    assert refusal.value.code == "sql_not_allowed"
    assert refusal.value.status == 400
    assert refusal.value.message.endswith(".")


def test_there_are_at_least_150_handcrafted_attacks_for_every_engine_together() -> None:
    assert sum(len(handcrafted(d)) for d in DIALECTS) >= 150
    assert all(len(handcrafted(d)) >= 90 for d in DIALECTS)


@pytest.mark.parametrize(
    ("dialect", "sql", "reason"),
    [
        ("postgres", "", "empty"),
        ("postgres", " -- nothing\n", "empty"),
        ("postgres", "SELECT 1; SELECT 2", "one statement"),
        ("mysql", "SELECT 1; SELECT 2", "one statement"),
        ("postgres", "DELETE FROM t", "DELETE statements cannot"),
        ("postgres", "GRANT SELECT ON t TO u", "GRANT statements cannot"),
        ("postgres", "WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x", "change data"),
        ("postgres", "SELECT * INTO t2 FROM t", "INTO"),
        ("mysql", "SELECT * FROM t INTO OUTFILE '/tmp/x'", "INTO"),
        ("postgres", "SELECT * FROM t FOR UPDATE", "Locking"),
        ("mysql", "SELECT * FROM t LOCK IN SHARE MODE", "Locking"),
        ("postgres", "SELECT pg_sleep(1)", "pg_sleep()"),
        ("mysql", "SELECT BENCHMARK(1, 1)", "benchmark()"),
        ("duckdb", "SELECT * FROM read_csv('x.csv')", "read_csv()"),
        ("sqlite", "SELECT load_extension('x')", "load_extension()"),
        ("postgres", "EXPLAIN ANALYZE SELECT 1", "EXPLAIN ANALYZE"),
        ("postgres", "EXPLAIN (COSTS false, ANALYZE) SELECT 1", "EXPLAIN ANALYZE"),
        ("postgres", "EXPLAIN (WAL) SELECT 1", "option WAL"),
        ("postgres", "EXPLAIN DELETE FROM t", "EXPLAIN is allowed only"),
        ("duckdb", "SELECT * FROM 'x.csv'", "file or URL"),
        ("mysql", "SELECT /*!50000 1 */", "executable comments"),
        ("mysql", "SELECT @@datadir", "Server variables"),
        ("postgres", "SELECT 1 /* sqlglot.meta case_sensitive */", "steer the SQL parser"),
        ("postgres", "SELECT FROM WHERE", "could not be parsed"),
        ("postgres", "SELECT 'x", "could not be parsed"),
    ],
)
def test_refusals_say_why(dialect: str, sql: str, reason: str) -> None:
    with pytest.raises(SqlNotAllowed) as refusal:
        check(sql, dialect)
    assert reason in refusal.value.message


def test_an_unknown_dialect_is_refused() -> None:
    with pytest.raises(SqlNotAllowed, match="Unknown SQL dialect"):
        check("SELECT 1", "oracle")


def test_an_over_long_statement_is_refused_before_parsing() -> None:
    with pytest.raises(SqlNotAllowed, match="longer than"):
        check("SELECT " + "1 + " * 30_000 + "1", "postgres")


def test_deeply_nested_input_is_refused_not_crashed() -> None:
    with pytest.raises(SqlNotAllowed):
        check("SELECT " + "(" * 5_000 + "1" + ")" * 5_000, "postgres")


# --- legitimate reads -------------------------------------------------------------------------------

_EVERY_ENGINE: list[tuple[str, set[TableRef]]] = [
    ("SELECT id, name FROM users", {USERS}),
    ("SELECT u.name, o.amount FROM users AS u JOIN orders AS o ON o.user_id = u.id", {USERS, ORDERS}),
    ("SELECT u.name FROM users u LEFT JOIN orders o ON o.user_id = u.id WHERE o.id IS NULL", {USERS, ORDERS}),
    ("SELECT name FROM users WHERE id IN (SELECT user_id FROM orders WHERE amount > 10)", {USERS, ORDERS}),
    ("SELECT name, (SELECT count(*) FROM orders o WHERE o.user_id = u.id) AS n FROM users u", {USERS, ORDERS}),
    ("SELECT name FROM users WHERE EXISTS (SELECT 1 FROM orders WHERE orders.user_id = users.id)", {USERS, ORDERS}),
    (
        "WITH big AS (SELECT user_id, sum(amount) AS total FROM orders GROUP BY user_id) "
        "SELECT u.name, b.total FROM users u JOIN big b ON b.user_id = u.id",
        {USERS, ORDERS},
    ),
    ("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 10) SELECT n FROM r", set()),
    (
        "WITH RECURSIVE chain(id, team_id) AS (SELECT id, team_id FROM users WHERE id = 1 "
        "UNION ALL SELECT u.id, u.team_id FROM users u JOIN chain c ON u.team_id = c.id) SELECT * FROM chain",
        {USERS},
    ),
    (
        "SELECT user_id, amount, row_number() OVER (PARTITION BY user_id ORDER BY amount DESC) AS rn, "
        "sum(amount) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS running FROM orders",
        {ORDERS},
    ),
    ("SELECT name FROM users UNION SELECT name FROM teams", {USERS, TEAMS}),
    ("SELECT id FROM users UNION ALL SELECT id FROM teams ORDER BY 1", {USERS, TEAMS}),
    ("SELECT id FROM users INTERSECT SELECT user_id FROM orders", {USERS, ORDERS}),
    ("SELECT id FROM users EXCEPT SELECT user_id FROM orders", {USERS, ORDERS}),
    ("(SELECT id FROM users) UNION ALL (SELECT id FROM teams)", {USERS, TEAMS}),
    (
        "SELECT * FROM (SELECT user_id, count(*) AS c FROM orders GROUP BY user_id HAVING count(*) > 1) AS t "
        "ORDER BY c DESC LIMIT 5",
        {ORDERS},
    ),
    ("SELECT DISTINCT team_id FROM users ORDER BY 1", {USERS}),
    ("SELECT CASE WHEN amount > 100 THEN 'big' ELSE 'small' END AS size, count(*) FROM orders GROUP BY 1", {ORDERS}),
    ("SELECT 1", set()),
    ("SELECT 1;", set()),
    ("-- a comment\nSELECT id FROM users /* trailing */", {USERS}),
    ("SELECT * FROM users WHERE name = 'O''Brien; DROP TABLE users'", {USERS}),
    ("SELECT * FROM users WHERE name LIKE '%sleep(5)%'", {USERS}),
    ("SELECT u.name AS sleep_time, u.id AS into_count FROM users u", {USERS}),
    ("SELECT coalesce(max(amount), 0) FROM orders WHERE id >= 2", {ORDERS}),
    ("WITH users AS (SELECT 1 AS id) SELECT * FROM users", set()),
    ("WITH x AS (SELECT * FROM orders) SELECT * FROM x JOIN users ON users.id = x.user_id", {USERS, ORDERS}),
    ("WITH x AS (SELECT 1 AS id) SELECT * FROM (WITH y AS (SELECT * FROM x) SELECT * FROM y) AS z", set()),
    ("SELECT * FROM (WITH teams AS (SELECT 1 AS id) SELECT * FROM teams) AS a, teams", {TEAMS}),
    ("WITH a AS (SELECT * FROM teams), b AS (SELECT * FROM a) SELECT * FROM b", {TEAMS}),
]

_ENGINE: dict[str, list[tuple[str, set[TableRef]]]] = {
    "postgres": [
        ("VALUES (1, 'a'), (2, 'b')", set()),
        (
            "SELECT * FROM public.users JOIN sales.orders ON sales.orders.user_id = public.users.id",
            {T("users", "public"), T("orders", "sales")},
        ),
        ('SELECT "Name" FROM "Sales"."Big Orders"', {T("Big Orders", "Sales")}),
        ("SELECT name FROM USERS", {USERS}),
        ("WITH users AS (SELECT 1 AS id) SELECT * FROM public.users", {T("users", "public")}),
        ('WITH "Teams" AS (SELECT 1 AS id) SELECT * FROM Teams', {TEAMS}),
        (
            "SELECT u.name, l.amount FROM users u CROSS JOIN LATERAL "
            "(SELECT amount FROM orders o WHERE o.user_id = u.id ORDER BY amount DESC LIMIT 1) l",
            {USERS, ORDERS},
        ),
        ("SELECT * FROM generate_series(1, 3) AS g(n)", set()),
        ("SELECT id::text, now() - interval '1 day' FROM users WHERE name ~ '^A'", {USERS}),
        ("SELECT count(*) FILTER (WHERE amount > 10), string_agg(id::text, ', ' ORDER BY id) FROM orders", {ORDERS}),
        ("SELECT * FROM users WHERE id = ANY(ARRAY[1, 2])", {USERS}),
        ("SELECT $$a ; DROP TABLE users$$ AS s", set()),
        ("EXPLAIN SELECT * FROM users", {USERS}),
        ("EXPLAIN VERBOSE SELECT * FROM users", {USERS}),
        (
            "EXPLAIN (FORMAT JSON, COSTS false) SELECT * FROM users JOIN orders ON orders.user_id = users.id",
            {USERS, ORDERS},
        ),
    ],
    "mysql": [
        ("SELECT `u`.`name` FROM `users` AS `u`", {USERS}),
        ("SELECT * FROM sales.orders", {T("orders", "sales")}),
        ("SELECT `Name` FROM `big orders`", {T("big orders")}),
        ("SELECT DATE_FORMAT(created_at, '%Y-%m') AS m, SUM(amount) FROM orders GROUP BY m", {ORDERS}),
        ("SELECT IF(amount > 10, 'big', 'small') FROM orders", {ORDERS}),
        ("SELECT * FROM users LIMIT 10 OFFSET 5", {USERS}),
        ("SELECT GROUP_CONCAT(name SEPARATOR ', ') FROM users", {USERS}),
        ("SELECT 'it\\'s; DROP TABLE users' AS s", set()),
        ('SELECT * FROM users WHERE name = "a; SLEEP(10)"', {USERS}),
        ("SELECT 1 - -1 AS x", set()),
        ("EXPLAIN SELECT * FROM users", {USERS}),
        ("EXPLAIN FORMAT=JSON SELECT * FROM users", {USERS}),
    ],
    "sqlite": [
        ("VALUES (1, 'a'), (2, 'b')", set()),
        ("SELECT * FROM users WHERE name GLOB 'A*'", {USERS}),
        ("SELECT glob('A*', name) FROM users", {USERS}),
        ("SELECT strftime('%Y', created_at) FROM orders", {ORDERS}),
        ("SELECT * FROM main.users", {T("users", "main")}),
        ("SELECT rowid, * FROM users", {USERS}),
        ("SELECT group_concat(name) FROM users", {USERS}),
        ("SELECT [Name] FROM [big orders]", {T("big orders")}),
        ("EXPLAIN QUERY PLAN SELECT * FROM users", {USERS}),
        ("EXPLAIN SELECT 1", set()),
    ],
    "duckdb": [
        ("VALUES (1, 'a'), (2, 'b')", set()),
        ("FROM users", {USERS}),
        ("FROM users SELECT name", {USERS}),
        ("SELECT * EXCLUDE (ssn) FROM users", {USERS}),
        ("SELECT * FROM range(10) AS t(n)", set()),
        ("SELECT unnest([1, 2, 3]) AS x", set()),
        ("SELECT list_transform([1, 2], lambda x: x + 1) AS l, [y * 2 FOR y IN [1, 2]] AS m", set()),
        ("SELECT * FROM main.users", {T("users", "main")}),
        ("SELECT {'a': 1} AS s", set()),
        ('SELECT "Name" FROM "Big Orders"', {T("big orders")}),
        ("SELECT * FROM users POSITIONAL JOIN teams", {USERS, TEAMS}),
        ("EXPLAIN SELECT * FROM users", {USERS}),
    ],
}

LEGIT: list[tuple[str, str, set[TableRef]]] = [
    (dialect, sql, tables) for dialect in DIALECTS for sql, tables in _EVERY_ENGINE + _ENGINE[dialect]
]


@pytest.mark.parametrize(("dialect", "sql", "tables"), LEGIT)
def test_legitimate_reads_pass_with_their_tables(dialect: str, sql: str, tables: set[TableRef]) -> None:
    checked = check(sql, dialect)
    assert set(checked.tables) == tables
    assert len(checked.tables) == len(set(checked.tables))
    again = check(checked.sql, dialect)  # what runs is itself admitted, unchanged
    assert (again.sql, again.tables) == (checked.sql, checked.tables)


def test_what_runs_is_rebuilt_from_the_checked_tree_without_comments() -> None:
    checked = check("/* hello */ SELECT id -- the id\nFROM users; -- bye", "postgres")
    assert checked.sql == "SELECT id FROM users"
    assert not checked.explain


def test_the_rebuilt_text_keeps_what_the_engine_would_name_or_resolve_differently() -> None:
    # MySQL and SQLite name an unaliased expression by its text; PostgreSQL by the function name.
    assert check("SELECT count(*) FROM users", "mysql").sql == "SELECT COUNT(*) AS `count(*)` FROM users"
    assert check("SELECT count(*) FROM users", "sqlite").sql == 'SELECT COUNT(*) AS "count(*)" FROM users'
    assert check("SELECT count(*) FROM users", "postgres").sql == "SELECT COUNT(*) FROM users"
    # A function name keeps the case it was written in; quoted, only a built-in sqlglot knows passes, unquoted.
    assert check("SELECT Num_Nulls(1, NULL)", "postgres").sql == "SELECT Num_Nulls(1, NULL)"
    assert check('SELECT "upper"(name) FROM users', "postgres").sql == "SELECT UPPER(name) FROM users"
    with pytest.raises(SqlNotAllowed, match="Quoted function names"):
        check('SELECT "num_nulls"(1)', "postgres")


def test_explain_options_come_back_in_a_canonical_form() -> None:
    assert check("explain (format json, costs off) select 1", "postgres").sql == (
        "EXPLAIN (FORMAT JSON, COSTS FALSE) SELECT 1"
    )
    assert check("explain format=tree select 1", "mysql").sql == "EXPLAIN FORMAT=TREE SELECT 1"
    assert check("explain query plan select 1", "sqlite").sql == "EXPLAIN QUERY PLAN SELECT 1"
    checked = check("EXPLAIN SELECT * FROM users", "duckdb")
    assert (checked.sql, checked.explain) == ("EXPLAIN SELECT * FROM users", True)


def test_checked_is_a_plain_value() -> None:
    checked = check("SELECT 1", "sqlite")
    assert isinstance(checked, Checked)
    assert checked == check("SELECT 1", "sqlite")
    assert str(T("b", "a", "c")) == "c.a.b"


# --- CTE scoping -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "tables"),
    [
        # A non-recursive CTE that names itself reads the real table of that name.
        ("WITH x AS (SELECT * FROM x) SELECT * FROM x", {T("x")}),
        ("WITH RECURSIVE x AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM x WHERE n < 3) SELECT * FROM x", set()),
        # Later CTEs are not visible to earlier ones: `b` inside `a` is the real table.
        ("WITH a AS (SELECT * FROM b), b AS (SELECT * FROM t) SELECT * FROM a", {T("b"), T("t")}),
        # A CTE is not visible outside the query that defines it.
        ("SELECT * FROM (WITH x AS (SELECT 1) SELECT * FROM x) AS a, x", {T("x")}),
        ("SELECT (WITH x AS (SELECT 1 AS n) SELECT n FROM x), (SELECT count(*) FROM x)", {T("x")}),
        # Inner definitions shadow outer ones; a qualified name is never a CTE.
        ("WITH x AS (SELECT 1) SELECT * FROM (WITH x AS (SELECT * FROM x) SELECT * FROM x) AS s", set()),
        ("WITH users AS (SELECT 1) SELECT * FROM public.users", {T("users", "public")}),
        # A quoted CTE name differs from the unquoted (folded) table name.
        ('WITH "Users" AS (SELECT 1) SELECT * FROM Users', {T("users")}),
        (
            "WITH x AS (SELECT * FROM a UNION SELECT * FROM b) SELECT * FROM x UNION SELECT * FROM c",
            {T(n) for n in "abc"},
        ),
    ],
)
def test_cte_names_are_resolved_in_scope(sql: str, tables: set[TableRef]) -> None:
    assert set(check(sql, "postgres").tables) == tables


def test_tables_from_every_corner_of_a_query_are_returned() -> None:
    sql = """
        WITH c AS (SELECT * FROM t_cte)
        SELECT (SELECT max(v) FROM t_scalar), l.*
        FROM t_from f
        JOIN t_join j ON j.id = f.id
        CROSS JOIN LATERAL (SELECT * FROM t_lateral WHERE t_lateral.id = f.id) AS l
        WHERE f.id IN (SELECT id FROM t_in) AND EXISTS (SELECT 1 FROM t_exists)
        GROUP BY 1 HAVING count(*) > (SELECT count(*) FROM t_having)
        UNION SELECT 1, 2 FROM t_union
        ORDER BY 1
    """
    names = {ref.name for ref in check(sql, "postgres").tables}
    assert names == {"t_cte", "t_scalar", "t_from", "t_join", "t_lateral", "t_in", "t_exists", "t_having", "t_union"}


# --- columns read ------------------------------------------------------------------------------------

SCHEMA = {
    USERS: ["id", "name", "email", "ssn", "team_id"],
    ORDERS: ["id", "user_id", "amount", "created_at"],
    TEAMS: ["id", "name"],
}
ALL_USERS = set(SCHEMA[USERS])


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT * FROM users", {USERS: ALL_USERS}),
        (
            "SELECT u.*, o.amount FROM users u JOIN orders o ON o.user_id = u.id",
            {USERS: ALL_USERS, ORDERS: {"amount", "user_id"}},
        ),
        ("SELECT name FROM users WHERE ssn = 'x'", {USERS: {"name", "ssn"}}),
        ("SELECT users.name FROM users", {USERS: {"name"}}),
        ("SELECT u.email AS contact FROM users AS u", {USERS: {"email"}}),
        ("SELECT t.c FROM (SELECT ssn AS c FROM users) AS t", {USERS: {"ssn"}}),
        ("WITH x AS (SELECT ssn AS harmless FROM users) SELECT harmless FROM x", {USERS: {"ssn"}}),
        ("SELECT upper(substr(ssn, 1, 3)) FROM users", {USERS: {"ssn"}}),
        ("SELECT count(*) FROM users", {}),
        ("SELECT count(DISTINCT email) FROM users", {USERS: {"email"}}),
        (
            "SELECT team_id, count(*) FROM users GROUP BY team_id HAVING max(ssn) > '1' ORDER BY min(email)",
            {USERS: {"team_id", "ssn", "email"}},
        ),
        ("SELECT id FROM users, orders", {USERS: {"id"}, ORDERS: {"id"}}),
        ("SELECT name FROM users JOIN teams ON true", {USERS: {"name"}, TEAMS: {"name"}}),
        ("SELECT id FROM users JOIN orders USING (id)", {USERS: {"id"}, ORDERS: {"id"}}),
        ("SELECT u FROM users u", {USERS: ALL_USERS}),
        ("SELECT row_to_json(u) FROM users u", {USERS: ALL_USERS}),
        ("SELECT (u).ssn FROM users u", {USERS: ALL_USERS}),
        (
            "SELECT name FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id AND o.amount > 10)",
            {USERS: {"name", "id"}, ORDERS: {"user_id", "amount"}},
        ),
        ("SELECT name FROM users UNION SELECT name FROM teams", {USERS: {"name"}, TEAMS: {"name"}}),
        ("SELECT x.name FROM (SELECT * FROM users) AS x", {USERS: ALL_USERS}),  # conservative: the inner * reads all
        ("EXPLAIN SELECT ssn FROM users", {USERS: {"ssn"}}),
        ("SELECT 1 FROM users WHERE name IS NULL", {USERS: {"name"}}),
        ("SELECT n FROM generate_series(1, 3) AS g(n)", {}),
        ("SELECT * FROM users, generate_series(1, 2) AS g(n)", {USERS: ALL_USERS}),
        ("SELECT to_jsonb(users.*) FROM users", {USERS: ALL_USERS}),
        # Renaming columns by position hides which is which: every column counts.
        ("SELECT c FROM users AS u(a, b, c)", {USERS: ALL_USERS}),
        ("SELECT b FROM (SELECT id, ssn FROM users) AS t(a, b)", {USERS: {"id", "ssn"}}),
        ("WITH x(a) AS (SELECT ssn FROM users) SELECT a FROM x", {USERS: {"ssn"}}),
        (
            "SELECT u.name FROM users u CROSS JOIN LATERAL (SELECT o.amount FROM orders o WHERE o.user_id = u.id) l",
            {USERS: {"name", "id"}, ORDERS: {"amount", "user_id"}},
        ),
    ],
)
def test_columns_read(sql: str, expected: dict[TableRef, set[str]]) -> None:
    assert columns_read(check(sql, "postgres"), SCHEMA) == expected


def test_columns_read_keys_are_the_callers_keys() -> None:
    checked = check("SELECT s.ssn FROM public.users AS s", "postgres")
    assert columns_read(checked, {("public", "users"): ["id", "ssn"]}) == {("public", "users"): {"ssn"}}


def test_columns_read_keeps_the_catalogs_spelling_of_quoted_names() -> None:
    checked = check('SELECT "Secret", id FROM people', "postgres")
    people = T("people")
    assert columns_read(checked, {people: ["id", "Secret", "secret"]}) == {people: {"Secret", "id"}}


def test_columns_read_folds_case_where_the_engine_does() -> None:
    assert columns_read(check("SELECT SSN FROM users", "mysql"), SCHEMA) == {USERS: {"ssn"}}
    assert columns_read(check("SELECT `Email` FROM `users`", "mysql"), SCHEMA) == {USERS: {"email"}}
    assert columns_read(check('SELECT "SSN" FROM USERS', "duckdb"), SCHEMA) == {USERS: {"ssn"}}


def test_columns_read_on_duckdb_star_modifiers() -> None:
    assert columns_read(check("SELECT * EXCLUDE (ssn) FROM users", "duckdb"), SCHEMA) == {USERS: ALL_USERS - {"ssn"}}
    assert columns_read(check("SELECT COLUMNS('s.*') FROM users", "duckdb"), SCHEMA) == {USERS: ALL_USERS}
    assert columns_read(check("SELECT * REPLACE (1 AS ssn) FROM users", "duckdb"), SCHEMA) == {
        USERS: ALL_USERS - {"ssn"}
    }
    assert columns_read(check("SELECT concat(*) FROM users", "duckdb"), SCHEMA) == {USERS: ALL_USERS}


def test_columns_read_refuses_what_it_cannot_resolve() -> None:
    with pytest.raises(SqlNotAllowed, match="columns"):
        columns_read(check("SELECT * FROM nowhere", "postgres"), SCHEMA)
    with pytest.raises(SqlNotAllowed, match="columns"):
        columns_read(check("SELECT n.* FROM nowhere AS n", "postgres"), SCHEMA)


def test_columns_read_of_a_table_outside_the_schema_keys_it_by_tableref() -> None:
    assert columns_read(check("SELECT a FROM elsewhere", "postgres"), SCHEMA) == {T("elsewhere"): {"a"}}


def test_checked_sql_parses_back_to_one_query() -> None:
    for dialect, sql, _ in LEGIT:
        checked = check(sql, dialect)
        if not checked.explain:
            statements = sqlglot.parse(checked.sql, read=dialect)
            assert len([s for s in statements if s is not None]) == 1
