"""The admin's limits on the assistant, counted in the store so that every serve process shares them.

Questions per minute count `question_start` rows, each committed before its provider is called, so
questions in flight in another process count too. Token budgets sum the `llm_call` rows of today (UTC).
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, func, select, text

from datadesk.access.caller import Caller
from datadesk.ai.models import AiSettings, LlmCall, QuestionStart
from datadesk.db import StoreSession, make_sessionmaker, transaction, utcnow
from datadesk.errors import RateLimited

WINDOW = timedelta(minutes=1)


class LimitReached(RateLimited):
    """429 with the seconds after which the same request could pass (the Retry-After header)."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = max(1, math.ceil(retry_after))


class TooManyQuestions(LimitReached):
    code = "rate_limited"


class BudgetExhausted(LimitReached):
    code = "token_budget_exhausted"


def take_turn(session: StoreSession, caller: Caller, per_minute: int) -> None:
    """Count one more question of the caller's in the last minute, or refuse it (0: no limit)."""
    if per_minute <= 0:
        return
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    if engine.dialect.name == "sqlite" and _writing(session):
        # SQLite has one writer: this request already holds the lock, so no other asker can count meanwhile,
        # and a second connection would wait on this one.
        _take(session, caller, per_minute)
        return
    with transaction(make_sessionmaker(engine), caller.workspace_id) as own:
        _take(own, caller, per_minute)


def _writing(session: StoreSession) -> bool:
    """Whether the session's SQLite connection has begun writing (and so holds the database's write lock)."""
    dbapi = session.connection().connection.dbapi_connection
    return bool(getattr(dbapi, "in_transaction", False))


def _take(session: StoreSession, caller: Caller, per_minute: int) -> None:
    now = utcnow()
    since = now - WINDOW
    if session.get_bind().dialect.name == "postgresql":
        # One asker of this person at a time between the count and the insert, whichever process they are in.
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(caller)})
    # On SQLite this first write takes the write lock, which orders concurrent askers the same way.
    session.execute(
        delete(QuestionStart)
        .where(QuestionStart.user_id == caller.user_id, QuestionStart.at <= since)
        .execution_options(synchronize_session=False)
    )
    recent = list(
        session.scalars(
            select(QuestionStart.at)
            .where(QuestionStart.workspace_id == caller.workspace_id, QuestionStart.user_id == caller.user_id)
            .where(QuestionStart.at > since)
            .order_by(QuestionStart.at)
        )
    )
    if len(recent) >= per_minute:
        frees_at = recent[len(recent) - per_minute] + WINDOW
        raise TooManyQuestions(
            f"You asked {len(recent)} questions in the last minute; this workspace allows {per_minute}."
            f" Try again in {max(1, math.ceil((frees_at - now).total_seconds()))} seconds.",
            retry_after=(frees_at - now).total_seconds(),
        )
    session.add(QuestionStart(workspace_id=caller.workspace_id, user_id=caller.user_id, at=now))
    session.flush()


def _lock_key(caller: Caller) -> int:
    digest = hashlib.sha256(f"datadesk.question:{caller.workspace_id}:{caller.user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def check_budgets(session: StoreSession, caller: Caller, row: AiSettings) -> None:
    """Refuse a question once today's tokens reach the workspace's or the person's budget (0: no limit)."""
    midnight = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    resets = (midnight + timedelta(days=1) - utcnow()).total_seconds()
    if row.daily_token_budget and tokens_since(session, caller, midnight) >= row.daily_token_budget:
        raise BudgetExhausted(
            "Today's token budget for the assistant in this workspace is used up; it resets at midnight UTC.",
            retry_after=resets,
        )
    if row.daily_token_budget_per_person and (
        tokens_since(session, caller, midnight, per_person=True) >= row.daily_token_budget_per_person
    ):
        raise BudgetExhausted(
            "Your own token budget for the assistant today is used up; it resets at midnight UTC.", retry_after=resets
        )


def tokens_since(session: StoreSession, caller: Caller, since: datetime, *, per_person: bool = False) -> int:
    """Tokens the workspace's (or the caller's) provider calls used since then, failed calls included."""
    query = select(func.coalesce(func.sum(LlmCall.tokens_used), 0)).where(
        LlmCall.workspace_id == caller.workspace_id, LlmCall.at >= since
    )
    if per_person:
        query = query.where(LlmCall.user_id == caller.user_id)
    return int(session.scalar(query) or 0)
