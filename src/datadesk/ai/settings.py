"""AI settings: read by everyone in the workspace, changed by admins, every change audited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import select

from datadesk import crypto
from datadesk.access.caller import Caller
from datadesk.access.policy import Action, require
from datadesk.ai.models import AiSettings
from datadesk.db import StoreSession, utcnow
from datadesk.errors import Invalid
from datadesk.identity import audit
from datadesk.sql import settings as sql_settings

PROVIDERS = ("local", "openai", "anthropic")
PUBLIC_HOSTS = {"openai": "api.openai.com", "anthropic": "api.anthropic.com"}
MAX_INSTRUCTIONS = 8000
AUDITED = (
    "enabled",
    "provider",
    "model",
    "base_url",
    "sensitive_to_self_hosted",
    "custom_instructions",
    "prompt_retention_days",
    "daily_token_budget",
    "daily_token_budget_per_person",
    "questions_per_minute",
    "question_deadline_s",
)
# PUT /settings/ai still takes the Run SQL settings it held before they moved to sql/ (name here -> there).
SQL_FIELDS = {
    "run_sql_enabled": "run_sql_enabled",
    "sql_row_cap": "row_cap",
    "sql_byte_cap": "byte_cap",
    "sql_timeout_seconds": "timeout_seconds",
    "sensitive_tags": "sensitive_tags",
}


def get(session: StoreSession, workspace_id: str) -> AiSettings:
    """The workspace's settings, created with the defaults on first use."""
    row = session.scalar(select(AiSettings).where(AiSettings.workspace_id == workspace_id))
    if row is None:
        row = AiSettings(workspace_id=workspace_id)
        session.add(row)
        session.flush()
    return row


def read(*, session: StoreSession, caller: Caller) -> AiSettings:
    require(caller, Action.read_workspace)
    return get(session, caller.workspace_id)


@dataclass(frozen=True)
class Destination:
    """Where a provider's requests go, as a receipt states it."""

    provider: str
    host: str
    region: str
    self_hosted: bool


def destination(row: AiSettings) -> Destination:
    if row.provider == "local":
        return Destination("local", "this server", "this server", False)
    if row.base_url:
        host = urlparse(row.base_url).hostname or row.base_url
        return Destination(row.provider, host, "self-hosted", True)
    return Destination(row.provider, PUBLIC_HOSTS[row.provider], "US", False)


def api_key(secret_key: str, row: AiSettings) -> str:
    return crypto.decrypt(secret_key, row.api_key_encrypted) if row.api_key_encrypted else ""


def _snapshot(row: AiSettings) -> dict[str, Any]:
    data = {name: getattr(row, name) for name in AUDITED}
    data["api_key"] = "set" if row.api_key_encrypted else "not set"  # the key itself is never written anywhere
    return data


def update(*, session: StoreSession, caller: Caller, secret_key: str, changes: dict[str, Any]) -> AiSettings:
    """Apply an admin's changes; `api_key` is write-only (empty string clears it)."""
    require(caller, Action.manage_settings)
    row = get(session, caller.workspace_id)
    before = _snapshot(row)
    changes = dict(changes)
    if "provider" in changes and changes["provider"] not in PROVIDERS:
        raise Invalid(f"Unknown provider; use one of {', '.join(PROVIDERS)}.", code="invalid_provider")
    if changes.get("base_url"):
        parsed = urlparse(changes["base_url"])
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise Invalid("base_url must be an http(s) URL.", code="invalid_base_url")
    if len(changes.get("custom_instructions") or "") > MAX_INSTRUCTIONS:
        raise Invalid(f"Custom instructions are limited to {MAX_INSTRUCTIONS} characters.", code="too_long")
    sql_changes = {SQL_FIELDS[name]: changes.pop(name) for name in list(changes) if name in SQL_FIELDS}
    new_key = changes.pop("api_key", None)
    if new_key is not None:
        row.api_key_encrypted = crypto.encrypt(secret_key, new_key) if new_key else ""
    for name, value in changes.items():
        if name in AUDITED:
            setattr(row, name, value)
    provider = row.provider
    if provider != "local" and not row.api_key_encrypted and not row.base_url:
        raise Invalid(f"The {provider} provider needs an API key.", code="api_key_required")
    row.updated_at = utcnow()
    after = _snapshot(row)
    if new_key is not None:
        after["api_key"] = "replaced" if new_key else "cleared"
    changed_before = {k: v for k, v in before.items() if after.get(k) != v}
    changed_after = {k: after[k] for k in changed_before}
    if changed_before:
        audit.record(session, caller, "settings.ai", caller.workspace_id, before=changed_before, after=changed_after)
    if sql_changes:
        sql_settings.update(session=session, caller=caller, changes=sql_changes)
    session.flush()
    return row
