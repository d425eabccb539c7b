"""A fake LLM provider on 127.0.0.1 speaking the real OpenAI and Anthropic wire formats.

Providers are tested through the official SDKs against this server, never by mocking our own
provider classes. One server answers both APIs:

- OpenAI Chat Completions: ``POST /v1/chat/completions`` (SDK ``base_url=server.openai_base_url``,
  i.e. ``http://127.0.0.1:PORT/v1``), any path ending in ``/chat/completions`` (Azure
  ``/openai/deployments/{name}/chat/completions``, vLLM, Ollama…), and ``GET /v1/models``.
- Anthropic Messages: ``POST /v1/messages`` (SDK ``base_url=server.anthropic_base_url``, i.e.
  ``http://127.0.0.1:PORT``) and ``GET /v1/models`` with an ``anthropic-version`` header.

Usage::

    with FakeLLMServer([tool_call("search_catalog", {"query": "orders"}), text("done")]) as fake:
        client = openai.OpenAI(base_url=fake.openai_base_url, api_key="sk-test", max_retries=0)
        ...
        assert fake.requests[1].json["messages"][-1]["role"] == "tool"
        assert "canary" not in fake.all_request_text()

or the ``fake_llm`` pytest fixture (import it into a test module or conftest).

Script steps are documented in ``tests/fakes/script.py``. A step is consumed by each completion
request that gets past the checks; requests refused before that (wrong API key, missing
``anthropic-version``, unparsable body, ``stream: true``) and ``/models`` consume none. When the
script is exhausted the server answers ``default_text``.
"""

from __future__ import annotations

import contextlib
import copy
import gzip
import json
import secrets
import socket
import string
import sys
import threading
import time
import traceback
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import pytest

from tests.fakes.script import (
    DEFAULT_ERROR_HEADERS,
    Delay,
    Dynamic,
    Error,
    Malformed,
    Step,
    StepLike,
    Text,
    ToolCall,
    ToolCalls,
    as_step,
    delay,
    dynamic,
    error,
    last_user_text,
    malformed,
    text,
    tool_call,
    tool_calls,
    tool_names,
    tool_results,
)

__all__ = [
    "DEFAULT_ERROR_HEADERS",
    "FakeLLMServer",
    "RecordedRequest",
    "delay",
    "dynamic",
    "error",
    "fake_llm",
    "last_user_text",
    "malformed",
    "text",
    "tool_call",
    "tool_calls",
    "tool_names",
    "tool_results",
]

Api = Literal["openai", "anthropic"]
Endpoint = Literal["chat", "messages", "models"]

_ALNUM = string.ascii_letters + string.digits
_MAX_DYNAMIC_DEPTH = 20


def _rand(n: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


@dataclass
class RecordedRequest:
    """One request as it reached the fake, byte for byte."""

    method: str
    path: str
    """Without the query string."""
    query: str
    headers: dict[str, str]
    """Header names lower-cased; repeated headers joined with ", "."""
    raw_headers: list[tuple[str, str]]
    body: bytes
    """The raw request body (as sent, before any content-encoding is undone)."""
    json: Any
    """The parsed body, or None when it is empty or not JSON."""
    api: Api | None
    endpoint: Endpoint | None
    api_key: str | None
    """``Authorization: Bearer`` / ``api-key`` (OpenAI, Azure) or ``x-api-key`` / ``Authorization: Bearer``
    (Anthropic; the installed SDK sends its api_key as a Bearer token)."""
    at: float
    """``time.monotonic()`` when the request arrived."""
    status: int | None = None
    """Status the fake answered (set before the response is written)."""
    step: Step | None = None
    """The script step that answered (after resolving dynamic steps and delays), if one did."""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def retry_count(self) -> int | None:
        value = self.headers.get("x-stainless-retry-count")
        return int(value) if value is not None and value.isdigit() else None


@dataclass
class _Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


def _json_reply(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> _Reply:
    return _Reply(status, json.dumps(payload).encode(), dict(headers or {}))


# -- error bodies in each API's real shape -----------------------------------------------------

_OPENAI_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Permission denied."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist or you do not have access to it."),
    408: ("timeout", None, "Request timed out."),
    409: ("invalid_request_error", None, "Conflict."),
    422: ("invalid_request_error", None, "Unprocessable entity."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests."),
    500: ("server_error", None, "The server had an error while processing your request."),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
    504: ("server_error", None, "Gateway timeout."),
}

_ANTHROPIC_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "invalid x-api-key"),
    402: ("billing_error", "Your credit balance is too low."),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "Not found."),
    408: ("timeout_error", "Request timed out."),
    409: ("conflict_error", "Conflict."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit."),
    500: ("api_error", "Internal server error"),
    502: ("api_error", "Bad gateway"),
    503: ("api_error", "Service unavailable"),
    504: ("timeout_error", "Gateway timeout"),
    529: ("overloaded_error", "Overloaded"),
}


