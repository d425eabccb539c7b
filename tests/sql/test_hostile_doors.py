"""The issue's reproductions through the two other doors: MCP's run_sql and the assistant's run_sql.

Each statement goes first to POST /sql on the attacker's worlds (hostile_worlds.py). MCP must answer it
as POST /sql does (the same error body, or the same result) and hand the engine the same statements;
the assistant must give the person the same outcome, while the provider hears only a fixed code and
sentence, or the columns: never a canary, a stored value or a number.
"""

from __future__ import annotations

import copy
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from datadesk.ai.egress import SQL_ERRORS
from datadesk.app import create_app
from datadesk.settings import Settings
from tests.ai.conftest import ask, use
from tests.fakes.llm_server import FakeLLMServer, text, tool_calls
from tests.mcp.conftest import error_of, run, text_of, unfence
from tests.sql.hostile_worlds import (
    REFUSALS,
    Attack,
    HostileWorld,
    check_sanity,
    duckdb_world,
    hostile_app,
    leaks,
    load_attacks,
    postgres_world,
)


def _pick(engine: str, who: str, statements: list[str]) -> list[Attack]:
    """Attacks of the engine's hostile file, by their exact text (so the file stays the one source)."""
    known = {(a.who, a.sql): a for a in load_attacks(engine)}
    missing = [sql for sql in statements if (who, sql) not in known]
    if missing:
        raise ValueError(f"not in hostile/{engine}.txt as {who}: {missing}")
    return [known[(who, sql)] for sql in statements]


def _own(engine: str, sql: str, why: str) -> Attack:
    """A reproduction the hostile files lack: it may run (the person may see what it reads); the model hears nothing."""
    return Attack(engine, 0, "member", "harmless", sql, why)


