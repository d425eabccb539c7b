"""The fake LLM provider server, exercised through the real openai and anthropic SDKs."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from tests.fakes import llm_server
from tests.fakes.llm_server import (
    FakeLLMServer,
    delay,
    error,
    last_user_text,
    malformed,
    text,
    tool_call,
    tool_calls,
    tool_names,
    tool_results,
)

OPENAI_KEY = "sk-test-openai-0123456789"
ANTHROPIC_KEY = "sk-ant-test-0123456789"

fake_llm = llm_server.fake_llm  # the fixture (a conftest can import it the same way)

SEARCH_TOOL_OPENAI = {
    "type": "function",
    "function": {
        "name": "search_catalog",
        "description": "Search the catalog",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string"}, "type": {"type": "string"}},
            "required": ["query"],
        },
    },
}
SEARCH_TOOL_ANTHROPIC = {
    "name": "search_catalog",
    "description": "Search the catalog",
    "input_schema": SEARCH_TOOL_OPENAI["function"]["parameters"],  # type: ignore[index]
}
GET_TOOL_ANTHROPIC = {
    "name": "get_resource",
    "description": "Get one resource",
    "input_schema": {"type": "object", "properties": {"resource_id": {"type": "string"}}, "required": ["resource_id"]},
}


_clients: list[Any] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _clients:
        _clients.pop().close()


def oai(fake: FakeLLMServer, **kwargs: Any) -> openai.OpenAI:
    kwargs.setdefault("api_key", OPENAI_KEY)
    kwargs.setdefault("max_retries", 0)
    client = openai.OpenAI(base_url=fake.openai_base_url, **kwargs)
    _clients.append(client)
    return client


def ant(fake: FakeLLMServer, **kwargs: Any) -> anthropic.Anthropic:
    kwargs.setdefault("api_key", ANTHROPIC_KEY)
    kwargs.setdefault("max_retries", 0)
    client = anthropic.Anthropic(base_url=fake.anthropic_base_url, **kwargs)
    _clients.append(client)
    return client


def ask_openai(client: openai.OpenAI, content: str = "hello", **kwargs: Any) -> Any:
    return client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": content}], **kwargs)


def ask_anthropic(client: anthropic.Anthropic, content: str = "hello", **kwargs: Any) -> Any:
    return client.messages.create(
        model="claude-test", max_tokens=256, messages=[{"role": "user", "content": content}], **kwargs
    )


# -- plain answers -------------------------------------------------------------------------------


def test_openai_text_answer(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(text("There are 3 tables."))
    completion = ask_openai(oai(fake_llm), "How many tables?")

    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == "gpt-test"
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content == "There are 3 tables."
    assert choice.message.tool_calls is None
    assert completion.usage is not None
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens

    (req,) = fake_llm.requests
    assert (req.method, req.path, req.api, req.endpoint, req.status) == (
        "POST",
        "/v1/chat/completions",
        "openai",
        "chat",
        200,
    )
    assert req.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert req.api_key == OPENAI_KEY
    assert req.json == {"model": "gpt-test", "messages": [{"role": "user", "content": "How many tables?"}]}
    assert req.step == text("There are 3 tables.")
    assert fake_llm.errors == []


def test_anthropic_text_answer(fake_llm: FakeLLMServer) -> None:
    fake_llm.script("Plain strings are text steps.")
    message = ask_anthropic(ant(fake_llm), "Hi", system="You are datadesk.")

    assert message.type == "message"
    assert message.role == "assistant"
    assert message.id.startswith("msg_")
    assert message.model == "claude-test"
    assert message.stop_reason == "end_turn"
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == "Plain strings are text steps."  # type: ignore[union-attr]
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0

    req = fake_llm.last_request
    assert (req.path, req.api, req.endpoint) == ("/v1/messages", "anthropic", "messages")
    assert req.headers["anthropic-version"]  # the SDK's pinned API version
    # The installed SDK sends api_key as a Bearer token; x-api-key is accepted too.
    assert req.api_key == ANTHROPIC_KEY
    assert req.json["system"] == "You are datadesk." and req.json["max_tokens"] == 256


def test_default_answer_when_script_is_exhausted() -> None:
    with FakeLLMServer(["first"], default_text="fallback") as fake:
        client = oai(fake)
        assert ask_openai(client).choices[0].message.content == "first"
        assert ask_openai(client).choices[0].message.content == "fallback"
        assert ask_anthropic(ant(fake)).content[0].text == "fallback"  # type: ignore[union-attr]
        assert fake.remaining == 0


def test_length_finish() -> None:
    with FakeLLMServer([text("cut sh", finish="length"), text("cut sh", finish="length")]) as fake:
        assert ask_openai(oai(fake)).choices[0].finish_reason == "length"
        assert ask_anthropic(ant(fake)).stop_reason == "max_tokens"


# -- tool calls ----------------------------------------------------------------------------------


def test_openai_tool_call_round_trip(fake_llm: FakeLLMServer) -> None:
    def answer_from_results(request_json: Any) -> Any:
        results = tool_results(request_json)
        return text(f"Found: {results[0].content} (id {results[0].tool_call_id})")

    fake_llm.script(tool_call("search_catalog", {"query": "orders"}, id="call_fixed1"), answer_from_results)
    client = oai(fake_llm)
    messages: list[Any] = [{"role": "user", "content": "Where are orders?"}]

    first = client.chat.completions.create(model="gpt-test", messages=messages, tools=[SEARCH_TOOL_OPENAI])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert call.type == "function" and call.id == "call_fixed1"
    assert call.function.name == "search_catalog"
    assert json.loads(call.function.arguments) == {"query": "orders"}

    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": '{"results": ["shop.orders"]}'})
    second = client.chat.completions.create(model="gpt-test", messages=messages, tools=[SEARCH_TOOL_OPENAI])
    assert second.choices[0].message.content == 'Found: {"results": ["shop.orders"]} (id call_fixed1)'

    first_req, second_req = fake_llm.requests
    assert tool_names(first_req.json) == ["search_catalog"]
    assert last_user_text(first_req.json) == "Where are orders?"
    assert second_req.json["messages"][1]["tool_calls"][0]["function"]["name"] == "search_catalog"
    assert second_req.json["messages"][2] == {
        "role": "tool",
        "tool_call_id": "call_fixed1",
        "content": '{"results": ["shop.orders"]}',
    }
    assert [r.tool_call_id for r in tool_results(second_req.json)] == ["call_fixed1"]


def test_anthropic_tool_calls_round_trip(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(
        tool_calls(
            ("search_catalog", {"query": "orders"}), ("get_resource", {"resource_id": "r1"}), content="Looking."
        ),
        lambda body: text(" | ".join(r.content for r in tool_results(body))),
    )
    client = ant(fake_llm)
    tools: Any = [SEARCH_TOOL_ANTHROPIC, GET_TOOL_ANTHROPIC]
    messages: list[Any] = [{"role": "user", "content": "Where are orders?"}]

    first = client.messages.create(model="claude-test", max_tokens=256, messages=messages, tools=tools)
    assert first.stop_reason == "tool_use"
    assert [b.type for b in first.content] == ["text", "tool_use", "tool_use"]
    uses = [b for b in first.content if b.type == "tool_use"]
    assert [(u.name, u.input) for u in uses] == [  # type: ignore[union-attr]
        ("search_catalog", {"query": "orders"}),
        ("get_resource", {"resource_id": "r1"}),
    ]
    assert all(u.id.startswith("toolu_") for u in uses)  # type: ignore[union-attr]

    messages.append({"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]})
    messages.append(
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": uses[0].id, "content": "shop.orders"},  # type: ignore[union-attr]
                {"type": "tool_result", "tool_use_id": uses[1].id, "content": [{"type": "text", "text": "a table"}]},  # type: ignore[union-attr]
            ],
        }
    )
    second = client.messages.create(model="claude-test", max_tokens=256, messages=messages, tools=tools)
    assert second.content[0].text == "shop.orders | a table"  # type: ignore[union-attr]

    recorded = fake_llm.requests[1].json
    assert tool_names(recorded) == ["search_catalog", "get_resource"]
    assert [r.tool_call_id for r in tool_results(recorded)] == [u.id for u in uses]  # type: ignore[union-attr]
    assert recorded["messages"][1]["content"][1]["type"] == "tool_use"


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "openai_exc", "anthropic_exc"),
    [
        (401, openai.AuthenticationError, anthropic.AuthenticationError),
        (429, openai.RateLimitError, anthropic.RateLimitError),
        (500, openai.InternalServerError, anthropic.InternalServerError),
        (503, openai.InternalServerError, anthropic.ServiceUnavailableError),
    ],
)
def test_errors_become_sdk_exceptions(
    fake_llm: FakeLLMServer, status: int, openai_exc: type[Exception], anthropic_exc: type[Exception]
) -> None:
    fake_llm.script(error(status), error(status))
    with pytest.raises(openai_exc) as o_info:
        ask_openai(oai(fake_llm))
    assert o_info.value.status_code == status  # type: ignore[attr-defined]
    assert set(o_info.value.body) == {"message", "type", "param", "code"}  # type: ignore[attr-defined]

    with pytest.raises(anthropic_exc) as a_info:
        ask_anthropic(ant(fake_llm))
    assert a_info.value.status_code == status  # type: ignore[attr-defined]
    assert a_info.value.body["type"] == "error"  # type: ignore[attr-defined]
    assert a_info.value.type == a_info.value.body["error"]["type"]  # type: ignore[attr-defined]
    assert len(fake_llm.requests) == 2  # max_retries=0: no retry


def test_error_with_custom_body() -> None:
    body = {"error": {"message": "context too long", "code": "context_length_exceeded"}}
    with FakeLLMServer([error(400, body)]) as fake, pytest.raises(openai.BadRequestError) as info:
        ask_openai(oai(fake))
    assert info.value.code == "context_length_exceeded"
    assert "context too long" in str(info.value)


def test_required_api_key() -> None:
    with FakeLLMServer(["ok", "ok"], api_key="right-key") as fake:
        with pytest.raises(openai.AuthenticationError) as o_info:
            ask_openai(oai(fake, api_key="wrong-key"))
        assert o_info.value.body["code"] == "invalid_api_key"  # type: ignore[index]
        assert o_info.value.body["type"] == "invalid_request_error"  # type: ignore[index]
        assert "right-key" not in str(o_info.value.body)

        with pytest.raises(anthropic.AuthenticationError) as a_info:
            ask_anthropic(ant(fake, api_key="wrong-key"))
        assert a_info.value.body["type"] == "error"  # type: ignore[index]
        assert a_info.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]

        assert fake.remaining == 2  # refused requests consume no step
        assert [r.status for r in fake.requests] == [401, 401]
        assert ask_openai(oai(fake, api_key="right-key")).choices[0].message.content == "ok"
        # x-api-key is accepted as well as the Bearer token the SDK sends
        client = ant(fake, api_key=None, auth_token=None, default_headers={"x-api-key": "right-key"})
        assert ask_anthropic(client).content[0].text == "ok"  # type: ignore[union-attr]
        assert fake.last_request.headers["x-api-key"] == "right-key"


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_sdk_retries_honour_retry_after(sdk: str) -> None:
    with FakeLLMServer() as fake:
        call = (
            (lambda: ask_openai(oai(fake, max_retries=2)))
            if sdk == "openai"
            else (lambda: ask_anthropic(ant(fake, max_retries=2)))
        )

        # default error headers (retry-after-ms: 1): immediate retries, then success
        fake.script(error(429), error(503), text("third time lucky"))
        call()
        # The SDKs' own backoff waits at least 0.375 s between tries; retry-after-ms: 1 makes it immediate.
        gaps = [b.at - a.at for a, b in zip(fake.requests, fake.requests[1:], strict=False)]
        assert all(gap < 0.3 for gap in gaps), gaps
        assert [r.status for r in fake.requests] == [429, 503, 200]
        assert [r.retry_count for r in fake.requests] == [0, 1, 2]

        # an explicit retry-after is waited for
        fake.reset()
        fake.script(error(429, headers={"retry-after": "0.6"}), text("ok"))
        call()
        first, second = fake.requests
        assert second.at - first.at >= 0.6

        # retries run out: the last error surfaces
        fake.reset()
        fake.script(error(500), error(500), error(500), text("never"))
        with pytest.raises(openai.InternalServerError if sdk == "openai" else anthropic.InternalServerError):
            call()
        assert len(fake.requests) == 3 and fake.remaining == 1

        # 401 is not retried
        fake.reset()
        fake.script(error(401), text("never"))
        with pytest.raises(openai.AuthenticationError if sdk == "openai" else anthropic.AuthenticationError):
            call()
        assert len(fake.requests) == 1


def test_delay_beyond_client_timeout_raises_sdk_timeout() -> None:
    with FakeLLMServer([delay(3.0), delay(3.0), delay(0.05, then=text("slow but fine"))]) as fake:
        started = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            ask_openai(oai(fake, timeout=0.3))
        with pytest.raises(anthropic.APITimeoutError):
            ask_anthropic(ant(fake, timeout=0.3))
        assert time.monotonic() - started < 2
        assert ask_openai(oai(fake, timeout=2)).choices[0].message.content == "slow but fine"
        assert len(fake.requests) == 3
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 1  # pending delays do not hold up shutdown


# -- malformed answers ---------------------------------------------------------------------------


def test_malformed_answers() -> None:
    with FakeLLMServer() as fake:
        o, a = oai(fake), ant(fake)

        fake.script(malformed(), malformed("json"))
        with pytest.raises(json.JSONDecodeError):
            ask_openai(o)
        with pytest.raises(json.JSONDecodeError):
            ask_anthropic(a)

        fake.script(malformed("arguments"), malformed("arguments", tool_name="run_sql"))
        call = (ask_openai(o).choices[0].message.tool_calls or [])[0]
        assert call.function.name == "search_catalog"  # type: ignore[union-attr]
        with pytest.raises(json.JSONDecodeError):
            json.loads(call.function.arguments)  # type: ignore[union-attr]
        block = ask_anthropic(a).content[0]
        assert block.type == "tool_use" and block.name == "run_sql"
        assert not isinstance(block.input, dict)  # what a broken gateway could send

        fake.script(malformed("shape"), malformed("html"))
        assert ask_openai(o).choices is None  # the SDK does not validate; our provider must
        assert isinstance(ask_anthropic(a), str)  # a non-JSON 200 comes back as text


def test_stream_is_refused_clearly(fake_llm: FakeLLMServer) -> None:
    fake_llm.script("never consumed")
    with pytest.raises(openai.BadRequestError, match="stream=true is not supported"):
        ask_openai(oai(fake_llm), stream=True)
    with pytest.raises(anthropic.BadRequestError, match="stream=true is not supported"):
        ask_anthropic(ant(fake_llm), stream=True)
    assert fake_llm.remaining == 1


# -- recording -----------------------------------------------------------------------------------


def test_requests_are_recorded_byte_for_byte(fake_llm: FakeLLMServer) -> None:
    sent: list[tuple[str, bytes]] = []

    def hook(request: Any) -> None:
        sent.append((request.url.path, request.content))

    canary = 'CANARY-7f3a "quoted"\nnewline ünïcode'
    o = oai(fake_llm, http_client=openai.DefaultHttpxClient(event_hooks={"request": [hook]}))
    a = ant(fake_llm, http_client=anthropic.DefaultHttpxClient(event_hooks={"request": [hook]}))
    ask_openai(o, canary)
    ask_anthropic(a, canary)

    assert [(r.path, r.body) for r in fake_llm.requests] == sent
    assert all(json.loads(body)["messages"][0]["content"] == canary for _, body in sent)
    # Raw text holds the canary as JSON-escaped; the strings view holds it verbatim.
    assert "CANARY-7f3a" in fake_llm.all_request_text()
    assert "ünïcode" in fake_llm.all_request_text()
    assert canary not in fake_llm.all_request_text()
    assert canary in fake_llm.all_request_strings()
    assert fake_llm.saw(canary) and fake_llm.saw(ANTHROPIC_KEY) and not fake_llm.saw("CANARY-other")
    assert ANTHROPIC_KEY not in fake_llm.all_request_text()  # headers only with include_headers=True
    assert ANTHROPIC_KEY in fake_llm.all_request_text(include_headers=True)

    fake_llm.clear()
    assert fake_llm.requests == [] and fake_llm.all_request_text() == ""


def test_models_lists() -> None:
    with FakeLLMServer(models=["m-one", "m-two"]) as fake:
        assert [m.id for m in oai(fake).models.list()] == ["m-one", "m-two"]
        assert [m.id for m in ant(fake).models.list()] == ["m-one", "m-two"]
        assert [(r.api, r.endpoint) for r in fake.requests] == [("openai", "models"), ("anthropic", "models")]


def test_azure_paths() -> None:
    with FakeLLMServer(["from azure"], api_key="azure-key") as fake:
        client = openai.AzureOpenAI(
            azure_endpoint=fake.azure_endpoint, api_key="azure-key", api_version="2024-10-21", max_retries=0
        )
        _clients.append(client)
        completion = ask_openai(client)
        assert completion.choices[0].message.content == "from azure"
        req = fake.last_request
        assert req.path == "/openai/deployments/gpt-test/chat/completions"
        assert req.query == "api-version=2024-10-21"
        assert req.headers["api-key"] == "azure-key"


def test_raw_http_refusals() -> None:
    with FakeLLMServer(["unused"]) as fake:

        def post(path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
            request = urllib.request.Request(fake.url + path, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    return response.status, json.loads(response.read())
            except urllib.error.HTTPError as exc:
                return exc.code, json.loads(exc.read())

        status, body = post("/v1/messages", b'{"model": "m"}', {"x-api-key": "k"})
        assert status == 400 and "anthropic-version" in body["error"]["message"]
        status, body = post("/v1/chat/completions", b"{not json", {"authorization": "Bearer k"})
        assert status == 400 and body["error"]["type"] == "invalid_request_error"
        status, body = post("/v1/nowhere", b"{}", {})
        assert status == 404 and "error" in body
        assert fake.remaining == 1
        assert fake.requests[1].body == b"{not json" and fake.requests[1].json is None


def test_lifecycle_is_fast_and_clean() -> None:
    started = time.monotonic()
    fake = FakeLLMServer(["a"]).start()
    assert time.monotonic() - started < 0.5
    client = oai(fake)
    ask_openai(client)  # leaves an idle keep-alive connection open
    stopping = time.monotonic()
    fake.stop()
    assert time.monotonic() - stopping < 0.5
    fake.stop()  # idempotent
    with pytest.raises(openai.APIConnectionError):
        ask_openai(client)


def test_convenience_clients() -> None:
    with FakeLLMServer(["one", tool_call("get_resource", {"resource_id": "r9"})], api_key="k-1") as fake:
        assert (
            fake.openai_client()
            .chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
            .choices[0]
            .message.content
            == "one"
        )
        block = ask_anthropic(fake.anthropic_client()).content[0]
        assert block.type == "tool_use" and block.input == {"resource_id": "r9"}
        assert [r.api_key for r in fake.requests] == ["k-1", "k-1"]
