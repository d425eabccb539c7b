"""Prompt history: each person's own questions and answers, deleted for real, exported, expired."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import sessionmaker

from datadesk.access.caller import Caller
from datadesk.access.policy import Action, owns, require
from datadesk.ai.models import DEFAULT_RETENTION_DAYS, AiSettings, LlmCall, Prompt
from datadesk.db import StoreSession, apart, is_busy, transaction, utcnow
from datadesk.errors import NotFound
from datadesk.identity.models import Workspace

log = logging.getLogger("datadesk")


SAVE_ATTEMPTS = 2


def save_answer(session: StoreSession, prompt: Prompt | None, calls: list[LlmCall]) -> None:
    """Write an ask's prompt and the audit entries of its provider calls in one short transaction of their own.

    Apart from the request's, after the answer: a SQLite write lock is held for these inserts only, never while
    a provider answers, and the audit entries stay even if the request's transaction later rolls back. A store
    busy past its bound gets a second try before the error goes up: the entries record requests that left.
    """
    for attempt in range(1, SAVE_ATTEMPTS + 1):
        try:
            with apart(session) as own:
                if prompt is not None:
                    own.add(prompt)
                own.add_all(calls)
            return
        except (OperationalError, PoolTimeout) as exc:
            if attempt == SAVE_ATTEMPTS or not is_busy(exc):
                raise
            log.warning("saving an answer found the store busy; trying again")


def keep_audit(session: StoreSession, calls: list[LlmCall]) -> None:
    """After an ask failed unexpectedly: save the audit entries of the requests that left, without masking the failure.

    The failure goes up and the caller rolls the session back anyway; rolled back first, it holds no lock the
    entries' own transaction would wait for.
    """
    if not calls:
        return
    try:
        session.rollback()
        save_answer(session, None, calls)
    except Exception:
        log.exception("the audit entries of a failed question could not be saved")


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
