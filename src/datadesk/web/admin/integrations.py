"""Admin pages for integrations: connect, schedule, Teams, query permissions, syncs and removal."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from starlette.responses import Response

from datadesk.access.caller import Caller
from datadesk.catalog import integrations, permissions, sync
from datadesk.catalog.models import INTEGRATION_TYPES
from datadesk.connectors.registry import MASK, SECRET_KEYS, mask_url
from datadesk.db import StoreSession
from datadesk.deps import SessionDep, SettingsDep
from datadesk.errors import Invalid
from datadesk.identity import service as identity
from datadesk.sql import settings as sql_settings
from datadesk.web.admin.forms import ROLES, Ids, IntegrationsAdmin, attempt
from datadesk.web.render import is_htmx, render, see_other

router = APIRouter()


def _integrations_page(
    request: Request,
    session: StoreSession,
    caller: Caller,
    secret_key: str,
    error: str = "",
    form: dict[str, Any] | None = None,
) -> Response:
    rows = integrations.list_integrations(session=session, caller=caller)
    teams = [t for t, _ in identity.list_teams(session=session, caller=caller)]
    last_runs = sync.last_runs(session=session, caller=caller)
    listed = [
        {
            "integration": i,
            "team_ids": team_ids,
            "config": integrations.masked_config(secret_key, i),
            "last_run": last_runs.get(i.id),
        }
        for i, team_ids in rows
    ]
    context = {
        "integrations": listed,
        "teams": teams,
        "team_names": {t.id: t.name for t in teams},
        "types": INTEGRATION_TYPES,
        "error": error,
        "form": form or {},
    }
    return render(request, "admin/integrations.html", context, status=400 if error else 200)


@router.get("/integrations")
def integrations_page(
    request: Request, session: SessionDep, caller: IntegrationsAdmin, settings: SettingsDep
) -> Response:
    return _integrations_page(request, session, caller, settings.secret_key)


@router.post("/integrations")
def create_integration(
    request: Request,
    session: SessionDep,
    caller: IntegrationsAdmin,
    settings: SettingsDep,
    name: Annotated[str, Form(max_length=200)],
    type: Annotated[str, Form(max_length=16)],
    url: Annotated[str, Form(max_length=2000)] = "",
    manifest_path: Annotated[str, Form(max_length=2000)] = "",
    catalog_path: Annotated[str, Form(max_length=2000)] = "",
    run_results_path: Annotated[str, Form(max_length=2000)] = "",
    team_id: Ids = None,
    grant_admins: Annotated[bool, Form()] = False,  # the box is ticked by default; unticked, it posts nothing
) -> Response:
    dbt = {"manifest_path": manifest_path, "catalog_path": catalog_path, "run_results_path": run_results_path}
    config = dbt if type == "dbt" else {"url": url}
    created: list[str] = []

    def change() -> None:
        if not name.strip():
            raise Invalid("Give the integration a name.")
        integration = integrations.create_integration(
            session=session,
            caller=caller,
            settings=settings,
            name=name.strip(),
            type=type,
            config={k: v.strip() for k, v in config.items() if v.strip()},
            team_ids=team_id or [],
        )
        if grant_admins:
            permissions.grant_admins_query(session=session, caller=caller, integration_id=integration.id)
        created.append(integration.id)

    error = attempt(session, change)
    if error:
        # The typed URL may hold a password: it is never sent back into the page.
        form = {"name": name, "type": type, **dbt, "grant_admins": grant_admins}
        return _integrations_page(request, session, caller, settings.secret_key, error, form)
    return see_other(request, f"/admin/integrations/{created[0]}?created=1")


def _integration_page(
    request: Request, session: StoreSession, caller: Caller, secret_key: str, integration_id: str, **extra: Any
) -> Response:
    integration = integrations.get_integration(session=session, caller=caller, integration_id=integration_id)
    teams = [t for t, _ in identity.list_teams(session=session, caller=caller)]
    members = identity.list_members(session=session, caller=caller)
    grants = permissions.read(session=session, caller=caller, integration_id=integration.id)
    runs = sync.list_runs(session=session, caller=caller, integration_id=integration.id)
    principals = (
        [(f"role:{r}", f"Everyone with the {r} role") for r in ROLES]
        + [(f"team:{t.id}", f"Team {t.name}") for t in teams]
        + [(f"user:{u.id}", u.email) for _, u, _ in members]
    )
    context = {
        "i": integration,
        "connection": integrations.masked_config(secret_key, integration),  # a refused edit shows what was typed
        "team_ids": integrations.team_ids_of(session, integration.id),
        "teams": teams,
        "grants": grants,
        "principals": principals,
        "runs": runs,
        "active": next((r for r in runs if r.status in ("queued", "running")), None),
        "queryable": integration.type != "dbt",
        "run_sql_enabled": sql_settings.read(session=session, caller=caller).run_sql_enabled,
        **extra,
    }
    failed = extra.get("error") or extra.get("connection_error")
    return render(request, "admin/integration.html", context, status=400 if failed else 200)


@router.get("/integrations/{integration_id}")
def integration_page(
    request: Request,
    integration_id: str,
    session: SessionDep,
    caller: IntegrationsAdmin,
    settings: SettingsDep,
    created: str = "",
    saved: str = "",
) -> Response:
    notice = "Connected. Sync it to bring its metadata in." if created else ("Saved." if saved else "")
    return _integration_page(request, session, caller, settings.secret_key, integration_id, notice=notice)


@router.post("/integrations/{integration_id}/connection")
def edit_connection(
    request: Request,
    integration_id: str,
    session: SessionDep,
    caller: IntegrationsAdmin,
    settings: SettingsDep,
    url: Annotated[str, Form(max_length=2000)] = "",
    manifest_path: Annotated[str, Form(max_length=2000)] = "",
    catalog_path: Annotated[str, Form(max_length=2000)] = "",
    run_results_path: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Re-point an integration; the service tests the new connection first and saves nothing if it fails."""
    typed = {
        "url": url,
        "manifest_path": manifest_path,
        "catalog_path": catalog_path,
        "run_results_path": run_results_path,
    }
    config = {k: v.strip() for k, v in typed.items() if v.strip()}  # the service refuses keys foreign to the type
    error = attempt(
        session,
        lambda: integrations.update_integration(
            session=session, caller=caller, settings=settings, integration_id=integration_id, config=config
        ),
    )
    if error:
        shown, again = _typed_back(url)
        return _integration_page(
            request,
            session,
            caller,
            settings.secret_key,
            integration_id,
            connection_error=error + again,
            connection={**typed, "url": shown},
        )
    return see_other(request, f"/admin/integrations/{integration_id}?saved=1#connection")


