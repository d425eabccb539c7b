"""OpenAI Chat Completions (and any compatible server: Azure, vLLM, Ollama, llama.cpp) via the official SDK."""

from __future__ import annotations

import json
from typing import Any

import openai

from datadesk.ai.providers import wire as wire_client
from datadesk.ai.providers.base import (
    ChatRequest,
    ChatResponse,
    Message,
    ProviderAuthFailed,
    ProviderBadResponse,
    ProviderError,
    ProviderRateLimited,
    ProviderTimedOut,
    ProviderUnreachable,
    ToolCall,
    WireLog,
)

DEFAULT_MODEL = "gpt-4o-mini"


class OpenAIProvider:
    name = "openai"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = "",
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> None:
        self.api_key = api_key or "not-needed"  # self-hosted servers often take no key
        self.base_url = base_url or None
        self.timeout = timeout or wire_client.TIMEOUT_SECONDS
        self.max_retries = wire_client.MAX_RETRIES if max_retries is None else max_retries

    def complete(self, request: ChatRequest, wire: WireLog) -> ChatResponse:
        with wire_client.http_client(wire, self.timeout) as http:
            client = openai.OpenAI(
                api_key=self.api_key,
                base_url=self.base_url,
                timeout=self.timeout,
                max_retries=self.max_retries,
                http_client=http,
            )
            kwargs: dict[str, Any] = {
                "model": request.model or DEFAULT_MODEL,
                "messages": [{"role": "system", "content": request.system}, *map(_message, request.messages)],
                "max_tokens": request.max_tokens,
            }
            if request.tools:
                kwargs["tools"] = [
                    {
                        "type": "function",
                        "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
                    }
                    for t in request.tools
                ]
            try:
                completion = client.chat.completions.create(**kwargs)
            except openai.AuthenticationError as exc:
                raise ProviderAuthFailed("The provider refused the API key.") from exc
            except openai.PermissionDeniedError as exc:
                raise ProviderAuthFailed("The provider refused access for this key or model.") from exc
            except openai.RateLimitError as exc:
                raise ProviderRateLimited("The provider is rate limiting requests; try again shortly.") from exc
            except openai.APITimeoutError as exc:
                raise ProviderTimedOut("The provider did not answer in time.") from exc
            except openai.APIConnectionError as exc:
                raise ProviderUnreachable("The provider could not be reached.") from exc
            except openai.APIStatusError as exc:
                raise ProviderError(f"The provider answered with an error (HTTP {exc.status_code}).") from exc
            except (ValueError, TypeError, AttributeError) as exc:
                raise ProviderBadResponse("The provider's answer could not be read.") from exc
        return _response(completion)


def _message(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    item: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        item["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": c.raw_arguments or json.dumps(c.arguments or {})},
            }
            for c in message.tool_calls
        ]
    return item


def _response(completion: Any) -> ChatResponse:
    choices = getattr(completion, "choices", None)
    if not isinstance(choices, list) or not choices:
        raise ProviderBadResponse("The provider's answer had no choices.")
    message = choices[0].message
    calls = []
    for call in message.tool_calls or []:
        function = getattr(call, "function", None)
        if function is None:
            raise ProviderBadResponse("The provider sent a tool call of an unknown kind.")
        calls.append(ToolCall(call.id, function.name, _arguments(function.arguments), function.arguments or ""))
    usage = getattr(completion, "usage", None)
    tokens = int(getattr(usage, "total_tokens", 0) or 0) if usage else 0
    return ChatResponse(text=message.content or "", tool_calls=calls, tokens=tokens)


def _arguments(raw: str | None) -> dict[str, Any] | None:
    try:
        value = json.loads(raw or "{}")
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
