"""Schemathesis against /api/v1/openapi.json: no request, valid or not, makes the API answer 5xx.

Every operation gets a bounded number of generated examples (schema-valid and schema-breaking), once with
generated path ids and once with the ids of real things in the workspace, as the workspace's admin. Reads run
first, then writes, then the assistant, then the AI settings (so a fuzzed provider address is never called),
then deletions, so that destructive examples cannot starve the others of a usable world.
"""

from __future__ import annotations

import ipaddress
import socket
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.python import asgi
from sqlalchemy import text

from datadesk.settings import Settings
from tests.catalog.helpers import add_integration, by_name, sync
from tests.world import World

EXAMPLES_PER_PASS = 10  # per operation, per generation mode, per kind of path ids
PASSES = [
    (GenerationMode.POSITIVE, False),
    (GenerationMode.NEGATIVE, False),
    (GenerationMode.POSITIVE, True),
    (GenerationMode.NEGATIVE, True),
]
WAREHOUSE = """
CREATE TABLE orders (id INTEGER PRIMARY KEY, email TEXT, amount INTEGER);
INSERT INTO orders VALUES (1, 'a@example.com', 10), (2, 'b@example.com', 20);
"""


@dataclass
class Tally:
    examples: int = 0
    server_errors: list[str] = field(default_factory=list)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Server sources only on this machine, whatever URL the fuzzer makes up."""
    return settings.model_copy(update={"sources_hosts": "localhost,127.0.0.1,::1"})


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse any name lookup or connection off this machine while the fuzzer runs (it invents URLs)."""
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect

    def local(host: Any) -> bool:
        if host is None or host in ("localhost", b"localhost"):
            return True
        try:
            return ipaddress.ip_address(host.decode() if isinstance(host, bytes) else host).is_loopback
        except ValueError:
            return False

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not local(host):
            raise socket.gaierror(socket.EAI_NONAME, "refused by the fuzz test: not on this machine")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not local(address[0]):
            raise ConnectionRefusedError("refused by the fuzz test: not on this machine")
        real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture
def real_ids(client: TestClient, world: World, tmp_path: Path) -> dict[str, str]:
    """Path ids of real things in workspace A: a synced SQLite source, a prompt, a spare token."""
    admin = world.a.admin
    path = tmp_path / "fuzz.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(WAREHOUSE)
    integration = add_integration(client, admin, "fuzz", "sqlite", {"url": f"sqlite:///{path}"})
    run = sync(client, admin, integration["id"])
    assert run["status"] == "succeeded", run
    table = by_name(client, admin)["fuzz.main.orders"]
    for url, body in (
        ("/api/v1/settings/sql", {"run_sql_enabled": True}),
        ("/api/v1/settings/ai", {"enabled": True, "provider": "local"}),
        (f"/api/v1/integrations/{integration['id']}/permissions", {"query_access": ["role:admin"]}),
    ):
        assert client.put(url, json=body, headers=admin.headers).status_code == 200
    asked = client.post("/api/v1/ai/ask", json={"question": "What is in orders?"}, headers=admin.headers)
    assert asked.status_code == 200, asked.text
    spare = client.post("/api/v1/auth/tokens", json={"name": "spare"}, headers=admin.headers)
    assert spare.status_code == 201, spare.text
    return {
        "integration_id": integration["id"],
        "run_id": run["id"],
        "resource_id": table["id"],
        "prompt_id": asked.json()["prompt_id"],
        "token_id": spare.json()["id"],
        "team_id": world.a.teams["Marketing"],
        "user_id": world.a.viewer.id,
    }


def _rank(method: str, path: str) -> int:
    """Reads, writes, the assistant, AI settings (after the assistant: never call a fuzzed provider), deletions."""
    if method == "GET":
        return 0
    if path.endswith("/ai/ask"):
        return 2
    if path.endswith("/settings/ai"):
        return 3
    if method == "DELETE":
        return 4
    return 1