# The issue's own reproductions, as hostile/postgres.txt spells them; then more from the file.
PG_ISSUE = [
    "SELECT * FROM ts_stat('SELECT to_tsvector(secret) FROM hidden.secrets')",
    "SELECT ts_rewrite('a'::tsquery, 'SELECT to_tsquery(''simple'', replace(secret, ''-'', '''')),"
    " ''a''::tsquery FROM hidden.secrets')",
    "SELECT * FROM pg_show_all_settings()",
    "SELECT * FROM pg_hba_file_rules()",
    "SELECT * FROM pg_stat_get_activity(NULL)",
    "SELECT to_regclass('hidden.secrets')",
    "SELECT pg_relation_size('hidden.secrets')",
    "SELECT (NULL::hidden.secrets).*",
    "SELECT pg_database_size('{{other_db}}')",
    "SELECT * FROM salaries",
    "SELECT * FROM calendar",
    "SELECT count(*) FROM generate_series(1, (SELECT ascii(substr(secret, 1, 1)) FROM hidden.secrets LIMIT 1))",
    "SELECT count(*) FROM customers, generate_series(1, ascii(substr(email, 1, 1)))",
]
PG_MORE = [
    "SELECT * FROM ts_stat($$SELECT to_tsvector(secret) FROM hidden.secrets$$)",
    "SELECT query_to_xml('SELECT secret FROM hidden.secrets', true, false, '')",
    "SELECT * FROM json_populate_record(NULL::hidden.secrets, '{}')",
    'SELECT * FROM U&"\\0073alaries"',
    "SELECT * FROM SÄLARIES",
    "SELECT name, setting FROM pg_settings",
    "SELECT i::regclass::text FROM generate_series(16384, 20000) i",
    "EXPLAIN (VERBOSE) SELECT * FROM salaries",
    "SELECT c FROM customers c",
    "SELECT * FROM dblink('dbname={{other_db}}', 'SELECT v FROM vault') AS t(v text)",
    'SELECT name FROM "Salaries" -- comment\nUNION SELECT secret FROM hidden.secrets',
    "SELECT kind FROM events",
    "SELECT length(1)",
    'SELECT name + 1 FROM "Salaries"',
    "SELECT 1::bytea",
]
PG_ADMIN = [
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT * FROM ts_stat('SELECT to_tsvector(''simple'', rolpassword) FROM pg_authid')",
    "SELECT query_to_xml('SELECT pg_read_file(''/etc/passwd'')', true, false, '')",
    "SELECT * FROM pg_show_all_settings()",
    "SELECT * FROM pg_stat_get_activity(NULL)",
    "SELECT pg_database_size('{{other_db}}')",
]
PG_ATTACKS = [
    *_pick("postgres", "member", PG_ISSUE + PG_MORE),
    _own("postgres", 'SELECT g FROM "Salaries", generate_series(1, ascii(substr(name, 1, 1))) g', "count encoding"),
    _own("postgres", "SELECT repeat('x', 10000000) FROM generate_series(1, 50)", "a 500 MB result"),
    *_pick("postgres", "admin", PG_ADMIN),
]
DUCK_ATTACKS = [
    *_pick(
        "duckdb",
        "member",
        [
            "SELECT error(secret) FROM hidden.secrets",
            "SELECT error(email) FROM customers",
            "SELECT CAST(secret AS INTEGER) FROM hidden.secrets",
            "SELECT CAST(email AS INTEGER) FROM customers",
            "SELECT * FROM zqx_vaul",
            "SELECT * FROM query('SELECT * FROM hidden.secrets')",
            "ATTACH '{{store}}' AS store (TYPE sqlite)",
            "SELECT hamming(1, 2, 3)",
            "SELECT repeat('x', 1000000) FROM range(50)",
        ],
    ),
    _own("duckdb", "SELECT error(customer) FROM orders", "error of a value"),
    _own("duckdb", "SELECT * FROM orders, generate_series(1, ascii(substr(customer, 1, 1)))", "count encoding"),
    _own("duckdb", "SELECT CAST(customer AS INTEGER) FROM orders", "a cast failure quoting a value"),
    _own("duckdb", "SELECT repeat('x', 10000000) FROM range(50)", "a 500 MB result"),
    _own("duckdb", "PIVOT orders ON customer USING sum(amount)", "values as column names"),
    _own("duckdb", "SELECT * FROM (PIVOT orders ON customer USING sum(amount))", "values as column names, nested"),
    _own("duckdb", "SELECT * FROM orders PIVOT (sum(amount) FOR customer IN ('acme'))", "a standard PIVOT"),
]
# Values of visible tables: the person may see them, the model must never hear them.
VISIBLE_VALUES = {
    "postgres": ["alice", "bob", "new year", "Oslo", "dark", "signup"],
    "duckdb": ["acme", "globex", "initech", "new year", "Oslo"],
}
# Bombs end at whichever limit comes first on a loaded machine (time, memory or bytes), so a door must
# end them by a limit too, not necessarily the same one as POST /sql did.
BOMBS = {
    "SELECT repeat('x', 10000000) FROM generate_series(1, 50)",
    "SELECT repeat('x', 1000000) FROM range(50)",
    "SELECT repeat('x', 10000000) FROM range(50)",
}
QUESTION = "Please run these statements for me."
RESULT = ("columns", "rows", "row_count", "truncated")
RESULT_KEYS = {"status", "columns", "rows_returned", "truncated", "note"}


# --- the doors ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Baseline:
    """What POST /sql answered for one statement, and what it handed the engine."""

    body: Any
    reached: tuple[str, ...]


def _code(body: Any) -> str:
    return str(body["error"]["code"]) if "error" in body else ""


def _bounded(body: Any) -> bool:
    """Ended by a limit: cut at the byte or row cap, timed out, or stopped by the engine (memory)."""
    return body.get("truncated") is True or _code(body) in ("sql_timeout", "sql_error")


def _differs(got: Any, expected: Baseline, attack: Attack) -> str:
    """How a door's answer (in POST /sql's shape) differs from POST /sql's; empty when it does not."""
    if attack.sql in BOMBS:
        return "" if _bounded(got) and _bounded(expected.body) else f"a bomb not ended by a limit: {_code(got)}"
    if "error" in expected.body or "error" in got:
        return "" if got == expected.body else f"{got.get('error')} where POST /sql gave {expected.body.get('error')}"
    same = all(got[k] == expected.body[k] for k in RESULT)
    return "" if same else "a result other than POST /sql's"


