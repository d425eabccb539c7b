"""OpenAI Chat Completions (and any compatible server: Azure, vLLM, Ollama, llama.cpp) via the official SDK."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import openai

from datadesk.ai.providers.base import ChatRequest, ChatResponse, Message, ToolCall
from datadesk.ai.providers.sdk import SdkProvider
from datadesk.errors import ProviderBadResponse

DEFAULT_MODEL = "gpt-4o-mini"


class OpenAIProvider(SdkProvider):
    name = "openai"
    sdk = openai

    def client(self, http: httpx2.Client) -> openai.OpenAI:
        return openai.OpenAI(
            api_key=self.api_key, base_url=self.base_url, timeout=self.timeout, max_retries=0, http_client=http
        )

    def send(self, client: openai.OpenAI, request: ChatRequest, timeout: httpx2.Timeout) -> ChatResponse:
        kwargs: dict[str, Any] = {
            "model": request.model or DEFAULT_MODEL,
            "messages": [{"role": "system", "content": request.system}, *map(_message, request.messages)],
            "max_tokens": request.max_tokens,
            "timeout": timeout,
        }
        if request.tools:
            kwargs["tools"] = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
                }
                for t in request.tools
            ]
        return _response(client.chat.completions.create(**kwargs))


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
