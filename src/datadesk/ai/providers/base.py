"""What every provider speaks: a neutral chat request and response, and the failures they raise."""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from datadesk.errors import ProviderTimedOut


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON Schema


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any] | None  # None: the model sent arguments that are not a JSON object
    raw_arguments: str = ""


@dataclass
class Message:
    role: str  # user | assistant | tool
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None


@dataclass
class ChatRequest:
    """Built only by ai/egress.py."""

    system: str
    messages: list[Message]
    tools: list[ToolSpec]
    model: str
    resource_ids: list[str]  # every catalog resource whose metadata is in this request
    max_tokens: int = 1500


@dataclass
class ChatResponse:
    text: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    tokens: int = 0


@dataclass
class WireRecord:
    """One HTTP request that left for a provider, as the audit log keeps it."""

    host: str
    request_bytes: int
    payload_sha256: str
    status: int | None = None  # None: no response (timeout, refused connection)


class WireLog:
    """Collects every HTTP request a provider client sends, retries included (thread-safe)."""

    def __init__(self) -> None:
        self.records: list[WireRecord] = []
        self._lock = threading.Lock()

    def on_request(self, request: Any) -> None:
        body = request.read()  # the SDKs send small, non-streamed JSON bodies
        with self._lock:
            self.records.append(WireRecord(request.url.host, len(body), hashlib.sha256(body).hexdigest()))
            request.extensions["datadesk_record"] = len(self.records) - 1

    def on_response(self, response: Any) -> None:
        index = response.request.extensions.get("datadesk_record")
        if index is not None:
            with self._lock:
                self.records[index].status = response.status_code


@dataclass(frozen=True)
class Deadline:
    """When a question is given up: every provider call and retry of it must end before then."""

    seconds: float
    at: float  # on time.monotonic()

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(seconds, time.monotonic() + seconds)

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def passed(self) -> DeadlinePassed:
        return DeadlinePassed(
            f"No complete answer came within the {self.seconds:g}-second limit this workspace sets for one"
            " question, so it was stopped; try again, or ask something narrower."
        )


class Provider(Protocol):
    name: str

    def complete(self, request: ChatRequest, wire: WireLog, deadline: Deadline) -> ChatResponse:
        """One model turn, retries included, ended by the deadline; raise a ProviderError subclass on failure."""


class DeadlinePassed(ProviderTimedOut):
    """The question's overall deadline passed: nothing more is sent for it."""