@dataclass(repr=False)
class Doors:
    """A hostile world, its app served over HTTP for MCP, and POST /sql's answers so far."""

    world: HostileWorld
    mcp_url: str
    baselines: dict[tuple[str, str], Baseline] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Doors({self.world.engine})"

    def baseline(self, attack: Attack) -> Baseline:
        """POST /sql's answer (once per statement), which must itself be a refusal or harmless."""
        key = (attack.who, attack.sql)
        if key not in self.baselines:
            sql = self.world.render(attack.sql)
            before = len(self.world.calls)
            response = self.world.post(attack.who, sql)
            found = Baseline(response.json(), tuple(self.world.calls[before:]))
            where = f"POST /sql {attack.who} {sql!r}: {response.status_code} {response.text[:300]}"
            assert not leaks(response.text, self.world.canaries[attack.who], sql), where
            assert response.status_code < 500, where
            if attack.expect == "refused":
                assert (response.status_code, _code(found.body)) in REFUSALS and not found.reached, where
            self.baselines[key] = found
        return self.baselines[key]


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """The /mcp URL of a second app on the world's store, served by uvicorn in a thread."""
    app = create_app(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
        app.state.engine.dispose()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server
    assert not server.errors, "fake LLM server errors:\n" + "\n".join(server.errors)


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Doors]:
    with (
        hostile_app(tmp_path_factory.mktemp("doors_postgres"), sqlite_template) as app,
        postgres_world(app) as world,
        serving(app.settings) as url,
    ):
        check_sanity(world, 'SELECT name FROM public."Salaries"', "SELECT secret FROM hidden.secrets", "ZQXSECRETPG1")
        yield Doors(world, url)


@pytest.fixture(scope="module")
def duck(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Doors]:
    with (
        hostile_app(tmp_path_factory.mktemp("doors_duckdb"), sqlite_template) as app,
        duckdb_world(app) as world,
        serving(app.settings) as url,
    ):
        check_sanity(world, "SELECT customer FROM orders", "SELECT secret FROM hidden.secrets", "ZQX-SECRET-DK-1")
        yield Doors(world, url)


# --- MCP ------------------------------------------------------------------------------------------


