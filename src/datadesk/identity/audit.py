"""The admin audit trail."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from datadesk.access.caller import Caller
from datadesk.identity.models import AuditEvent


def record(
    session: Session,
    caller: Caller,
    action: str,
    target: str = "",
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Write one audit event; callers mask secrets before passing values in."""
    event = AuditEvent(
        workspace_id=caller.workspace_id,
        actor_user_id=caller.user_id,
        action=action,
        target=target,
        before=before,
        after=after,
    )
    session.add(event)
    return event


def recent(session: Session, *, limit: int = 200, action_prefix: str | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.at.desc()).limit(limit)
    if action_prefix:
        query = query.where(AuditEvent.action.startswith(action_prefix))
    return list(session.scalars(query))
