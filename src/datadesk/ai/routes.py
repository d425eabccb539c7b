"""HTTP routes for AI settings, asking the assistant, prompt history and the LLM audit log."""

from __future__ import annotations

from fastapi import APIRouter

from datadesk.ai import schemas
from datadesk.ai import settings as ai_settings
from datadesk.ai.models import AiSettings
from datadesk.deps import CallerDep, SessionDep, SettingsDep

router = APIRouter()


def settings_out(row: AiSettings) -> schemas.AiSettingsOut:
    where = ai_settings.destination(row)
    return schemas.AiSettingsOut(
        enabled=row.enabled,
        provider=row.provider,
        model=row.model,
        base_url=row.base_url,
        api_key_set=bool(row.api_key_encrypted),
        sensitive_to_self_hosted=row.sensitive_to_self_hosted,
        run_sql_enabled=row.run_sql_enabled,
        custom_instructions=row.custom_instructions,
        prompt_retention_days=row.prompt_retention_days,
        sensitive_tags=list(row.sensitive_tags),
        daily_token_budget=row.daily_token_budget,
        sql_row_cap=row.sql_row_cap,
        sql_timeout_seconds=row.sql_timeout_seconds,
        host=where.host,
        region=where.region,
    )


@router.get("/settings/ai", tags=["ai"])
def get_settings(session: SessionDep, caller: CallerDep) -> schemas.AiSettingsOut:
    return settings_out(ai_settings.read(session=session, caller=caller))


@router.put("/settings/ai", tags=["ai"])
def put_settings(
    body: schemas.AiSettingsIn, session: SessionDep, caller: CallerDep, settings: SettingsDep
) -> schemas.AiSettingsOut:
    changes = body.model_dump(exclude_unset=True)
    row = ai_settings.update(session=session, caller=caller, secret_key=settings.secret_key, changes=changes)
    return settings_out(row)
