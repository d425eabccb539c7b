"""HTTP routes for running SQL, the query log and integration permissions."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from datadesk import waiting
from datadesk.catalog import permissions
from datadesk.deps import CallerDep, SessionDep, SettingsDep
from datadesk.http_errors import error_response
from datadesk.sql import schemas, service
from datadesk.sql import settings as sql_settings
from datadesk.sql.models import SqlSettings

router = APIRouter()


@router.post("/sql", tags=["sql"], response_model=schemas.SqlOut)
async def run_sql(
    body: schemas.SqlIn, request: Request, session: SessionDep, caller: CallerDep, settings: SettingsDep
) -> schemas.SqlOut | JSONResponse:
    outcome = await waiting.run(
        request,
        partial(
            service.run,
            session=session,
            caller=caller,
            settings=settings,
            integration_id=body.integration_id,
            sql=body.sql,
            limit=body.limit,
            max_bytes=body.max_bytes,
            source="api",
        ),
    )
    if outcome.error is not None:
        # Returned, not raised, so the query log entry commits with the refusal.
        return error_response(outcome.error.status, outcome.error.code, outcome.error.message)
    return schemas.SqlOut(
        columns=outcome.columns,
        rows=outcome.rows,
        row_count=outcome.row_count,
        truncated=outcome.truncated,
        duration_ms=outcome.duration_ms,
    )


def _settings_out(row: SqlSettings) -> schemas.SqlSettingsOut:
    return schemas.SqlSettingsOut.model_validate(row, from_attributes=True)


@router.get("/settings/sql", tags=["sql"])
def get_settings(session: SessionDep, caller: CallerDep) -> schemas.SqlSettingsOut:
    return _settings_out(sql_settings.read(session=session, caller=caller))


@router.put("/settings/sql", tags=["sql"])
def put_settings(body: schemas.SqlSettingsIn, session: SessionDep, caller: CallerDep) -> schemas.SqlSettingsOut:
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    return _settings_out(sql_settings.update(session=session, caller=caller, changes=changes))


@router.get("/sql/runs", tags=["sql"])
def list_runs(
    session: SessionDep,
    caller: CallerDep,
    all: Annotated[bool, Query(description="Everyone's runs (admins only).")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> schemas.QueryRunList:
    runs = service.list_runs(session=session, caller=caller, limit=limit, everyone=all)
    return schemas.QueryRunList(runs=[schemas.QueryRunOut.model_validate(r, from_attributes=True) for r in runs])


@router.get("/integrations/{integration_id}/permissions", tags=["integrations"])
def get_permissions(integration_id: str, session: SessionDep, caller: CallerDep) -> schemas.PermissionsOut:
    return schemas.PermissionsOut(**permissions.read(session=session, caller=caller, integration_id=integration_id))


@router.put("/integrations/{integration_id}/permissions", tags=["integrations"])
def put_permissions(
    integration_id: str, body: schemas.Permissions, session: SessionDep, caller: CallerDep
) -> schemas.PermissionsOut:
    grants = {k: v for k, v in body.model_dump().items() if v is not None}
    result = permissions.replace(session=session, caller=caller, integration_id=integration_id, grants=grants)
    return schemas.PermissionsOut(**result)
