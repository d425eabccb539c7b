"""Anthropic's Messages API with tools, via the official SDK."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2

from datadesk.ai.providers.base import ChatRequest, ChatResponse, Message, ToolCall
from datadesk.ai.providers.sdk import SdkProvider
from datadesk.errors import ProviderBadResponse

DEFAULT_MODEL = "claude-sonnet-4-5"


class AnthropicProvider(SdkProvider):
    name = "anthropic"
    sdk = anthropic

    def client(self, http: httpx2.Client) -> anthropic.Anthropic:
        return anthropic.Anthropic(
            api_key=self.api_key, base_url=self.base_url, timeout=self.timeout, max_retries=0, http_client=http
        )

    def send(self, client: anthropic.Anthropic, request: ChatRequest, timeout: httpx2.Timeout) -> ChatResponse:
        kwargs: dict[str, Any] = {
            "model": request.model or DEFAULT_MODEL,
            "system": request.system,
            "messages": _messages(request.messages),
            "max_tokens": request.max_tokens,
            "timeout": timeout,
        }
        if request.tools:
            kwargs["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters} for t in request.tools
            ]
        return _response(client.messages.create(**kwargs))


def _messages(messages: list[Message]) -> list[dict[str, Any]]:
    """Neutral turns as Anthropic wants them: tool results grouped into one user turn."""
    result: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "tool":
            block = {"type": "tool_result", "tool_use_id": message.tool_call_id, "content": message.content}
            if result and result[-1]["role"] == "user" and isinstance(result[-1]["content"], list):
                result[-1]["content"].append(block)
            else:
                result.append({"role": "user", "content": [block]})
        elif message.role == "assistant" and message.tool_calls:
            content: list[dict[str, Any]] = []
            if message.content:
                content.append({"type": "text", "text": message.content})
            content += [
                {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments or {}} for c in message.tool_calls
            ]
            result.append({"role": "assistant", "content": content})
        else:
            result.append({"role": message.role, "content": message.content or "(empty)"})
    return result


def _response(message: Any) -> ChatResponse:
    blocks = getattr(message, "content", None)
    if not isinstance(blocks, list):
        raise ProviderBadResponse("The provider's answer had no content.")
    texts, calls = [], []
    for block in blocks:
        kind = getattr(block, "type", None)
        if kind == "text":
            texts.append(block.text)
        elif kind == "tool_use":
            arguments = block.input if isinstance(block.input, dict) else None
            calls.append(ToolCall(block.id, block.name, arguments))
    usage = getattr(message, "usage", None)
    tokens = int((getattr(usage, "input_tokens", 0) or 0) + (getattr(usage, "output_tokens", 0) or 0)) if usage else 0
    return ChatResponse(text="".join(texts), tool_calls=calls, tokens=tokens)
