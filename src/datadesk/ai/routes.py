"""HTTP routes for AI settings, asking the assistant, prompt history and the LLM audit log."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from datadesk import waiting
from datadesk.ai import assistant, audit, history, schemas, streaming
from datadesk.ai import settings as ai_settings
from datadesk.ai.models import AiSettings
from datadesk.deps import CallerDep, SessionDep, SettingsDep
from datadesk.http_errors import error_response
from datadesk.sql import settings as sql_settings
from datadesk.sql.models import SqlSettings

router = APIRouter()


def settings_out(row: AiSettings, sql: SqlSettings) -> schemas.AiSettingsOut:
    where = ai_settings.destination(row)
    return schemas.AiSettingsOut(
        enabled=row.enabled,
        provider=row.provider,
        model=row.model,
        base_url=row.base_url,
        api_key_set=bool(row.api_key_encrypted),
        sensitive_to_self_hosted=row.sensitive_to_self_hosted,
        run_sql_enabled=sql.run_sql_enabled,
        custom_instructions=row.custom_instructions,
        prompt_retention_days=row.prompt_retention_days,
        sensitive_tags=list(sql.sensitive_tags),
        daily_token_budget=row.daily_token_budget,
        daily_token_budget_per_person=row.daily_token_budget_per_person,
        questions_per_minute=row.questions_per_minute,
        question_deadline_s=row.question_deadline_s,
        sql_row_cap=sql.row_cap,
        sql_byte_cap=sql.byte_cap,
        sql_timeout_seconds=sql.timeout_seconds,
        host=where.host,
        region=where.region,
    )


@router.get("/settings/ai", tags=["ai"])
def get_settings(session: SessionDep, caller: CallerDep) -> schemas.AiSettingsOut:
    row = ai_settings.read(session=session, caller=caller)
    return settings_out(row, sql_settings.read(session=session, caller=caller))


@router.put("/settings/ai", tags=["ai"])
def put_settings(
    body: schemas.AiSettingsIn, session: SessionDep, caller: CallerDep, settings: SettingsDep
) -> schemas.AiSettingsOut:
    changes = body.model_dump(exclude_unset=True)
    row = ai_settings.update(session=session, caller=caller, secret_key=settings.secret_key, changes=changes)
    return settings_out(row, sql_settings.read(session=session, caller=caller))


@router.post(
    "/ai/ask", tags=["ai"], response_model=schemas.AskOut, responses={200: {"content": {"text/event-stream": {}}}}
)
async def ask(
    body: schemas.AskIn, request: Request, session: SessionDep, caller: CallerDep, settings: SettingsDep
) -> Response:
    if "text/event-stream" in request.headers.get("accept", ""):
        return streaming.stream_answer(request.app.state.sessions, caller, settings, body)
    answer = await waiting.run(
        request,
        partial(
            assistant.ask,
            session=session,
            caller=caller,
            settings=settings,
            question=body.question,
            conversation_id=body.conversation_id,
        ),
    )
    if answer.error is not None:
        # Returned, not raised: the failed prompt and the audit entries commit with it.
        retry_after = getattr(answer.error, "retry_after", None)
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return error_response(answer.error.status, answer.error.code, answer.error.message, headers)
    return JSONResponse(schemas.answer_out(answer.prompt).model_dump(mode="json"))


@router.get("/ai/prompts", tags=["ai"])
def list_prompts(
    session: SessionDep, caller: CallerDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> schemas.PromptList:
    return schemas.PromptList(
        prompts=[schemas.prompt_out(p) for p in history.list_prompts(session=session, caller=caller, limit=limit)]
    )


@router.get("/ai/prompts/export", tags=["ai"])
def export_prompts(session: SessionDep, caller: CallerDep) -> JSONResponse:
    return JSONResponse(
        {"prompts": history.export(session=session, caller=caller)},
        headers={"Content-Disposition": 'attachment; filename="datadesk-prompts.json"'},
    )


@router.get("/ai/prompts/{prompt_id}", tags=["ai"])
def get_prompt(prompt_id: str, session: SessionDep, caller: CallerDep) -> schemas.PromptOut:
    return schemas.prompt_out(history.get_prompt(session=session, caller=caller, prompt_id=prompt_id))


@router.delete("/ai/prompts/{prompt_id}", status_code=204, tags=["ai"])
def delete_prompt(prompt_id: str, session: SessionDep, caller: CallerDep) -> Response:
    history.delete_prompt(session=session, caller=caller, prompt_id=prompt_id)
    return Response(status_code=204)


@router.delete("/ai/prompts", status_code=204, tags=["ai"])
def delete_all_prompts(session: SessionDep, caller: CallerDep) -> Response:
    history.delete_all(session=session, caller=caller)
    return Response(status_code=204)


@router.get("/audit/llm", tags=["ai"])
def llm_audit(
    session: SessionDep,
    caller: CallerDep,
    user_id: str | None = None,
    provider: str | None = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> schemas.LlmAudit:
    rows = audit.entries(session=session, caller=caller, user_id=user_id, provider=provider, since=since, limit=limit)
    return schemas.LlmAudit(entries=[schemas.LlmCallOut.model_validate(r, from_attributes=True) for r in rows])
