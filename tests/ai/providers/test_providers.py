"""OpenAI and Anthropic through their official SDKs against the fake server: tool loop, citations, failures."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from datadesk.ai.models import LlmCall, Prompt
from datadesk.ai.providers import sdk as wire
from datadesk.db import transaction
from tests.ai.conftest import Shop, ask, configure, use
from tests.fakes.llm_server import FakeLLMServer, delay, error, malformed, text, tool_call, tool_results
from tests.world import World

PROVIDERS = ["openai", "anthropic"]


def audit_count(sessions, workspace_id: str) -> int:  # type: ignore[no-untyped-def]
    with transaction(sessions, workspace_id) as session:
        return int(session.scalar(select(func.count()).select_from(LlmCall)))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_tool_loop_with_citations_and_receipt(
    client: TestClient,
    world: World,
    shop: Shop,
    fake_llm: FakeLLMServer,
    provider: str,
    sessions,  # type: ignore[no-untyped-def]
) -> None:
    use(client, world.a.admin, fake_llm, provider)
    orders = shop.id("orders")

    def answer(body: dict[str, object]) -> object:
        assert "Every order placed in the web shop." in tool_results(body)[0].content
        return text(f"Orders live in the orders table [[{orders}]]; see also [[invented-id-123]].")

    fake_llm.script(
        tool_call("search_catalog", {"query": "orders"}), tool_call("get_resource", {"resource_id": orders}), answer
    )
    response = ask(client, world.a.editor, "Where are orders kept?")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["answer"] == "Orders live in the orders table; see also."
    assert body["citations"] == [{"resource_id": orders, "name": "orders", "type": "table"}]
    assert body["provider"] == provider and body["model"] == "m"
    receipt = body["disclosure"]
    assert receipt["provider"] == provider and receipt["host"] == "127.0.0.1" and receipt["region"] == "self-hosted"
    assert orders in receipt["resource_ids"]
    sent = [r for r in fake_llm.completion_requests]
    assert len(sent) == 3 and receipt["bytes"] == sum(len(r.body) for r in sent)
    assert all(r.api == provider for r in sent)
    assert audit_count(sessions, world.a.id) == 3


def test_switching_providers_routes_the_next_question(
    client: TestClient, world: World, shop: Shop, fake_llm: FakeLLMServer
) -> None:
    for provider, path in (("openai", "/v1/chat/completions"), ("anthropic", "/v1/messages")):
        use(client, world.a.admin, fake_llm, provider)
        fake_llm.clear()
        fake_llm.script(text("ok"))
        assert ask(client, world.a.editor, "What is in orders?").status_code == 200
        [request] = fake_llm.completion_requests
        assert request.path == path
        assert request.api_key == "sk-test-key-123456789"
        if provider == "openai":
            assert request.json["messages"][0]["role"] == "system" and request.json["tools"][0]["type"] == "function"
        else:
            assert isinstance(request.json["system"], str) and "input_schema" in request.json["tools"][0]
    configure(client, world.a.admin, provider="local")
    fake_llm.clear()
    body = ask(client, world.a.editor, "What is orders?").json()
    assert fake_llm.requests == [] and body["disclosure"]["region"] == "this server"


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    "step,status,code",
    [
        (error(401), 502, "provider_auth_failed"),
        (error(500), 502, "provider_error"),
        (malformed("json"), 502, "provider_bad_response"),
        (malformed("shape"), 502, "provider_bad_response"),
        (delay(5.0), 504, "provider_timeout"),
    ],
)
def test_failures_are_clear_and_lose_nothing(
    client: TestClient,
    world: World,
    shop: Shop,
    fake_llm: FakeLLMServer,
    sessions,
    provider: str,  # type: ignore[no-untyped-def]
    step: object,
    status: int,
    code: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if code == "provider_timeout":  # four timed-out tries with backoff took 11 s at the 2-second timeout
        monkeypatch.setattr(wire, "TIMEOUT_SECONDS", 0.5)
        monkeypatch.setattr(wire, "INITIAL_BACKOFF_SECONDS", 0.05)
    use(client, world.a.admin, fake_llm, provider)
    fake_llm.script(step, step, step, step)
    response = ask(client, world.a.editor, "Where are orders kept?")
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    with transaction(sessions, world.a.id) as session:
        [prompt] = session.scalars(select(Prompt)).all()
        assert prompt.status == "failed" and prompt.error_code == code
        entries = session.scalars(select(LlmCall)).all()
    assert len(entries) == len(fake_llm.completion_requests) >= 1
    assert all(e.status == "failed" for e in entries[-1:])


@pytest.mark.parametrize("provider", PROVIDERS)
def test_rate_limits_are_retried_honouring_retry_after_then_reported(
    client: TestClient,
    world: World,
    shop: Shop,
    fake_llm: FakeLLMServer,
    sessions,
    provider: str,  # type: ignore[no-untyped-def]
) -> None:
    use(client, world.a.admin, fake_llm, provider)
    fake_llm.script(error(429), error(503), text("fine"))
    response = ask(client, world.a.editor, "Where are orders kept?")
    assert response.status_code == 200 and response.json()["answer"] == "fine"
    assert [r.status for r in fake_llm.completion_requests] == [429, 503, 200]
    with transaction(sessions, world.a.id) as session:
        entries = session.scalars(select(LlmCall).order_by(LlmCall.at)).all()
        assert [e.status for e in entries] == ["failed", "failed", "ok"]
        assert entries[0].error_code == "http_429"
    fake_llm.clear()
    fake_llm.script(*[error(429)] * 6)
    response = ask(client, world.a.editor, "Again?")
    assert response.status_code == 429 and response.json()["error"]["code"] == "provider_rate_limited"
    assert audit_count(sessions, world.a.id) == 3 + len(fake_llm.completion_requests)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_unknown_tools_and_bad_arguments_go_back_to_the_model(
    client: TestClient, world: World, shop: Shop, fake_llm: FakeLLMServer, provider: str
) -> None:
    use(client, world.a.admin, fake_llm, provider)
    fake_llm.script(
        tool_call("drop_everything", {}),
        malformed("arguments"),
        lambda body: text("recovered: " + " | ".join(r.content for r in tool_results(body))),
    )
    response = ask(client, world.a.editor, "Hello?")
    assert response.status_code == 200, response.text
    answer = response.json()["answer"]
    assert "no tool named" in answer
    assert "not a JSON object" in answer or "do not match" in answer


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_tool_loop_is_bounded(
    client: TestClient, world: World, shop: Shop, fake_llm: FakeLLMServer, provider: str
) -> None:
    use(client, world.a.admin, fake_llm, provider)
    fake_llm.script(*[tool_call("search_catalog", {"query": "orders"})] * 10)
    response = ask(client, world.a.editor, "Loop forever")
    assert response.status_code == 502 and response.json()["error"]["code"] == "tool_loop_exhausted"
    assert len(fake_llm.completion_requests) == 6


def test_custom_instructions_reach_the_system_prompt_apart_from_metadata(
    client: TestClient, world: World, shop: Shop, fake_llm: FakeLLMServer
) -> None:
    use(client, world.a.admin, fake_llm, "openai", custom_instructions="Always answer in haiku.")
    fake_llm.script(text("ok"))
    ask(client, world.a.editor, "What is in orders?")
    messages = fake_llm.completion_requests[0].json["messages"]
    assert "Always answer in haiku." in messages[0]["content"]
    fence = "<catalog_metadata trust="
    assert fence not in messages[0]["content"] and fence in messages[-1]["content"]


def test_the_daily_token_budget(
    client: TestClient, world: World, shop: Shop, fake_llm: FakeLLMServer, sessions
) -> None:  # type: ignore[no-untyped-def]
    use(client, world.a.admin, fake_llm, "openai", daily_token_budget=1)
    fake_llm.script(text("first"), text("second"))
    assert ask(client, world.a.editor, "One?").status_code == 200
    response = ask(client, world.a.editor, "Two?")
    assert response.status_code == 429 and response.json()["error"]["code"] == "token_budget_exhausted"
    assert len(fake_llm.completion_requests) == 1
    with transaction(sessions, world.a.id) as session:
        statuses = sorted(p.status for p in session.scalars(select(Prompt)))
    assert statuses == ["answered", "failed"]


def test_disabled_assistant_and_per_person_rate_limit(client: TestClient, world: World, shop: Shop) -> None:
    configure(client, world.a.admin, questions_per_minute=2)
    assert ask(client, world.a.editor, "what is orders").status_code == 200
    assert ask(client, world.a.editor, "what is orders").status_code == 200
    limited = ask(client, world.a.editor, "what is orders")
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
    assert ask(client, world.a.viewer, "what is orders").status_code == 200  # per person
    configure(client, world.a.admin, enabled=False)
    off = ask(client, world.a.viewer, "what is orders")
    assert off.status_code == 403 and off.json()["error"]["code"] == "ai_disabled"


def test_conversations_carry_history_of_their_owner_only(
    client: TestClient, world: World, shop: Shop, fake_llm: FakeLLMServer
) -> None:
    use(client, world.a.admin, fake_llm, "openai")
    fake_llm.script(text("first answer"), text("second answer"))
    first = ask(client, world.a.editor, "First question?").json()
    ask(client, world.a.editor, "Second question?", conversation_id=first["conversation_id"])
    messages = fake_llm.completion_requests[1].json["messages"]
    assert [m["content"] for m in messages[1:3]] == ["First question?", "first answer"]
    other = ask(client, world.a.viewer, "Hijack?", conversation_id=first["conversation_id"])
    assert other.status_code == 404
    assert json.dumps(messages).count("First question?") == 1