def _fuzz(
    operation: Any, mode: GenerationMode, path_ids: dict[str, str] | None, headers: dict[str, str], tally: Tally
) -> None:
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_ids, headers=headers)

    @hypothesis_settings(
        max_examples=EXAMPLES_PER_PASS,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        tally.examples += 1
        try:
            response = case.call(headers=headers)
        except Exception as exc:  # a 500 re-raised by Starlette's ServerErrorMiddleware after it answered
            tally.server_errors.append(
                f"{operation.method.upper()} {case.formatted_path} -> 500 ({type(exc).__name__}: {str(exc)[:200]})\n"
                f"  query={case.query!r} body={case.body!r}"
            )
            return
        try:
            case.validate_response(response, checks=[not_a_server_error], headers=headers)
        except FailureGroup:
            tally.server_errors.append(
                f"{operation.method.upper()} {case.formatted_path} -> {response.status_code}\n"
                f"  query={case.query!r} body={case.body!r}\n  {response.text[:300]}"
            )

    try:
        run()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE  # nothing of this operation can be broken (no body, no parameter)


@pytest.fixture
def fuzz_schema(app: FastAPI) -> Iterator[Any]:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    try:
        yield schema
    finally:
        asgi.shutdown_lifespans()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_no_generated_request_gets_a_5xx(
    fuzz_schema: Any, world: World, real_ids: dict[str, str], loopback_only: None
) -> None:
    operations = sorted(
        (result.ok() for result in fuzz_schema.get_all_operations()),
        key=lambda op: (_rank(op.method.upper(), op.path), op.path, op.method),
    )
    assert len(operations) >= 40
    tally = Tally()
    for operation in operations:
        names = {p.name for p in operation.path_parameters}
        for mode, with_real_ids in PASSES:
            if with_real_ids and not names:
                continue
            path_ids = {name: real_ids[name] for name in names if name in real_ids} if with_real_ids else None
            _fuzz(operation, mode, path_ids, world.a.admin.headers, tally)
    print(
        f"schemathesis: {tally.examples} examples on {len(operations)} operations, "
        f"{len(tally.server_errors)} answered 5xx"
    )
    assert not tally.server_errors, "\n".join(tally.server_errors)


# --- the 500s the fuzzer found, pinned on both stores ------------------------------------------


def _query_runs(app: FastAPI) -> list[tuple[str, str]]:
    with app.state.engine.connect() as conn:
        return [(row[0], row[1]) for row in conn.execute(text("SELECT workspace_id, integration_id FROM query_run"))]


@pytest.mark.parametrize("run_sql_enabled", [True, False])
def test_sql_on_an_unknown_or_foreign_integration_answers_alike_and_logs_nothing(
    app: FastAPI, client: TestClient, world: World, tmp_path: Path, run_sql_enabled: bool
) -> None:
    path = tmp_path / "beta.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(WAREHOUSE)
    foreign = add_integration(client, world.b.admin, "beta", "sqlite", {"url": f"sqlite:///{path}"})["id"]
    for space in (world.a, world.b):
        response = client.put(
            "/api/v1/settings/sql", json={"run_sql_enabled": run_sql_enabled}, headers=space.admin.headers
        )
        assert response.status_code == 200, response.text
    answers = [
        client.post("/api/v1/sql", json={"integration_id": target, "sql": "SELECT 1"}, headers=world.a.admin.headers)
        for target in (foreign, "0" * 32, "no such integration")
    ]
    assert {(r.status_code, r.text) for r in answers} == {
        (404, '{"error":{"code":"not_found","message":"No such integration."}}')
        if run_sql_enabled
        else (403, answers[0].text)
    }
    assert answers[0].json()["error"]["code"] == ("not_found" if run_sql_enabled else "run_sql_disabled")
    assert _query_runs(app) == []
    # A run on one's own integration is still logged, refused or not.
    own = client.post("/api/v1/sql", json={"integration_id": foreign, "sql": "SELECT 1"}, headers=world.b.admin.headers)
    assert own.status_code in (200, 403), own.text
    assert _query_runs(app) == [(world.b.id, foreign)]


@pytest.mark.parametrize(
    ("type", "url"),
    [
        ("postgres", "postgresql://u@127.0.0.1/db?password=x"),
        ("postgres", "postgresql://u@127.0.0.1/db?sslmode=disable&Password=x"),
        ("mysql", "mysql+pymysql://u@127.0.0.1/db?password=x"),
    ],
)
def test_a_password_in_the_query_string_is_refused_with_a_sentence(
    client: TestClient, world: World, tmp_path: Path, type: str, url: str
) -> None:
    admin = world.a.admin
    body = {"name": "leaky", "type": type, "config": {"url": url}, "team_ids": []}
    response = client.post("/api/v1/integrations", json=body, headers=admin.headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == {
        "code": "invalid_config",
        "message": "Put the password in the URL's user part (user:password@host), not in its query string.",
    }
    assert client.get("/api/v1/integrations", headers=admin.headers).json()["integrations"] == []


@pytest.mark.parametrize("url", ["postgresql://u@127.0.0.1:port/db", "postgresql://u@[::1/db"])
def test_a_url_that_does_not_parse_is_refused(client: TestClient, world: World, url: str) -> None:
    body = {"name": "broken", "type": "postgres", "config": {"url": url}, "team_ids": []}
    response = client.post("/api/v1/integrations", json=body, headers=world.a.admin.headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_config"


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("GET", "/api/v1/resources/a%00b", None),
        ("GET", "/api/v1/resources?tag=%00", None),
        ("POST", "/api/v1/teams", {"name": "a\u0000b"}),
        ("POST", "/api/v1/members", {"email": "n\u0000@example.com", "role": "viewer"}),
        ("POST", "/api/v1/sql", {"integration_id": "a\u0000", "sql": "SELECT 1"}),
        ("POST", "/api/v1/auth/login", {"email": "a\u0000@example.com", "password": "12345678", "workspace": "alpha"}),
        ("DELETE", "/api/v1/auth/tokens/%00", None),
    ],
)
def test_a_nul_character_never_makes_a_500(
    client: TestClient, settings: Settings, world: World, method: str, url: str, body: dict[str, str] | None
) -> None:
    response = client.request(method, url, json=body, headers=world.a.admin.headers)
    assert response.status_code < 500, response.text
    if settings.database_url.startswith("postgresql"):  # its text cannot hold U+0000; SQLite stores it
        assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_text")