def openai_error_body(status: int, message: str | None = None) -> dict[str, Any]:
    err_type, code, default = _OPENAI_ERRORS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None, f"Error {status}.")
    )
    return {"error": {"message": message or default, "type": err_type, "param": None, "code": code}}


def anthropic_error_body(status: int, message: str | None = None) -> dict[str, Any]:
    err_type, default = _ANTHROPIC_ERRORS.get(
        status, ("api_error" if status >= 500 else "invalid_request_error", f"Error {status}.")
    )
    return {
        "type": "error",
        "error": {"type": err_type, "message": message or default},
        "request_id": f"req_011{_rand(21)}",
    }


def _error_body(api: Api | None, status: int, message: str | None = None) -> dict[str, Any]:
    return anthropic_error_body(status, message) if api == "anthropic" else openai_error_body(status, message)


# -- the server --------------------------------------------------------------------------------


class FakeLLMServer:
    """A scriptable, recording fake of the OpenAI and Anthropic HTTP APIs.

    ``api_key``: when set, every request must carry it (see ``RecordedRequest.api_key``) or gets a
    401 in the API's error shape. May be changed at any time (``server.api_key = ...``).
    """

    def __init__(
        self,
        script: Iterable[StepLike] = (),
        *,
        api_key: str | None = None,
        default_text: str = "This is the fake model's default answer.",
        model: str = "fake-model",
        models: Iterable[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.api_key = api_key
        self.default_text = default_text
        self.model = model
        self.models = list(models) if models is not None else [model]
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._script: list[Step] = [as_step(s) for s in script]
        self._requests: list[RecordedRequest] = []
        self.errors: list[str] = []
        """Tracebacks of bugs inside the fake itself (answered as 500); should stay empty."""
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._clients: list[Any] = []

    # -- lifecycle --

    def start(self) -> FakeLLMServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _HTTPServer((self._host, self._port), _Handler)
        httpd.fake = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, name="fake-llm-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        while self._clients:
            self._clients.pop().close()
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()  # wakes up delays
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("FakeLLMServer is not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    @property
    def azure_endpoint(self) -> str:
        return self.url

    @property
    def host(self) -> str:
        return f"{self._host}:{self.port}"

    # -- script --

    def script(self, *steps: StepLike) -> FakeLLMServer:
        """Replace the remaining script."""
        with self._lock:
            self._script = [as_step(s) for s in steps]
        return self

    def add(self, *steps: StepLike) -> FakeLLMServer:
        """Append steps to the script."""
        with self._lock:
            self._script.extend(as_step(s) for s in steps)
        return self

    @property
    def remaining(self) -> int:
        """Steps not consumed yet."""
        with self._lock:
            return len(self._script)

    def _next_step(self) -> Step:
        with self._lock:
            return self._script.pop(0) if self._script else Text(self.default_text)

    # -- recordings --

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def completion_requests(self) -> list[RecordedRequest]:
        """Only ``chat/completions`` and ``messages`` requests."""
        return [r for r in self.requests if r.endpoint in ("chat", "messages")]

    @property
    def last_request(self) -> RecordedRequest:
        with self._lock:
            if not self._requests:
                raise AssertionError("the fake LLM server received no request")
            return self._requests[-1]

    def all_request_text(self, *, include_headers: bool = False) -> str:
        """All request bodies (and optionally header lines), decoded, for canary searches."""
        parts = []
        for r in self.requests:
            if include_headers:
                parts.extend(f"{k}: {v}" for k, v in r.raw_headers)
            parts.append(r.text)
        return "\n".join(parts)

    def all_request_strings(self) -> str:
        """Every JSON string (keys and values) of all bodies, unescaped, one per line: finds
        canaries that JSON escaping (quotes, newlines, backslashes) hides from ``all_request_text``."""
        out: list[str] = []

        def walk(value: Any) -> None:
            if isinstance(value, str):
                out.append(value)
            elif isinstance(value, Mapping):
                for k, v in value.items():
                    out.append(str(k))
                    walk(v)
            elif isinstance(value, list):
                for v in value:
                    walk(v)

        for r in self.requests:
            walk(r.json)
        return "\n".join(out)

    def tool_results(self) -> list[str]:
        """The tool results handed back in the last completion request, in either wire format."""
        body = self.completion_requests[-1].json
        found: list[str] = []
        for message in body.get("messages", []):
            if message.get("role") == "tool":  # Chat Completions
                found.append(str(message.get("content")))
            elif isinstance(message.get("content"), list):  # Messages: tool_result blocks in a user turn
                for block in message["content"]:
                    if isinstance(block, dict) and block.get("type") == "tool_result":
                        content = block.get("content")
                        if isinstance(content, list):
                            content = "".join(str(part.get("text", "")) for part in content)
                        found.append(str(content))
        return found

    def saw(self, needle: str) -> bool:
        """Whether ``needle`` left our side in any request body (raw or JSON-unescaped) or header."""
        return needle in self.all_request_text(include_headers=True) or needle in self.all_request_strings()

    def clear(self) -> None:
        """Forget the recorded requests (the script stays)."""
        with self._lock:
            self._requests.clear()

    def reset(self) -> None:
        """Forget the recorded requests and the remaining script."""
        with self._lock:
            self._requests.clear()
            self._script.clear()

    # -- SDK clients (conveniences) --

    def openai_client(self, **kwargs: Any) -> Any:
        """An ``openai.OpenAI`` client on this server (closed by ``stop()``)."""
        import openai

        kwargs.setdefault("api_key", self.api_key or "sk-fake")
        kwargs.setdefault("max_retries", 0)
        client = openai.OpenAI(base_url=self.openai_base_url, **kwargs)
        self._clients.append(client)
        return client

    def anthropic_client(self, **kwargs: Any) -> Any:
        """An ``anthropic.Anthropic`` client on this server (closed by ``stop()``)."""
        import anthropic

        kwargs.setdefault("api_key", self.api_key or "sk-ant-fake")
        kwargs.setdefault("max_retries", 0)
        client = anthropic.Anthropic(base_url=self.anthropic_base_url, **kwargs)
        self._clients.append(client)
        return client

    # -- request handling (called from handler threads) --

    def _handle(self, method: str, target: str, raw_headers: list[tuple[str, str]], body: bytes) -> _Reply:
        path, _, query = target.partition("?")
        headers: dict[str, str] = {}
        for k, v in raw_headers:
            key = k.lower()
            headers[key] = f"{headers[key]}, {v}" if key in headers else v
        api, endpoint = _route(method, path, headers)
        parsed, parse_error = _parse_body(body, headers)
        rec = RecordedRequest(
            method=method,
            path=path,
            query=query,
            headers=headers,
            raw_headers=raw_headers,
            body=body,
            json=parsed,
            api=api,
            endpoint=endpoint,
            api_key=_api_key(api, headers),
            at=time.monotonic(),
        )
        with self._lock:
            self._requests.append(rec)
        try:
            reply = self._answer(rec, parse_error)
        except Exception:
            tb = traceback.format_exc()
            self.errors.append(tb)
            print(f"fake LLM server bug:\n{tb}", file=sys.stderr)
            reply = _json_reply(500, _error_body(api, 500, "fake LLM server bug, see FakeLLMServer.errors"))
        rec.status = reply.status
        request_id_header = "request-id" if api == "anthropic" else "x-request-id"
        reply.headers.setdefault(request_id_header, f"req_{_rand(24)}")
        return reply

    def _answer(self, rec: RecordedRequest, parse_error: str | None) -> _Reply:
        api = rec.api
        if api is None or rec.endpoint is None:
            return _json_reply(404, _error_body(api, 404, f"Unknown route: {rec.method} {rec.path}"))
        if self.api_key is not None and rec.api_key != self.api_key:
            message = (
                "invalid x-api-key"
                if api == "anthropic"
                else f"Incorrect API key provided: {_mask(rec.api_key)}. You can find your API key at "
                "https://platform.openai.com/account/api-keys."
            )
            return _json_reply(401, _error_body(api, 401, message))
        if api == "anthropic" and "anthropic-version" not in rec.headers:
            return _json_reply(400, _error_body(api, 400, "anthropic-version: header is required"))
        if rec.endpoint == "models":
            return _json_reply(200, self._models_body(api))
        if parse_error is not None or not isinstance(rec.json, Mapping):
            return _json_reply(
                400,
                _error_body(
                    api,
                    400,
                    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
                    "using your HTTP library correctly. The OpenAI API expects a JSON payload.)"
                    if api == "openai"
                    else "The request body is not valid JSON.",
                ),
            )
        if rec.json.get("stream") is True:
            return _json_reply(
                400, _error_body(api, 400, "stream=true is not supported by the fake LLM server; call without it")
            )

        step = self._resolve(self._next_step(), rec.json)
        rec.step = step
        return self._render(api, step, rec)

    def _resolve(self, step: Step, request_json: Any) -> Step:
        for _ in range(_MAX_DYNAMIC_DEPTH):
            if isinstance(step, Dynamic):
                step = as_step(step.fn(copy.deepcopy(request_json)))  # the recording stays as received
            elif isinstance(step, Delay):
                self._stopping.wait(step.seconds)
                step = step.then if step.then is not None else Text(self.default_text)
            else:
                return step
        raise RuntimeError("dynamic steps nested too deeply")

    def _models_body(self, api: Api) -> dict[str, Any]:
        if api == "anthropic":
            data = [
                {"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"} for m in self.models
            ]
            return {
                "data": data,
                "has_more": False,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            }
        return {
            "object": "list",
            "data": [{"id": m, "object": "model", "created": 1735689600, "owned_by": "fake"} for m in self.models],
        }

    def _render(self, api: Api, step: Step, rec: RecordedRequest) -> _Reply:
        assert isinstance(rec.json, Mapping)
        model = rec.json.get("model") if isinstance(rec.json.get("model"), str) else self.model
        if isinstance(step, Error):
            if step.body is None:
                body = json.dumps(_error_body(api, step.status, step.message)).encode()
            elif isinstance(step.body, bytes):
                body = step.body
            elif isinstance(step.body, str):
                body = step.body.encode()
            else:
                body = json.dumps(step.body).encode()
            return _Reply(step.status, body, dict(step.headers), step.content_type)
        if isinstance(step, Malformed):
            if step.kind == "json":
                broken = b'{"id": "broken", "object": "chat.completion", "choices": [{"index": 0, "message": {"ro'
                return _Reply(200, broken)
            if step.kind == "html":
                page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
                return _Reply(200, page, content_type="text/html")
            if step.kind == "shape":
                return _json_reply(200, {"unexpected": "shape", "data": None})
            # unparsable tool-call arguments
            step = ToolCalls((ToolCall(step.tool_name, '{"query": "orders", "type": '),))
        if isinstance(step, Text | ToolCalls):
            build = _anthropic_message if api == "anthropic" else _openai_completion
            return _json_reply(200, build(step, model, len(rec.body)))
        raise TypeError(f"cannot render step {step!r}")


def _mask(key: str | None) -> str:
    if not key:
        return "(none)"
    return f"{key[:3]}{'*' * max(len(key) - 7, 0)}{key[-4:]}" if len(key) > 8 else "****"


def _route(method: str, path: str, headers: Mapping[str, str]) -> tuple[Api | None, Endpoint | None]:
    trimmed = path.rstrip("/")
    looks_anthropic = "anthropic-version" in headers or "x-api-key" in headers
    if method == "POST" and trimmed.endswith("/chat/completions"):
        return "openai", "chat"
    if method == "POST" and trimmed.endswith("/v1/messages"):
        return "anthropic", "messages"
    if method == "GET" and trimmed.endswith("/models"):
        return ("anthropic" if looks_anthropic else "openai"), "models"
    return ("anthropic" if looks_anthropic else "openai"), None


def _api_key(api: Api | None, headers: Mapping[str, str]) -> str | None:
    bearer = None
    auth = headers.get("authorization")
    if auth and auth.lower().startswith("bearer "):
        bearer = auth[7:].strip()
    if api == "anthropic":
        return headers.get("x-api-key") or bearer
    return bearer or headers.get("api-key")


def _parse_body(body: bytes, headers: Mapping[str, str]) -> tuple[Any, str | None]:
    if not body:
        return None, None
    data = body
    encoding = headers.get("content-encoding", "").lower()
    try:
        if encoding == "gzip":
            data = gzip.decompress(body)
        elif encoding == "deflate":
            data = zlib.decompress(body)
        return json.loads(data), None
    except (ValueError, OSError, zlib.error) as exc:
        return None, str(exc)


def _usage_counts(request_bytes: int, output: str) -> tuple[int, int]:
    return max(1, request_bytes // 4), max(1, len(output) // 4)


def _openai_completion(step: Text | ToolCalls, model: str, request_bytes: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None, "annotations": []}
    if isinstance(step, Text):
        message["content"] = step.content
        finish = "length" if step.finish == "length" else "stop"
        output = step.content
    else:
        message["content"] = step.content
        message["tool_calls"] = [
            {
                "id": call.id or f"call_{_rand(24)}",
                "type": "function",
                "function": {
                    "name": call.name,
                    "arguments": call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments),
                },
            }
            for call in step.calls
        ]
        finish = "tool_calls"
        output = json.dumps(message["tool_calls"])
    prompt, completion = _usage_counts(request_bytes, output)
    return {
        "id": f"chatcmpl-{_rand(29)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": "fp_fake",
    }


def _anthropic_message(step: Text | ToolCalls, model: str, request_bytes: int) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if isinstance(step, Text):
        content.append({"type": "text", "text": step.content})
        stop_reason = "max_tokens" if step.finish == "length" else "end_turn"
    else:
        if step.content:
            content.append({"type": "text", "text": step.content})
        for call in step.calls:
            arguments: Any = call.arguments if isinstance(call.arguments, str) else dict(call.arguments)
            content.append(
                {"type": "tool_use", "id": call.id or f"toolu_01{_rand(22)}", "name": call.name, "input": arguments}
            )
        stop_reason = "tool_use"
    prompt, completion = _usage_counts(request_bytes, json.dumps(content))
    return {
        "id": f"msg_01{_rand(22)}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": prompt,
            "output_tokens": completion,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "service_tier": "standard",
        },
    }


# -- HTTP plumbing (stdlib, so it starts in milliseconds) ---------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: FakeLLMServer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._conns: dict[threading.Thread, socket.socket] = {}
        self._conns_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        t = threading.Thread(
            target=self._serve_connection, args=(request, client_address), name="fake-llm-conn", daemon=True
        )
        with self._conns_lock:
            self._conns[t] = request
        t.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._conns_lock:
                self._conns.pop(threading.current_thread(), None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError | OSError):
            return  # the client went away (e.g. it timed out during a delay step)
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """Wake up and end the threads serving (keep-alive) connections."""
        with self._conns_lock:
            conns = list(self._conns.items())
        for _, sock in conns:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread, _ in conns:
            thread.join(timeout=2)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-llm"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 60  # idle keep-alive connections end on their own
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        body = self._read_body()
        reply = self.server.fake._handle(self.command, self.path, list(self.headers.items()), body)
        lines = [
            f"HTTP/1.1 {reply.status} {self.responses.get(reply.status, ('Unknown',))[0]}",
            f"date: {formatdate(usegmt=True)}",
            f"content-type: {reply.content_type}",
            f"content-length: {len(reply.body)}",
        ]
        lines += [f"{k}: {v}" for k, v in reply.headers.items()]
        if self.close_connection:
            lines.append("connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            self.wfile.write(head + reply.body)  # one write: no Nagle / delayed-ACK stalls
            self.wfile.flush()
        except OSError:
            self.close_connection = True


# -- pytest fixture -----------------------------------------------------------------------------


@pytest.fixture
def fake_llm() -> Iterator[FakeLLMServer]:
    """A started FakeLLMServer with an empty script (use ``fake_llm.script(...)``).

    Fails the test at teardown if a dynamic step raised or the fake itself broke."""
    with FakeLLMServer() as server:
        yield server
    assert not server.errors, "fake LLM server errors:\n" + "\n".join(server.errors)