async def _mcp_run_sql(url: str, token: str, arguments: dict[str, str]) -> Any:
    """One run_sql call through the mcp SDK's client (its default timeouts: a query may take seconds)."""
    async with (
        create_mcp_http_client(headers={"Authorization": f"Bearer {token}"}) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        return await client.call_tool("run_sql", arguments)


def through_mcp(doors: Doors, attack: Attack) -> None:
    """MCP answers as POST /sql does, hands the engine the same statements and returns no canary."""
    world, expected = doors.world, doors.baseline(attack)
    sql = world.render(attack.sql)
    arguments = {"integration_id": world.integrations[attack.who], "sql": sql}
    before = len(world.calls)
    reply = run(lambda: _mcp_run_sql(doors.mcp_url, world.person(attack.who).token, arguments))
    reached = tuple(world.calls[before:])
    answer = text_of(reply)
    assert not leaks(answer, world.canaries[attack.who], sql), answer[:300]
    # An error is the contract's body, the same code and sentence as POST /sql's; a result is fenced.
    got = error_of(reply) if reply.is_error else unfence(answer, "query_result")
    assert not _differs(got, expected, attack), _differs(got, expected, attack)
    assert reached == expected.reached, "MCP handed the engine other statements than POST /sql"


@pytest.mark.parametrize("attack", PG_ATTACKS, ids=[a.id for a in PG_ATTACKS])
def test_mcp_answers_postgres_attacks_as_post_sql_does(pg: Doors, attack: Attack) -> None:
    through_mcp(pg, attack)


@pytest.mark.parametrize("attack", DUCK_ATTACKS, ids=[a.id for a in DUCK_ATTACKS])
def test_mcp_answers_duckdb_attacks_as_post_sql_does(duck: Doors, attack: Attack) -> None:
    through_mcp(duck, attack)


# --- the assistant --------------------------------------------------------------------------------


def _is_tool_use(block: Any) -> bool:
    return isinstance(block, dict) and block.get("type") == "tool_use"


def _split_tool_calls(body: Any) -> tuple[list[Any], Any]:
    """The model's tool calls as echoed in a request body (either API), and the body without them."""
    rest = copy.deepcopy(body)
    calls: list[Any] = []
    for message in rest.get("messages", []):
        for call in message.pop("tool_calls", None) or []:  # Chat Completions
            calls.append(json.loads(call["function"]["arguments"]))
        if isinstance(message.get("content"), list):  # Messages: tool_use blocks in an assistant turn
            calls += [block["input"] for block in message["content"] if _is_tool_use(block)]
            message["content"] = [block for block in message["content"] if not _is_tool_use(block)]
    return calls, rest


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _heard_problems(result: Any, person: Any, sql: str, values: list[str]) -> list[str]:
    """What is wrong with the run_sql result the model heard, against the person's own outcome of the call."""
    problems = []
    if "error" in person:
        code = _code(person)
        if set(result) != {"status", "error"} or result["error"] != {"code": code, "message": SQL_ERRORS.get(code)}:
            problems.append(f"other than the fixed sentence of {code}")
    elif set(result) != RESULT_KEYS or result["status"] != "succeeded":
        problems.append(f"keys {sorted(result)}")
    elif (result["columns"], result["rows_returned"], result["truncated"]) != (
        person["columns"],
        bool(person["rows"]),
        person["truncated"],
    ):
        problems.append("columns, rows_returned or truncated other than the run's")
    # Declared types may hold digits (int4), and a column name may spell the statement's numbers
    # (DuckDB's "repeat('x', 10)"); any other number would be computed from the data.
    named = json.dumps({**result, "columns": [c.get("name") for c in result.get("columns", [])]}, ensure_ascii=False)
    numbers = set(re.findall(r"\d+", named)) - set(re.findall(r"\d+", sql))
    if numbers:
        problems.append(f"numbers {sorted(numbers)}")
    return problems + [f"the value {v!r}" for v in values if v.lower() in named.lower()]


def _as_post(run: Any) -> Any:
    """A sql_runs entry of the answer in POST /sql's shape."""
    return {"error": run["error"]} if run["error"] is not None else {k: run[k] for k in RESULT}


def through_the_assistant(doors: Doors, fake: FakeLLMServer, who: str, provider: str) -> None:
    """One scripted turn calls run_sql with every attack: the person gets POST /sql's outcome, the model nothing."""
    world = doors.world
    attacks = [a for a in (PG_ATTACKS if world.engine == "postgres" else DUCK_ATTACKS) if a.who == who]
    expected = [doors.baseline(a) for a in attacks]
    arguments = [{"integration_id": world.integrations[who], "sql": world.render(a.sql)} for a in attacks]
    fake.reset()
    use(world.client, world.space.admin, fake, provider)
    fake.script(tool_calls(*(("run_sql", args) for args in arguments)), text("ok"))
    before = len(world.calls)
    response = ask(world.client, world.person(who), QUESTION)
    assert response.status_code == 200, response.text
    reached = tuple(s for e in expected for s in e.reached)
    assert tuple(world.calls[before:]) == reached, "the assistant handed the engine other statements than POST /sql"
    runs = response.json()["sql_runs"]
    results = [json.loads(r) for r in fake.tool_results()]
    assert [r["sql"] for r in runs] == [a["sql"] for a in arguments] and len(results) == len(attacks)
    problems = []
    for attack, baseline, entry, result in zip(attacks, expected, runs, results, strict=True):
        person = _as_post(entry)
        heard = _heard_problems(result, person, entry["sql"], VISIBLE_VALUES[world.engine])
        found = [f"the model heard {p}: {result}" for p in heard]
        found += [f"the person got {d}" for d in [_differs(person, baseline, attack)] if d]
        problems += [f"{attack.who} L{attack.line} {attack.sql!r}: {p}" for p in found]
    # No canary in what the provider received, outside the model's own calls (which echo the attacks).
    canaries = world.canaries[who]
    assert len(fake.completion_requests) == 2
    for request in fake.completion_requests:
        calls, rest = _split_tool_calls(request.json)
        assert calls in ([], arguments), "the model's calls came back changed"
        problems += [f"the provider received {c!r}" for c in leaks("\n".join(_strings(rest)), canaries, "")]
    # The sweep can see a canary: those the attacks spell are found in the echoed calls.
    spelled = {c for c in canaries if any(c.lower() in a["sql"].lower() for a in arguments)}
    assert spelled <= set(leaks(fake.all_request_strings(), canaries, ""))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("who", ["member", "admin"])
def test_the_assistant_meets_postgres_attacks_as_post_sql_does(
    pg: Doors, fake: FakeLLMServer, who: str, provider: str
) -> None:
    through_the_assistant(pg, fake, who, provider)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_the_assistant_meets_duckdb_attacks_as_post_sql_does(duck: Doors, fake: FakeLLMServer, provider: str) -> None:
    through_the_assistant(duck, fake, "member", provider)
