"""The LLM audit log: one entry per request to a provider, failed ones too; never the prompt text."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from datadesk.access.caller import Caller
from datadesk.access.policy import Action, require
from datadesk.ai.models import LlmCall
from datadesk.ai.providers.base import WireRecord
from datadesk.ai.settings import Destination
from datadesk.db import StoreSession, utcnow


def record(
    caller: Caller,
    where: Destination,
    model: str,
    wire: WireRecord,
    resource_ids: list[str],
    *,
    prompt_id: str | None,
    error_code: str = "",
    tokens: int = 0,
) -> LlmCall:
    """The entry of one request that left, stamped now; the caller saves it with the prompt (history.save)."""
    ok = wire.status is not None and wire.status < 400 and not error_code
    return LlmCall(
        at=utcnow(),
        workspace_id=caller.workspace_id,
        user_id=caller.user_id,
        prompt_id=prompt_id,
        provider=where.provider,
        model=model,
        host=wire.host or where.host,
        region=where.region,
        request_bytes=wire.request_bytes,
        resource_ids=resource_ids,
        payload_sha256=wire.payload_sha256,
        status="ok" if ok else "failed",
        error_code=error_code if not ok else "",
        tokens_used=tokens,
    )


def entries(
    *,
    session: StoreSession,
    caller: Caller,
    user_id: str | None = None,
    provider: str | None = None,
    since: datetime | None = None,
    limit: int = 200,
) -> list[LlmCall]:
    require(caller, Action.read_audit)
    query = select(LlmCall).order_by(LlmCall.at.desc()).limit(max(1, min(limit, 1000)))
    if user_id:
        query = query.where(LlmCall.user_id == user_id)
    if provider:
        query = query.where(LlmCall.provider == provider)
    if since:
        query = query.where(LlmCall.at >= since)
    return list(session.scalars(query))
