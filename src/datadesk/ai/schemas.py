"""Pydantic shapes of the AI API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import MISSING, BaseModel, ConfigDict, Field, StringConstraints

from datadesk.ai.models import Prompt

MAX_TOKEN_BUDGET = 1_000_000_000
MAX_QUESTIONS_PER_MINUTE = 10_000
MIN_DEADLINE_S = 1
MAX_DEADLINE_S = 600


class AiSettingsIn(BaseModel):
    """PUT /settings/ai: fields left out keep their value (none may be null); api_key is write-only ("" clears it)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool | MISSING = MISSING
    provider: Literal["local", "openai", "anthropic"] | MISSING = MISSING
    model: Annotated[str, StringConstraints(max_length=200)] | MISSING = MISSING
    base_url: Annotated[str, StringConstraints(max_length=500)] | MISSING = MISSING
    api_key: Annotated[str, StringConstraints(max_length=500)] | MISSING = MISSING
    sensitive_to_self_hosted: bool | MISSING = MISSING
    run_sql_enabled: bool | MISSING = MISSING
    custom_instructions: Annotated[str, StringConstraints(max_length=8000)] | MISSING = MISSING
    prompt_retention_days: Annotated[int, Field(ge=1, le=3650)] | MISSING = MISSING
    sensitive_tags: list[Annotated[str, StringConstraints(min_length=1, max_length=50)]] | MISSING = Field(
        default=MISSING, max_length=100
    )
    daily_token_budget: Annotated[int, Field(ge=0, le=MAX_TOKEN_BUDGET)] | MISSING = MISSING
    daily_token_budget_per_person: Annotated[int, Field(ge=0, le=MAX_TOKEN_BUDGET)] | MISSING = MISSING
    questions_per_minute: Annotated[int, Field(ge=0, le=MAX_QUESTIONS_PER_MINUTE)] | MISSING = MISSING
    question_deadline_s: Annotated[int, Field(ge=MIN_DEADLINE_S, le=MAX_DEADLINE_S)] | MISSING = MISSING
    sql_row_cap: Annotated[int, Field(ge=1, le=100_000)] | MISSING = MISSING
    sql_byte_cap: Annotated[int, Field(ge=1000, le=500_000_000)] | MISSING = MISSING
    sql_timeout_seconds: Annotated[int, Field(ge=1, le=600)] | MISSING = MISSING


class AiSettingsOut(BaseModel):
    enabled: bool
    provider: str
    model: str
    base_url: str
    api_key_set: bool
    sensitive_to_self_hosted: bool
    run_sql_enabled: bool
    custom_instructions: str
    prompt_retention_days: int
    sensitive_tags: list[str]
    daily_token_budget: int
    daily_token_budget_per_person: int
    questions_per_minute: int
    question_deadline_s: int
    sql_row_cap: int
    sql_byte_cap: int
    sql_timeout_seconds: int
    host: str
    region: str


class AskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
    conversation_id: str | None = None


class Citation(BaseModel):
    resource_id: str
    name: str
    type: str


class SqlRunOut(BaseModel):
    integration_id: str
    sql: str
    status: str
    columns: list[dict[str, str]] = []
    rows: list[list[Any]] = []
    row_count: int = 0
    truncated: bool = False
    error: dict[str, str] | None = None


class Disclosure(BaseModel):
    provider: str
    host: str
    region: str
    resource_ids: list[str]
    bytes: int


class AskOut(BaseModel):
    prompt_id: str
    conversation_id: str
    answer: str
    citations: list[Citation]
    sql_runs: list[SqlRunOut]
    provider: str
    model: str
    disclosure: Disclosure


class PromptOut(AskOut):
    question: str
    status: str
    error_code: str = ""
    created_at: datetime


class PromptList(BaseModel):
    prompts: list[PromptOut]


class LlmCallOut(BaseModel):
    id: str
    at: datetime
    user_id: str | None
    provider: str
    model: str
    host: str
    region: str
    request_bytes: int
    resource_ids: list[str]
    payload_sha256: str
    status: str
    error_code: str


class LlmAudit(BaseModel):
    entries: list[LlmCallOut]


def answer_out(prompt: Prompt) -> AskOut:
    disclosure = prompt.disclosure or {}
    return AskOut(
        prompt_id=prompt.id,
        conversation_id=prompt.conversation_id,
        answer=prompt.answer,
        citations=[Citation(**c) for c in prompt.citations],
        sql_runs=[SqlRunOut(**r) for r in prompt.sql_runs],
        provider=prompt.provider,
        model=prompt.model,
        disclosure=Disclosure(
            provider=disclosure.get("provider", prompt.provider),
            host=disclosure.get("host", ""),
            region=disclosure.get("region", ""),
            resource_ids=disclosure.get("resource_ids", []),
            bytes=disclosure.get("bytes", 0),
        ),
    )


def prompt_out(prompt: Prompt) -> PromptOut:
    return PromptOut(
        **answer_out(prompt).model_dump(),
        question=prompt.question,
        status=prompt.status,
        error_code=prompt.error_code,
        created_at=prompt.created_at,
    )
