"""Admin page for the LLM audit log, filtered by person, provider and date."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from starlette.responses import Response

from datadesk.ai import audit
from datadesk.ai import settings as ai_settings
from datadesk.deps import SessionDep
from datadesk.identity import service as identity
from datadesk.web.admin.forms import AuditReader
from datadesk.web.render import render

router = APIRouter()


@router.get("/audit")
def audit_page(
    request: Request,
    session: SessionDep,
    caller: AuditReader,
    user_id: str = "",
    provider: str = "",
    since: str = "",
) -> Response:
    since_at = None
    error = ""
    if since:
        try:
            since_at = datetime.strptime(since, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            error = "Give the date as YYYY-MM-DD."
    entries = audit.entries(
        session=session, caller=caller, user_id=user_id or None, provider=provider or None, since=since_at, limit=500
    )
    emails = {u.id: u.email for _, u, _ in identity.list_members(session=session, caller=caller)}
    context = {
        "entries": entries,
        "emails": emails,
        "providers": ai_settings.PROVIDERS,
        "filters": {"user_id": user_id, "provider": provider, "since": since},
        "error": error,
    }
    return render(request, "admin/audit.html", context)
