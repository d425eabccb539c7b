"""Prompt history belongs to its author: listed, deleted for real, exported, expired; audit is admin-only."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from datadesk.ai import history
from datadesk.ai.models import Prompt
from datadesk.cli import app as cli
from datadesk.db import transaction, utcnow
from tests.ai.conftest import Shop, ask, configure
from tests.conftest import TEST_SECRET
from tests.world import World


def prompt_count(sessions, workspace_id: str) -> int:  # type: ignore[no-untyped-def]
    with transaction(sessions, workspace_id) as session:
        return int(session.scalar(select(func.count()).select_from(Prompt)))


def test_each_person_sees_only_their_own(client: TestClient, world: World, shop: Shop) -> None:
    mine = ask(client, world.a.editor, "Who owns orders?").json()
    ask(client, world.a.admin, "Describe customers")
    ask(client, world.b.admin, "Who owns orders?")
    listed = client.get("/api/v1/ai/prompts", headers=world.a.editor.headers).json()["prompts"]
    assert [p["prompt_id"] for p in listed] == [mine["prompt_id"]]
    assert listed[0]["question"] == "Who owns orders?" and listed[0]["disclosure"]["region"] == "this server"
    admin = client.get("/api/v1/ai/prompts", headers=world.a.admin.headers).json()["prompts"]
    assert [p["question"] for p in admin] == ["Describe customers"]
    for other in (world.a.admin, world.b.admin, world.a.viewer):
        assert client.get(f"/api/v1/ai/prompts/{mine['prompt_id']}", headers=other.headers).status_code == 404
        assert client.delete(f"/api/v1/ai/prompts/{mine['prompt_id']}", headers=other.headers).status_code == 404
    got = client.get(f"/api/v1/ai/prompts/{mine['prompt_id']}", headers=world.a.editor.headers).json()
    assert got["answer"] == mine["answer"]


def test_newest_first_and_deletion_is_real(client: TestClient, world: World, shop: Shop, sessions) -> None:  # type: ignore[no-untyped-def]
    ids = [ask(client, world.a.editor, q).json()["prompt_id"] for q in ("one orders", "two orders", "three orders")]
    ask(client, world.a.admin, "admin's own")
    listed = [
        p["prompt_id"] for p in client.get("/api/v1/ai/prompts", headers=world.a.editor.headers).json()["prompts"]
    ]
    assert listed == list(reversed(ids))
    assert client.delete(f"/api/v1/ai/prompts/{ids[0]}", headers=world.a.editor.headers).status_code == 204
    with transaction(sessions, world.a.id) as session:
        assert session.get(Prompt, ids[0]) is None
    assert prompt_count(sessions, world.a.id) == 3
    assert client.delete("/api/v1/ai/prompts", headers=world.a.editor.headers).status_code == 204
    assert prompt_count(sessions, world.a.id) == 1  # the admin's stays
    assert client.get("/api/v1/ai/prompts", headers=world.a.editor.headers).json()["prompts"] == []


def test_export_by_route_and_cli(client: TestClient, world: World, shop: Shop, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ask(client, world.a.editor, "Who owns orders?")
    exported = client.get("/api/v1/ai/prompts/export", headers=world.a.editor.headers)
    assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
    [item] = exported.json()["prompts"]
    assert item["question"] == "Who owns orders?" and item["citations"]
    env = {
        "DATADESK_HOME": str(settings.home),
        "DATADESK_DATABASE_URL": settings.database_url,
        "DATADESK_SECRET_KEY": TEST_SECRET,
    }
    out = tmp_path / "export.json"
    result = CliRunner().invoke(
        cli, ["prompts", "export", "-w", "alpha", "--email", world.a.editor.email, "-o", str(out)], env=env
    )
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["prompts"][0]["question"] == "Who owns orders?"


def test_retention_purges_old_prompts(client: TestClient, world: World, shop: Shop, sessions, settings) -> None:  # type: ignore[no-untyped-def]
    configure(client, world.a.admin, prompt_retention_days=7)
    old = ask(client, world.a.editor, "old question orders").json()["prompt_id"]
    new = ask(client, world.a.editor, "new question orders").json()["prompt_id"]
    b_old = ask(client, world.b.admin, "b's old").json()["prompt_id"]
    with transaction(sessions, world.a.id) as session:
        session.execute(update(Prompt).where(Prompt.id == old).values(created_at=utcnow() - timedelta(days=8)))
    with transaction(sessions, world.b.id) as session:  # B keeps the default 90 days
        session.execute(update(Prompt).where(Prompt.id == b_old).values(created_at=utcnow() - timedelta(days=30)))
    assert history.purge_expired(sessions) == 1
    with transaction(sessions, world.a.id) as session:
        assert session.get(Prompt, old) is None and session.get(Prompt, new) is not None
    with transaction(sessions, world.b.id) as session:
        assert session.get(Prompt, b_old) is not None
    env = {
        "DATADESK_HOME": str(settings.home),
        "DATADESK_DATABASE_URL": settings.database_url,
        "DATADESK_SECRET_KEY": TEST_SECRET,
    }
    result = CliRunner().invoke(cli, ["prompts", "purge"], env=env)
    assert result.exit_code == 0 and "Purged 0" in result.stdout


def test_llm_audit_is_admin_only_and_holds_no_prompt_text(client: TestClient, world: World, shop: Shop) -> None:
    ask(client, world.a.editor, "Who owns orders?")
    for who in ("editor", "viewer"):
        assert client.get("/api/v1/audit/llm", headers=world.a.people[who].headers).status_code == 403
    response = client.get("/api/v1/audit/llm", headers=world.a.admin.headers)
    entries = response.json()["entries"]
    assert entries and "Who owns orders" not in response.text
    entry = entries[0]
    assert entry["user_id"] == world.a.editor.id and entry["provider"] == "local" and entry["region"] == "this server"
    assert len(entry["payload_sha256"]) == 64 and entry["request_bytes"] > 0 and entry["resource_ids"]
    assert client.get("/api/v1/audit/llm", headers=world.b.admin.headers).json()["entries"] == []
    filtered = client.get("/api/v1/audit/llm", params={"user_id": world.a.admin.id}, headers=world.a.admin.headers)
    assert filtered.json()["entries"] == []


def test_streaming_ends_with_citations_and_the_receipt(client: TestClient, world: World, shop: Shop) -> None:
    with client.stream(
        "POST",
        "/api/v1/ai/ask",
        json={"question": "Who owns orders?"},
        headers={**world.a.editor.headers, "Accept": "text/event-stream"},
    ) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        raw = "".join(response.iter_text())
    events = [
        (block.split("\n")[0].removeprefix("event: "), json.loads(block.split("\n")[1].removeprefix("data: ")))
        for block in raw.strip().split("\n\n")
    ]
    names = [name for name, _ in events]
    assert names[0] == "status" and names[-4:] == ["citations", "sql_runs", "disclosure", "done"]
    answer = "".join(data["text"] for name, data in events if name == "delta")
    assert "Finance" in answer
    assert events[-2][1]["region"] == "this server"
    assert client.get("/api/v1/ai/prompts", headers=world.a.editor.headers).json()["prompts"][0]["answer"] == answer
