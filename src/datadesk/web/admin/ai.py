"""Admin page for the workspace's AI settings and the SQL limits saved with them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from pydantic import ValidationError
from starlette.responses import Response

from datadesk.access.caller import Caller
from datadesk.ai import schemas
from datadesk.ai import settings as ai_settings
from datadesk.ai.models import AiSettings
from datadesk.db import StoreSession
from datadesk.deps import SessionDep, SettingsDep
from datadesk.errors import Invalid
from datadesk.sql import settings as sql_settings
from datadesk.web.admin.forms import SettingsAdmin, attempt
from datadesk.web.render import render, see_other, split_words

router = APIRouter()


def _regions() -> dict[str, ai_settings.Destination]:
    """Where each provider sends requests when no base URL is set (the receipt's wording)."""
    return {p: ai_settings.destination(AiSettings(provider=p, base_url="")) for p in ai_settings.PROVIDERS}


def _ai_page(
    request: Request, session: StoreSession, caller: Caller, row: AiSettings, error: str = "", notice: str = ""
) -> Response:
    context = {
        "s": row,
        "sql": sql_settings.read(session=session, caller=caller),
        "where": ai_settings.destination(row),
        "regions": _regions(),
        "key_set": bool(row.api_key_encrypted),
        "error": error,
        "notice": notice,
    }
    return render(request, "admin/ai.html", context, status=400 if error else 200)


@router.get("/ai")
def ai_settings_page(request: Request, session: SessionDep, caller: SettingsAdmin, saved: str = "") -> Response:
    row = ai_settings.read(session=session, caller=caller)
    return _ai_page(request, session, caller, row, notice="Saved." if saved else "")


def _int(value: str, name: str) -> int:
    try:
        return int(value.strip())
    except ValueError as exc:
        raise Invalid(f"{name} must be a whole number.") from exc


@router.post("/ai")
def save_ai_settings(
    request: Request,
    session: SessionDep,
    caller: SettingsAdmin,
    settings: SettingsDep,
    provider: Annotated[str, Form(max_length=16)] = "local",
    model: Annotated[str, Form(max_length=200)] = "",
    base_url: Annotated[str, Form(max_length=500)] = "",
    api_key: Annotated[str, Form(max_length=500)] = "",
    clear_api_key: Annotated[str, Form(max_length=8)] = "",
    enabled: Annotated[str, Form(max_length=8)] = "",
    run_sql_enabled: Annotated[str, Form(max_length=8)] = "",
    sensitive_to_self_hosted: Annotated[str, Form(max_length=8)] = "",
    custom_instructions: Annotated[str, Form(max_length=8000)] = "",
    prompt_retention_days: Annotated[str, Form(max_length=12)] = "90",
    sensitive_tags: Annotated[str, Form(max_length=2000)] = "",
    daily_token_budget: Annotated[str, Form(max_length=12)] = "0",
    daily_token_budget_per_person: Annotated[str, Form(max_length=12)] = "",
    questions_per_minute: Annotated[str, Form(max_length=12)] = "",
    question_deadline_s: Annotated[str, Form(max_length=12)] = "",
    sql_row_cap: Annotated[str, Form(max_length=12)] = "1000",
    sql_byte_cap: Annotated[str, Form(max_length=12)] = "5000000",
    sql_timeout_seconds: Annotated[str, Form(max_length=12)] = "30",
) -> Response:
    def change() -> None:
        fields: dict[str, Any] = {
            "enabled": bool(enabled),
            "provider": provider,
            "model": model.strip(),
            "base_url": base_url.strip(),
            "run_sql_enabled": bool(run_sql_enabled),
            "sensitive_to_self_hosted": bool(sensitive_to_self_hosted),
            "custom_instructions": custom_instructions,
            "prompt_retention_days": _int(prompt_retention_days, "Retention"),
            "sensitive_tags": split_words(sensitive_tags),
            "daily_token_budget": _int(daily_token_budget, "The daily token budget"),
            "sql_row_cap": _int(sql_row_cap, "The row cap"),
            "sql_byte_cap": _int(sql_byte_cap, "The result size cap"),
            "sql_timeout_seconds": _int(sql_timeout_seconds, "The SQL time limit"),
        }
        limits = {
            "daily_token_budget_per_person": (daily_token_budget_per_person, "The daily token budget per person"),
            "questions_per_minute": (questions_per_minute, "Questions per minute"),
            "question_deadline_s": (question_deadline_s, "The question deadline"),
        }
        for name, (value, label) in limits.items():
            if value.strip():  # a form without the field leaves the limit as it is
                fields[name] = _int(value, label)
        if api_key:
            fields["api_key"] = api_key  # write-only: a blank field keeps the stored key
        elif clear_api_key:
            fields["api_key"] = ""
        try:
            body = schemas.AiSettingsIn(**fields)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())).replace("_", " ")
            raise Invalid(f"{where}: {first.get('msg')}.") from exc
        ai_settings.update(
            session=session, caller=caller, secret_key=settings.secret_key, changes=body.model_dump(exclude_unset=True)
        )

    error = attempt(session, change)
    if error:
        return _ai_page(request, session, caller, ai_settings.read(session=session, caller=caller), error=error)
    return see_other(request, "/admin/ai?saved=1")
