"""Per-workspace AI settings (admin choices), prompt history and the LLM audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from datadesk.db import Base, WorkspaceScoped, new_id, utcnow

DEFAULT_RETENTION_DAYS = 90
DEFAULT_QUESTIONS_PER_MINUTE = 20
DEFAULT_QUESTION_DEADLINE_S = 90


class AiSettings(Base):
    """What the assistant may do in one workspace; a new workspace starts local-only."""

    __tablename__ = "ai_settings"

    workspace_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    provider: Mapped[str] = mapped_column(String(16), default="local")
    model: Mapped[str] = mapped_column(String(200), default="")
    base_url: Mapped[str] = mapped_column(String(500), default="")
    api_key_encrypted: Mapped[str] = mapped_column(Text, default="")
    # A self-hosted base URL may receive resources with sensitive tags only when an admin says so.
    sensitive_to_self_hosted: Mapped[bool] = mapped_column(Boolean, default=False)
    custom_instructions: Mapped[str] = mapped_column(Text, default="")
    prompt_retention_days: Mapped[int] = mapped_column(Integer, default=DEFAULT_RETENTION_DAYS)
    daily_token_budget: Mapped[int] = mapped_column(Integer, default=200_000)  # per workspace; 0: no limit
    daily_token_budget_per_person: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    questions_per_minute: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_QUESTIONS_PER_MINUTE, server_default=str(DEFAULT_QUESTIONS_PER_MINUTE)
    )
    question_deadline_s: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_QUESTION_DEADLINE_S, server_default=str(DEFAULT_QUESTION_DEADLINE_S)
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Prompt(WorkspaceScoped, Base):
    """One question and its answer, owned by the person who asked."""

    __tablename__ = "prompt"
    __table_args__ = (Index("ix_prompt_user_created", "workspace_id", "user_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("user_account.id", ondelete="CASCADE"))
    conversation_id: Mapped[str] = mapped_column(String(32), index=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="answered")  # answered | failed
    error_code: Mapped[str] = mapped_column(String(64), default="")
    provider: Mapped[str] = mapped_column(String(16), default="")
    model: Mapped[str] = mapped_column(String(200), default="")
    citations: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    sql_runs: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    disclosure: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tokens_used: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class LlmCall(WorkspaceScoped, Base):
    """One request to a provider, failed ones too: what left, for whom, where. Never the prompt text."""

    __tablename__ = "llm_call"
    __table_args__ = (Index("ix_llm_call_user_at", "workspace_id", "user_id", "at"),)  # a person's tokens today

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[str | None] = mapped_column(String(32), default=None)
    prompt_id: Mapped[str | None] = mapped_column(String(32), default=None)
    provider: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(200), default="")
    host: Mapped[str] = mapped_column(String(300), default="")
    region: Mapped[str] = mapped_column(String(32), default="")
    request_bytes: Mapped[int] = mapped_column(Integer, default=0)
    resource_ids: Mapped[list[str]] = mapped_column(default=list)
    payload_sha256: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16), default="ok")  # ok | failed
    error_code: Mapped[str] = mapped_column(String(64), default="")
    tokens_used: Mapped[int] = mapped_column(Integer, default=0)


class QuestionStart(WorkspaceScoped, Base):
    """A question a person began, answered, failed or still in flight: the per-minute limit counts these.

    Apart from prompts because a person may delete their prompts, and written in a transaction of its own
    before the provider is called, so every serve process sees it at once.
    """

    __tablename__ = "question_start"
    __table_args__ = (Index("ix_question_start_user_at", "workspace_id", "user_id", "at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("user_account.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
