"""Asking the assistant: retrieval, the provider's tool loop, citations, the receipt, history and audit.

Refusals before the question starts (switched off, questions per minute) raise. Later failures never
raise past here: the prompt is saved as failed with its code, the audit entries of every request already
sent are kept, and the caller turns the error into the contract's JSON. One deadline bounds the whole
question, every provider call and retry of the tool loop included.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from datadesk.access.caller import Caller
from datadesk.access.policy import Action, require
from datadesk.ai import audit, egress, limits, retrieval, tools
from datadesk.ai import settings as ai_settings
from datadesk.ai.history import keep_audit, save_answer
from datadesk.ai.models import AiSettings, LlmCall, Prompt
from datadesk.ai.providers.anthropic import AnthropicProvider
from datadesk.ai.providers.base import Deadline, Provider, WireLog, WireRecord
from datadesk.ai.providers.local import MODEL as LOCAL_MODEL
from datadesk.ai.providers.local import LocalProvider
from datadesk.ai.providers.openai import OpenAIProvider
from datadesk.catalog.service import visible_many
from datadesk.db import StoreSession, new_id
from datadesk.errors import DomainError, Forbidden, NotFound, ProviderError
from datadesk.settings import Settings
from datadesk.sql import settings as sql_settings

MAX_STEPS = 6
HISTORY_TURNS = 5
_CITATION = re.compile(r"\s*\[\[([A-Za-z0-9_-]{1,64})\]\]")

Progress = Callable[[str], None]


class ToolLoopExhausted(ProviderError):
    code = "tool_loop_exhausted"


@dataclass
class Answer:
    prompt: Prompt
    error: DomainError | None = None


def provider_for(row: AiSettings, secret_key: str) -> Provider:
    if row.provider == "openai":
        return OpenAIProvider(api_key=ai_settings.api_key(secret_key, row), base_url=row.base_url)
    if row.provider == "anthropic":
        return AnthropicProvider(api_key=ai_settings.api_key(secret_key, row), base_url=row.base_url)
    return LocalProvider()


def _no_progress(_stage: str) -> None:
    return None


def ask(
    *,
    session: StoreSession,
    caller: Caller,
    settings: Settings,
    question: str,
    conversation_id: str | None = None,
    progress: Progress = _no_progress,
    provider: Provider | None = None,
) -> Answer:
    """Answer one question for the caller and save it in their history."""
    require(caller, Action.read_workspace)
    if caller.user_id is None:
        raise Forbidden("Questions belong to a person; use a member's token.", code="no_user")
    row = ai_settings.get(session, caller.workspace_id)
    if not row.enabled:
        raise Forbidden("The assistant is switched off for this workspace.", code="ai_disabled")
    history = _history(session, caller, conversation_id)
    limits.take_turn(session, caller, row.questions_per_minute)
    deadline = Deadline.after(row.question_deadline_s)
    where = ai_settings.destination(row)
    model = LOCAL_MODEL if row.provider == "local" else row.model
    prompt = Prompt(
        id=new_id(),
        workspace_id=caller.workspace_id,
        user_id=caller.user_id,
        conversation_id=conversation_id or new_id(),
        question=question,
        provider=where.provider,
        model=model,
    )
    receipt = _Receipt(where)
    try:
        if row.provider != "local":  # the local provider costs no tokens
            limits.check_budgets(session, caller, row)
        sql = sql_settings.get(session, caller.workspace_id)
        policy = egress.Policy(
            external=where.provider != "local" and not (where.self_hosted and row.sensitive_to_self_hosted),
            sensitive_tags=tuple(sql.sensitive_tags),
        )
        progress("retrieving")
        context = retrieval.retrieve(session, caller, question, policy)
        specs, run_sql_allowed = tools.offered(session, caller, sql.run_sql_enabled)
        ctx = tools.ToolContext(session, caller, settings, policy, run_sql_allowed)
        conversation = egress.Conversation(
            model=model,
            custom_instructions=row.custom_instructions,
            question=question,
            history=history,
            context=context,
            tools=specs,
        )
        answer = _loop(
            session,
            caller,
            provider or provider_for(row, settings.secret_key),
            conversation,
            ctx,
            receipt,
            prompt.id,
            progress,
            deadline,
        )
        prompt.answer, prompt.citations = _citations(session, caller, answer)
        prompt.sql_runs = [run.__dict__ for run in ctx.sql_runs]
        error: DomainError | None = None
    except DomainError as exc:
        error = exc
        prompt.status, prompt.error_code = "failed", exc.code
        prompt.answer = exc.message
    except Exception:
        keep_audit(session, receipt.calls)  # the requests that left stay on the record
        raise
    prompt.disclosure = receipt.as_dict()
    prompt.tokens_used = receipt.tokens
    # Written once, after the answer, in a short transaction of their own: no write lock during provider calls.
    save_answer(session, prompt, receipt.calls)
    return Answer(prompt, error)


def _history(session: StoreSession, caller: Caller, conversation_id: str | None) -> list[tuple[str, str]]:
    if conversation_id is None:
        return []
    earlier = list(
        session.scalars(
            select(Prompt)
            .where(Prompt.user_id == caller.user_id, Prompt.conversation_id == conversation_id)
            .order_by(Prompt.created_at.desc())
            .limit(HISTORY_TURNS)
        )
    )
    if not earlier:
        raise NotFound("No such conversation.")
    return [(p.question, p.answer) for p in reversed(earlier) if p.status == "answered"]


class _Receipt:
    """What left, where: the union of resources and the bytes of every request."""

    def __init__(self, where: ai_settings.Destination) -> None:
        self.where = where
        self.resource_ids: list[str] = []
        self.bytes = 0
        self.tokens = 0
        self.calls: list[LlmCall] = []  # audit entries, saved with the prompt

    def add(self, resource_ids: list[str], size: int, tokens: int) -> None:
        self.resource_ids = list(dict.fromkeys(self.resource_ids + resource_ids))
        self.bytes += size
        self.tokens += tokens

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.where.provider,
            "host": self.where.host,
            "region": self.where.region,
            "resource_ids": self.resource_ids,
            "bytes": self.bytes,
        }


def _loop(
    session: StoreSession,
    caller: Caller,
    provider: Provider,
    conversation: egress.Conversation,
    ctx: tools.ToolContext,
    receipt: _Receipt,
    prompt_id: str,
    progress: Progress,
    deadline: Deadline,
) -> str:
    for _ in range(MAX_STEPS):
        if deadline.remaining() <= 0:  # tools (a slow run_sql) spend the question's time too
            raise deadline.passed()
        request = conversation.request()
        wire = WireLog()
        progress("asking")
        try:
            response = provider.complete(request, wire, deadline)
        except ProviderError as exc:
            _audit(caller, receipt, request.model, request.resource_ids, wire, prompt_id, exc.code, 0)
            raise
        _audit(
            caller,
            receipt,
            request.model,
            request.resource_ids,
            wire,
            prompt_id,
            "",
            response.tokens,
            local=egress.canonical_bytes(request) if provider.name == "local" else None,
        )
        conversation.add_model_turn(response)
        if not response.tool_calls:
            return response.text
        for call in response.tool_calls:
            progress("running_sql" if call.name == "run_sql" else "searching")
            conversation.add_tool_result(call, tools.execute(ctx, call))
    raise ToolLoopExhausted(f"The assistant needed more than {MAX_STEPS} steps; try a more specific question.")


def _audit(
    caller: Caller,
    receipt: _Receipt,
    model: str,
    resource_ids: list[str],
    wire: WireLog,
    prompt_id: str,
    error_code: str,
    tokens: int,
    local: bytes | None = None,
) -> None:
    """One audit entry per HTTP request that left (retries included); one for a local turn."""
    records = list(wire.records)
    if local is not None:
        records = [WireRecord("this server", len(local), hashlib.sha256(local).hexdigest(), 200)]
    elif not records:
        return  # nothing was sent: the failure happened before any request
    for index, record in enumerate(records):
        last = index == len(records) - 1
        entry = audit.record(
            caller,
            receipt.where,
            model,
            record,
            resource_ids,
            prompt_id=prompt_id,
            error_code=error_code if last else f"http_{record.status}" if record.status else "no_response",
            tokens=tokens if last else 0,
        )
        receipt.calls.append(entry)
        receipt.add(resource_ids, record.request_bytes, tokens if last else 0)


def _citations(session: StoreSession, caller: Caller, text: str) -> tuple[str, list[dict[str, str]]]:
    """Citations the caller can see; markers of invented or invisible ids are dropped from the text."""
    ids = list(dict.fromkeys(_CITATION.findall(text)))
    visible = visible_many(session, caller, ids)
    cleaned = _CITATION.sub("", text).strip()
    return cleaned, [{"resource_id": r.id, "name": r.name, "type": r.type} for r in visible]
