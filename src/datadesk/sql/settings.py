"""Run SQL settings: read by everyone in the workspace, changed by admins, every change audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from datadesk.access.caller import Caller
from datadesk.access.policy import Action, require
from datadesk.db import StoreSession, utcnow
from datadesk.identity import audit
from datadesk.sql.models import SqlSettings

FIELDS = ("run_sql_enabled", "row_cap", "byte_cap", "timeout_seconds", "sensitive_tags")


def get(session: StoreSession, workspace_id: str) -> SqlSettings:
    """The workspace's Run SQL settings, created with the defaults (Run SQL off) on first use."""
    row = session.scalar(select(SqlSettings).where(SqlSettings.workspace_id == workspace_id))
    if row is None:
        row = SqlSettings(workspace_id=workspace_id)
        session.add(row)
        session.flush()
    return row


def read(*, session: StoreSession, caller: Caller) -> SqlSettings:
    require(caller, Action.read_workspace)
    return get(session, caller.workspace_id)


def update(*, session: StoreSession, caller: Caller, changes: dict[str, Any]) -> SqlSettings:
    """Apply an admin's changes to the fields given; the rest keep their value."""
    require(caller, Action.manage_settings)
    row = get(session, caller.workspace_id)
    changes = {name: value for name, value in changes.items() if name in FIELDS}
    if "sensitive_tags" in changes:
        changes["sensitive_tags"] = sorted({t.strip().lower() for t in changes["sensitive_tags"] if t.strip()})
    before = {name: getattr(row, name) for name in changes if getattr(row, name) != changes[name]}
    for name in before:
        setattr(row, name, changes[name])
    if before:
        row.updated_at = utcnow()
        after = {name: changes[name] for name in before}
        audit.record(session, caller, "settings.sql", caller.workspace_id, before=before, after=after)
    session.flush()
    return row
