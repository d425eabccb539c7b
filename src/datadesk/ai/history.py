"""Prompt history: each person's own questions and answers, deleted for real, exported, expired."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import sessionmaker

from datadesk.access.caller import Caller
from datadesk.access.policy import Action, owns, require
from datadesk.ai.models import DEFAULT_RETENTION_DAYS, AiSettings, Prompt
from datadesk.db import StoreSession, transaction, utcnow
from datadesk.errors import NotFound
from datadesk.identity.models import Workspace


def list_prompts(*, session: StoreSession, caller: Caller, limit: int = 100) -> list[Prompt]:
    """The caller's own prompts, newest first; admins too see only their own."""
    require(caller, Action.read_workspace)
    return list(
        session.scalars(
            select(Prompt)
            .where(Prompt.user_id == caller.user_id)
            .order_by(Prompt.created_at.desc())
            .limit(max(1, min(limit, 1000)))
        )
    )


def get_prompt(*, session: StoreSession, caller: Caller, prompt_id: str) -> Prompt:
    prompt = session.get(Prompt, prompt_id)
    if prompt is None or not owns(caller, prompt.user_id) or prompt.workspace_id != caller.workspace_id:
        raise NotFound("No such prompt.")
    return prompt


def delete_prompt(*, session: StoreSession, caller: Caller, prompt_id: str) -> None:
    session.delete(get_prompt(session=session, caller=caller, prompt_id=prompt_id))
    session.flush()


def delete_all(*, session: StoreSession, caller: Caller) -> int:
    result = session.execute(
        delete(Prompt).where(Prompt.user_id == caller.user_id).execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def export(*, session: StoreSession, caller: Caller) -> list[dict[str, Any]]:
    """Every prompt of the caller as plain JSON-ready data, oldest first."""
    return [as_dict(p) for p in reversed(list_prompts(session=session, caller=caller, limit=1000))]


def as_dict(prompt: Prompt) -> dict[str, Any]:
    return {
        "prompt_id": prompt.id,
        "conversation_id": prompt.conversation_id,
        "question": prompt.question,
        "answer": prompt.answer,
        "status": prompt.status,
        "error_code": prompt.error_code,
        "provider": prompt.provider,
        "model": prompt.model,
        "citations": prompt.citations,
        "sql_runs": prompt.sql_runs,
        "disclosure": prompt.disclosure,
        "created_at": prompt.created_at.isoformat(),
    }


def purge_expired(sessions: sessionmaker[StoreSession]) -> int:
    """Delete prompts older than their workspace's retention period, in every workspace."""
    removed = 0
    with transaction(sessions) as session:
        workspaces = list(session.scalars(select(Workspace.id)))
    for workspace_id in workspaces:
        with transaction(sessions, workspace_id) as session:
            days = session.scalar(
                select(AiSettings.prompt_retention_days).where(AiSettings.workspace_id == workspace_id)
            )
            cutoff = utcnow() - timedelta(days=days or DEFAULT_RETENTION_DAYS)
            result = session.execute(
                delete(Prompt).where(Prompt.created_at < cutoff).execution_options(synchronize_session=False)
            )
            removed += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return removed
