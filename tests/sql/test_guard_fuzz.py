"""Fuzzing the guard: it only ever admits (one allowed query) or refuses; nothing else escapes."""

from __future__ import annotations

import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from datadesk.sql.allowlist import allowed_functions
from datadesk.sql.checked import Checked, SqlNotAllowed
from datadesk.sql.guard import check
from tests.sql.attacks import DIALECTS

_VOCABULARY = (
    "SELECT WITH RECURSIVE VALUES EXPLAIN ANALYZE FROM WHERE JOIN LEFT LATERAL ON USING GROUP BY HAVING ORDER"
    " LIMIT OFFSET UNION ALL INTERSECT EXCEPT DISTINCT AS AND OR NOT IN EXISTS IS NULL CASE WHEN THEN ELSE END"
    " INTO OUTFILE DUMPFILE FOR UPDATE SHARE LOCK MODE INSERT UPDATE DELETE MERGE REPLACE CREATE DROP ALTER"
    " TRUNCATE GRANT REVOKE BEGIN COMMIT ROLLBACK SET RESET PRAGMA ATTACH DETACH INSTALL LOAD COPY CALL DO"
    " EXECUTE PREPARE VACUUM LOCK USE SHOW TABLE RETURNING OVER PARTITION ROWS QUERY PLAN FORMAT JSON"
    " users orders t x y id name ssn sleep pg_sleep load_file read_csv query benchmark count sum now"
    " current_setting @@version @a $1 ? 1 0 2.5 -1 1e3"
)
_WORDS = _VOCABULARY.split()
_PUNCTUATION = [",", "(", ")", ";", "*", ".", "=", "<", ">", "+", "-", "||", "::", "[", "]", "{", "}", ":"]
_LITERALS = [
    "'a'",
    "''",
    "'it''s'",
    "'a\\'",
    '"q"',
    '"Q Q"',
    "`b`",
    "[c]",
    "$$d$$",
    "$t$e$t$",
    "E'\\''",
    "x'41'",
    "'/etc/passwd'",
    "'x.csv'",
    "'https://h/x.csv'",
]
_COMMENTS = ["-- c\n", "/* c */", "/*! c */", "/*+ c */", "# c\n", "/* /* */", "*/", "--", "/*"]

_token = st.one_of(
    st.sampled_from(_WORDS), st.sampled_from(_PUNCTUATION), st.sampled_from(_LITERALS), st.sampled_from(_COMMENTS)
)
_soup = st.lists(_token, min_size=1, max_size=25).map(" ".join)
_select_soup = st.lists(_token, max_size=15).map(lambda tokens: "SELECT " + " ".join(tokens))

_ALLOWED_ROOTS = (exp.Select, exp.SetOperation, exp.Values, exp.Subquery)
_FUZZ = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def _admit_or_refuse(sql: str, dialect: str) -> Checked | None:
    try:
        checked = check(sql, dialect)
    except SqlNotAllowed:
        return None
    assert isinstance(checked, Checked)
    return checked


def _assert_safe_admission(checked: Checked) -> None:
    """What the guard admits is itself admitted again, naming the same tables, and is a single query."""
    again = check(checked.sql, checked.dialect)
    assert again.tables == checked.tables
    if not checked.explain:
        statements = [s for s in sqlglot.parse(checked.sql, read=checked.dialect) if s is not None]
        assert len(statements) == 1
        assert isinstance(statements[0], _ALLOWED_ROOTS)
    else:
        assert checked.sql.startswith("EXPLAIN ")
        assert "ANALYZE" not in checked.sql.split(" SELECT", 1)[0].upper()


@_FUZZ
@given(sql=st.text(max_size=200), dialect=st.sampled_from(DIALECTS))
def test_random_text_is_admitted_or_refused_never_crashes(sql: str, dialect: str) -> None:
    checked = _admit_or_refuse(sql, dialect)
    if checked is not None:
        _assert_safe_admission(checked)


@_FUZZ
@given(sql=_soup, dialect=st.sampled_from(DIALECTS))
def test_sql_token_soup_is_admitted_or_refused_never_crashes(sql: str, dialect: str) -> None:
    checked = _admit_or_refuse(sql, dialect)
    if checked is not None:
        _assert_safe_admission(checked)


@settings(max_examples=800, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(sql=_select_soup, dialect=st.sampled_from(DIALECTS))
def test_select_shaped_soup_never_admits_anything_but_one_query(sql: str, dialect: str) -> None:
    checked = _admit_or_refuse(sql, dialect)
    if checked is not None:
        _assert_safe_admission(checked)
        tree = checked.expression
        assert not any(isinstance(node, (exp.DML, exp.DDL, exp.Into, exp.Lock, exp.Command)) for node in tree.walk())
        names = {node.name.lower() for node in tree.find_all(exp.Anonymous)}
        assert not names & {"sleep", "pg_sleep", "load_file", "read_csv", "query", "benchmark", "current_setting"}
        assert names <= allowed_functions(dialect) | {"row", "array"}
        assert checked.functions <= allowed_functions(dialect)
