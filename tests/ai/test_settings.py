"""AI settings: defaults, admin-only changes, the key write-only and never logged, every change audited."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from datadesk.db import transaction
from datadesk.identity import audit
from tests.ai.conftest import configure
from tests.world import World


def test_a_new_workspace_starts_local_with_run_sql_off(client: TestClient, world: World) -> None:
    body = client.get("/api/v1/settings/ai", headers=world.a.viewer.headers).json()
    assert body["provider"] == "local" and body["enabled"] is True and body["run_sql_enabled"] is False
    assert body["api_key_set"] is False and "api_key" not in body
    assert body["region"] == "this server" and body["sensitive_tags"] == ["pii", "sensitive", "restricted"]


@pytest.mark.parametrize("who", ["editor", "viewer"])
def test_only_admins_change_settings(client: TestClient, world: World, who: str) -> None:
    response = client.put("/api/v1/settings/ai", json={"run_sql_enabled": True}, headers=world.a.people[who].headers)
    assert response.status_code == 403
    assert client.get("/api/v1/settings/ai", headers=world.a.admin.headers).json()["run_sql_enabled"] is False


def test_the_key_is_write_only_encrypted_and_audited_masked(client: TestClient, world: World, sessions) -> None:  # type: ignore[no-untyped-def]
    key = "sk-live-very-secret-key-0123456789"
    body = configure(
        client,
        world.a.admin,
        provider="openai",
        api_key=key,
        model="gpt-4o-mini",
        custom_instructions="Answer in English.",
    )
    assert body["api_key_set"] is True and key not in str(body)
    assert body["region"] == "US" and body["host"] == "api.openai.com"
    for path in ("/api/v1/settings/ai", "/api/v1/openapi.json"):
        assert key not in client.get(path, headers=world.a.admin.headers).text
    with transaction(sessions, world.a.id) as session:
        from datadesk.ai.models import AiSettings

        row = session.get(AiSettings, world.a.id)
        assert key not in row.api_key_encrypted
        events = [e for e in audit.recent(session) if e.action == "settings.ai"]
        assert len(events) == 1
        event = events[0]
        assert key not in str(event.before) + str(event.after)
        assert event.before["provider"] == "local" and event.after["provider"] == "openai"
        assert event.before["api_key"] == "not set" and event.after["api_key"] == "replaced"
        assert event.actor_user_id == world.a.admin.id
    # another workspace is untouched
    assert client.get("/api/v1/settings/ai", headers=world.b.admin.headers).json()["provider"] == "local"


def test_self_hosted_base_url_is_stated_as_such(client: TestClient, world: World) -> None:
    body = configure(client, world.a.admin, provider="openai", base_url="http://llm.internal:8000/v1")
    assert body["region"] == "self-hosted" and body["host"] == "llm.internal"


@pytest.mark.parametrize(
    "changes,status",
    [
        ({"provider": "cohere"}, 422),
        ({"provider": "anthropic"}, 400),  # no key and no base URL
        ({"base_url": "ftp://x"}, 400),
        ({"custom_instructions": "x" * 8001}, 422),
        ({"prompt_retention_days": 0}, 422),
        ({"sql_row_cap": 0}, 422),
        ({"unknown": 1}, 422),
    ],
)
def test_bad_settings_are_refused(client: TestClient, world: World, changes: dict[str, object], status: int) -> None:
    response = client.put("/api/v1/settings/ai", json=changes, headers=world.a.admin.headers)
    assert response.status_code == status, response.text
    assert client.get("/api/v1/settings/ai", headers=world.a.admin.headers).json()["provider"] == "local"


def test_instructions_up_to_8000_characters(client: TestClient, world: World) -> None:
    body = configure(client, world.a.admin, custom_instructions="y" * 8000)
    assert len(body["custom_instructions"]) == 8000
