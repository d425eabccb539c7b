"""Script steps for the fake LLM provider server, shared by both wire formats.

A script is a list of steps, consumed one per completion request (``POST .../chat/completions``
or ``POST /v1/messages``). Each step says what the "model" answers; the server renders it in
the wire format of the API that was called, so one script drives OpenAI and Anthropic alike.

    text("answer")                                  a plain answer
    tool_call("search_catalog", {"query": "x"})     one tool call
    tool_calls(("a", {...}), ("b", {...}))          several tool calls in one turn
    error(429)                                      an HTTP error in the API's own JSON shape
    delay(2.0, then=text("late"))                   sleep first (to trigger client timeouts)
    malformed("json" | "arguments" | "shape" | "html")
    lambda request_json: text(...)                  a dynamic answer (see the readers below)
    "answer"                                        a bare string is text("answer")

The readers at the bottom (``tool_results``, ``last_user_text``, ``tool_names``) read a request
body of either API, for dynamic steps and for assertions.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

# The SDKs treat ``retry-after: 0`` as "no hint" and fall back to their own backoff (0.5 s and
# up), so the default error headers also carry ``retry-after-ms: 1``, which both SDKs read
# first: retries then happen at once and tests stay fast.
DEFAULT_ERROR_HEADERS: Mapping[str, str] = {"retry-after": "0", "retry-after-ms": "1"}

MalformedKind = Literal["json", "arguments", "shape", "html"]


@dataclass(frozen=True)
class Text:
    content: str
    finish: Literal["stop", "length"] = "stop"
    """``length`` renders as ``finish_reason: "length"`` / ``stop_reason: "max_tokens"``."""


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    """A dict is sent as JSON; a string is sent verbatim (OpenAI ``arguments``) / as ``input`` (Anthropic)."""
    id: str | None = None
    """Generated (``call_…`` / ``toolu_…``) when not given."""


@dataclass(frozen=True)
class ToolCalls:
    calls: tuple[ToolCall, ...]
    content: str | None = None
    """Optional text the model says along with the calls."""


@dataclass(frozen=True)
class Error:
    status: int
    body: Any = None
    """None: the API's real error JSON for ``status``. dict/list: sent as JSON. str/bytes: sent verbatim."""
    headers: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_ERROR_HEADERS))
    message: str | None = None
    """Message used in the default body."""
    content_type: str = "application/json"


@dataclass(frozen=True)
class Delay:
    seconds: float
    then: Step | None = None
    """What to answer after the delay; None: the server's default text."""


@dataclass(frozen=True)
class Malformed:
    kind: MalformedKind = "json"
    """json: a 200 whose body is truncated JSON. arguments: a tool call whose arguments are not
    parsable JSON. shape: valid JSON of the wrong shape. html: a 200 ``text/html`` page (a proxy)."""
    tool_name: str = "search_catalog"


@dataclass(frozen=True)
class Dynamic:
    fn: Callable[[Any], StepLike]
    """Called with the parsed request JSON; returns the step to answer with."""


Step: TypeAlias = Text | ToolCalls | Error | Delay | Malformed | Dynamic
StepLike: TypeAlias = Step | str | Callable[[Any], Any]


def as_step(value: StepLike) -> Step:
    if isinstance(value, Text | ToolCalls | Error | Delay | Malformed | Dynamic):
        return value
    if isinstance(value, str):
        return Text(value)
    if callable(value):
        return Dynamic(value)
    raise TypeError(f"not a script step: {value!r}")


# -- constructors -------------------------------------------------------------------------------


def text(content: str, *, finish: Literal["stop", "length"] = "stop") -> Text:
    return Text(content, finish)


def tool_call(
    name: str, arguments: Mapping[str, Any] | str | None = None, *, id: str | None = None, content: str | None = None
) -> ToolCalls:
    """One tool call in one turn."""
    return ToolCalls((ToolCall(name, {} if arguments is None else arguments, id),), content)


def tool_calls(*calls: ToolCall | tuple[str, Mapping[str, Any] | str], content: str | None = None) -> ToolCalls:
    """Several tool calls in one turn: ``tool_calls(("a", {...}), ("b", {...}))``."""
    out = tuple(c if isinstance(c, ToolCall) else ToolCall(c[0], c[1]) for c in calls)
    if not out:
        raise ValueError("tool_calls() needs at least one call")
    return ToolCalls(out, content)


def error(
    status: int,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    *,
    message: str | None = None,
    content_type: str = "application/json",
) -> Error:
    """An HTTP error. ``headers`` default to ``DEFAULT_ERROR_HEADERS``; pass ``{}`` for none."""
    return Error(status, body, dict(DEFAULT_ERROR_HEADERS if headers is None else headers), message, content_type)


def delay(seconds: float, then: StepLike | None = None) -> Delay:
    return Delay(seconds, None if then is None else as_step(then))


def malformed(kind: MalformedKind = "json", *, tool_name: str = "search_catalog") -> Malformed:
    if kind not in ("json", "arguments", "shape", "html"):
        raise ValueError(f"unknown malformed kind: {kind!r}")
    return Malformed(kind, tool_name)


def dynamic(fn: Callable[[Any], StepLike]) -> Dynamic:
    return Dynamic(fn)


# -- readers of request bodies (either API) -----------------------------------------------------


@dataclass(frozen=True)
class ToolResult:
    tool_call_id: str
    content: str
    is_error: bool = False


def _content_text(content: Any) -> str:
    """Text of a message ``content``: a string, or a list of blocks/parts with ``text``."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, Mapping) and isinstance(block.get("text"), str):
                parts.append(block["text"])
        return "".join(parts)
    return json.dumps(content)


def _messages(request_json: Any) -> list[Mapping[str, Any]]:
    if not isinstance(request_json, Mapping):
        return []
    messages = request_json.get("messages")
    return [m for m in messages if isinstance(m, Mapping)] if isinstance(messages, list) else []


def tool_results(request_json: Any) -> list[ToolResult]:
    """Tool results carried by a request, in order: OpenAI ``role: "tool"`` messages and
    Anthropic ``tool_result`` blocks in user messages."""
    out: list[ToolResult] = []
    for message in _messages(request_json):
        if message.get("role") == "tool":
            out.append(ToolResult(str(message.get("tool_call_id")), _content_text(message.get("content"))))
        elif message.get("role") == "user" and isinstance(message.get("content"), list):
            for block in message["content"]:
                if isinstance(block, Mapping) and block.get("type") == "tool_result":
                    out.append(
                        ToolResult(
                            str(block.get("tool_use_id")),
                            _content_text(block.get("content")),
                            bool(block.get("is_error", False)),
                        )
                    )
    return out


def last_user_text(request_json: Any) -> str:
    """Text of the last user message that holds text (tool results are not text)."""
    for message in reversed(_messages(request_json)):
        if message.get("role") == "user":
            found = _content_text(message.get("content"))
            if found:
                return found
    return ""


def tool_names(request_json: Any) -> list[str]:
    """Names of the tools offered: OpenAI ``tools[].function.name``, Anthropic ``tools[].name``."""
    if not isinstance(request_json, Mapping) or not isinstance(request_json.get("tools"), list):
        return []
    names = []
    for tool in request_json["tools"]:
        if not isinstance(tool, Mapping):
            continue
        function = tool.get("function")
        name = function.get("name") if isinstance(function, Mapping) else tool.get("name")
        if isinstance(name, str):
            names.append(name)
    return names