def _typed_back(url: str) -> tuple[str, str]:
    """The typed URL to show again after a refusal, and a note: *** is kept (it keeps the stored password), a new
    password never echoed."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return mask_url(url.split("?", 1)[0]), ""
    secrets = [key for key in parsed.query if SECRET_KEYS.search(key)]
    if parsed.password in (None, MASK) and not secrets:
        return url, ""
    shown = parsed._replace(password=MASK if parsed.password == MASK else None).difference_update_query(secrets)
    return shown.render_as_string(hide_password=True), " Type the password again."  # *** rendered as typed


@router.post("/integrations/{integration_id}/schedule")
def set_integration_schedule(
    request: Request,
    integration_id: str,
    session: SessionDep,
    caller: IntegrationsAdmin,
    settings: SettingsDep,
    schedule: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    error = attempt(
        session,
        lambda: integrations.update_integration(
            session=session, caller=caller, settings=settings, integration_id=integration_id, schedule=schedule
        ),
    )
    if error:
        return _integration_page(request, session, caller, settings.secret_key, integration_id, error=error)
    return see_other(request, f"/admin/integrations/{integration_id}?saved=1#sync")


@router.post("/integrations/{integration_id}/teams")
def set_integration_teams(
    request: Request,
    integration_id: str,
    session: SessionDep,
    caller: IntegrationsAdmin,
    settings: SettingsDep,
    team_id: Ids = None,
) -> Response:
    error = attempt(
        session,
        lambda: integrations.update_integration(
            session=session,
            caller=caller,
            settings=settings,
            integration_id=integration_id,
            team_ids=team_id or [],
        ),
    )
    if error:
        return _integration_page(request, session, caller, settings.secret_key, integration_id, error=error)
    return see_other(request, f"/admin/integrations/{integration_id}?saved=1")


@router.post("/integrations/{integration_id}/permissions")
def set_permissions(
    request: Request,
    integration_id: str,
    session: SessionDep,
    caller: IntegrationsAdmin,
    settings: SettingsDep,
    query_access: Ids = None,
    sensitive_access: Ids = None,
) -> Response:
    grants = {"query_access": query_access or [], "sensitive_access": sensitive_access or []}
    error = attempt(
        session,
        lambda: permissions.replace(session=session, caller=caller, integration_id=integration_id, grants=grants),
    )
    if error:
        return _integration_page(request, session, caller, settings.secret_key, integration_id, error=error)
    return see_other(request, f"/admin/integrations/{integration_id}?saved=1#access")


@router.post("/integrations/{integration_id}/sync")
def start_sync(request: Request, integration_id: str, session: SessionDep, caller: IntegrationsAdmin) -> Response:
    run, _ = sync.queue_sync(session, caller, integration_id, trigger="manual", defer=request.app.state.defer_sync)
    if is_htmx(request):
        return render(request, "admin/_sync_run.html", {"i_id": integration_id, "run": run})
    return see_other(request, f"/admin/integrations/{integration_id}#sync")


@router.get("/integrations/{integration_id}/syncs/{run_id}")
def sync_status(
    request: Request, integration_id: str, run_id: str, session: SessionDep, caller: IntegrationsAdmin
) -> Response:
    """A run's progress; the fragment polls itself while the run is queued or running."""
    run = sync.get_run(session=session, caller=caller, integration_id=integration_id, run_id=run_id)
    return render(request, "admin/_sync_run.html", {"i_id": integration_id, "run": run})


@router.post("/integrations/{integration_id}/delete")
def delete_integration(
    request: Request, integration_id: str, session: SessionDep, caller: IntegrationsAdmin, settings: SettingsDep
) -> Response:
    integrations.delete_integration(
        session=session, caller=caller, secret_key=settings.secret_key, integration_id=integration_id
    )
    return see_other(request, "/admin/integrations")
