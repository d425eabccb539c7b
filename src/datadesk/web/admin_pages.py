"""Admin pages: members and roles, Teams, integrations (sync, permissions), AI settings, the LLM audit log.

Each page asks access.policy whether the caller may manage that area; the services check again on every
write. Viewers and editors get the 403 page and never see links here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from pydantic import ValidationError
from starlette.responses import Response

from datadesk.access.caller import Caller
from datadesk.access.policy import Action, require
from datadesk.ai import audit, schemas
from datadesk.ai import settings as ai_settings
from datadesk.ai.models import AiSettings
from datadesk.catalog import integrations, sync
from datadesk.catalog.models import INTEGRATION_TYPES
from datadesk.db import StoreSession
from datadesk.deps import SessionDep, SettingsDep
from datadesk.errors import DomainError, Invalid
from datadesk.identity import service as identity
from datadesk.identity.models import Role, TeamVisibility
from datadesk.jobs import tasks
from datadesk.sql import permissions
from datadesk.sql import settings as sql_settings
from datadesk.web.render import is_htmx, render, see_other, split_words
from datadesk.web.session import PageCaller

router = APIRouter(prefix="/admin")

ROLES = [r.value for r in Role]
FORM_ERRORS = (400, 409, 422)


def allowed(action: Action) -> Callable[[Caller], Caller]:
    """A dependency: the signed-in caller, if access.policy lets them do `action`; the 403 page otherwise."""

    def check(caller: PageCaller) -> Caller:
        require(caller, action)
        return caller

    return check


MembersAdmin = Annotated[Caller, Depends(allowed(Action.manage_members))]
TeamsAdmin = Annotated[Caller, Depends(allowed(Action.manage_teams))]
IntegrationsAdmin = Annotated[Caller, Depends(allowed(Action.manage_integrations))]
SettingsAdmin = Annotated[Caller, Depends(allowed(Action.manage_settings))]
AuditReader = Annotated[Caller, Depends(allowed(Action.read_audit))]
Id = Annotated[str, Form(max_length=64)]
Ids = Annotated[list[str] | None, Form()]


def _attempt(session: StoreSession, change: Callable[[], Any]) -> str:
    """Run a change; a refusal of the input (not of the person) becomes a message for the form."""
    try:
        with session.begin_nested():
            change()
    except DomainError as exc:
        if exc.status not in FORM_ERRORS:
            raise
        return exc.message
    return ""


@router.get("")
def admin_home(request: Request, caller: PageCaller) -> Response:
    require(caller, Action.manage_members)
    return see_other(request, "/admin/members")


# --- members ----------------------------------------------------------------------------------


def _members_page(
    request: Request, session: StoreSession, caller: Caller, error: str = "", form: dict[str, str] | None = None
) -> Response:
    members = identity.list_members(session=session, caller=caller)
    teams = {t.id: t.name for t, _ in identity.list_teams(session=session, caller=caller)}
    context = {"members": members, "team_names": teams, "roles": ROLES, "error": error, "form": form or {}}
    return render(request, "admin/members.html", context, status=400 if error else 200)


@router.get("/members")
def members(request: Request, session: SessionDep, caller: MembersAdmin) -> Response:
    return _members_page(request, session, caller)


@router.post("/members")
def add_member(
    request: Request,
    session: SessionDep,
    caller: MembersAdmin,
    email: Annotated[str, Form(max_length=320)],
    role: Annotated[str, Form(max_length=16)] = "viewer",
    password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    def change() -> None:
        if role not in ROLES:
            raise Invalid("Pick a role: admin, editor or viewer.")
        if password and len(password) < 8:
            raise Invalid("A password needs at least 8 characters.")
        identity.add_member(session=session, caller=caller, email=email, role=Role(role), password=password or None)

    error = _attempt(session, change)
    if error:
        return _members_page(request, session, caller, error, {"email": email, "role": role})
    return see_other(request, "/admin/members")


@router.post("/members/{user_id}/role")
def set_role(
    request: Request,
    user_id: str,
    session: SessionDep,
    caller: MembersAdmin,
    role: Annotated[str, Form(max_length=16)],
) -> Response:
    error = _attempt(
        session,
        lambda: identity.set_role(
            session=session, caller=caller, user_id=user_id, role=Role(role) if role in ROLES else Role.viewer
        ),
    )
    return _members_page(request, session, caller, error) if error else see_other(request, "/admin/members")


@router.post("/members/{user_id}/remove")
def remove_member(request: Request, user_id: str, session: SessionDep, caller: MembersAdmin) -> Response:
    error = _attempt(session, lambda: identity.remove_member(session=session, caller=caller, user_id=user_id))
    return _members_page(request, session, caller, error) if error else see_other(request, "/admin/members")


# --- Teams ------------------------------------------------------------------------------------


def _teams_page(request: Request, session: StoreSession, caller: Caller, error: str = "") -> Response:
    teams = identity.list_teams(session=session, caller=caller)
    emails = {u.id: u.email for _, u, _ in identity.list_members(session=session, caller=caller)}
    context = {"teams": teams, "emails": emails, "error": error}
    return render(request, "admin/teams.html", context, status=400 if error else 200)


@router.get("/teams")
def teams(request: Request, session: SessionDep, caller: TeamsAdmin) -> Response:
    return _teams_page(request, session, caller)


Visibility = Annotated[str, Form(max_length=16)]


def _visibility(value: str) -> TeamVisibility:
    if value not in {v.value for v in TeamVisibility}:
        raise Invalid("Pick public or private.")
    return TeamVisibility(value)


@router.post("/teams")
def create_team(
    request: Request,
    session: SessionDep,
    caller: TeamsAdmin,
    name: Annotated[str, Form(max_length=200)],
    visibility: Visibility = TeamVisibility.public.value,
) -> Response:
    def change() -> None:
        if not name.strip():
            raise Invalid("Give the Team a name.")
        identity.create_team(session=session, caller=caller, name=name, visibility=_visibility(visibility))

    error = _attempt(session, change)
    return _teams_page(request, session, caller, error) if error else see_other(request, "/admin/teams")


@router.post("/teams/{team_id}/visibility")
def set_team_visibility(
    request: Request, team_id: str, session: SessionDep, caller: TeamsAdmin, visibility: Visibility
) -> Response:
    error = _attempt(
        session,
        lambda: identity.update_team(
            session=session, caller=caller, team_id=team_id, visibility=_visibility(visibility)
        ),
    )
    return _teams_page(request, session, caller, error) if error else see_other(request, f"/admin/teams#t-{team_id}")


@router.post("/teams/{team_id}/delete")
def delete_team(request: Request, team_id: str, session: SessionDep, caller: TeamsAdmin) -> Response:
    error = _attempt(session, lambda: identity.delete_team(session=session, caller=caller, team_id=team_id))
    return _teams_page(request, session, caller, error) if error else see_other(request, "/admin/teams")


@router.post("/teams/{team_id}/members")
def add_team_member(request: Request, team_id: str, session: SessionDep, caller: TeamsAdmin, user_id: Id) -> Response:
    error = _attempt(
        session, lambda: identity.add_team_member(session=session, caller=caller, team_id=team_id, user_id=user_id)
    )
    return _teams_page(request, session, caller, error) if error else see_other(request, f"/admin/teams#t-{team_id}")


@router.post("/teams/{team_id}/members/{user_id}/remove")
def remove_team_member(
    request: Request, team_id: str, user_id: str, session: SessionDep, caller: TeamsAdmin
) -> Response:
    identity.remove_team_member(session=session, caller=caller, team_id=team_id, user_id=user_id)
    return see_other(request, f"/admin/teams#t-{team_id}")


# --- integrations -----------------------------------------------------------------------------


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
    listed = [
        {
            "integration": i,
            "team_ids": team_ids,
            "config": integrations.masked_config(secret_key, i),
            "last_run": next(iter(sync.list_runs(session=session, caller=caller, integration_id=i.id, limit=1)), None),
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
        created.append(integration.id)

    error = _attempt(session, change)
    if error:
        # The typed URL may hold a password: it is never sent back into the page.
        form = {"name": name, "type": type, **dbt}
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
        "config": integrations.masked_config(secret_key, integration),
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
    return render(request, "admin/integration.html", context, status=400 if extra.get("error") else 200)


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


@router.post("/integrations/{integration_id}/schedule")
def set_integration_schedule(
    request: Request,
    integration_id: str,
    session: SessionDep,
    caller: IntegrationsAdmin,
    settings: SettingsDep,
    schedule: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    error = _attempt(
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
    error = _attempt(
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
    error = _attempt(
        session,
        lambda: permissions.replace(session=session, caller=caller, integration_id=integration_id, grants=grants),
    )
    if error:
        return _integration_page(request, session, caller, settings.secret_key, integration_id, error=error)
    return see_other(request, f"/admin/integrations/{integration_id}?saved=1#access")


@router.post("/integrations/{integration_id}/sync")
def start_sync(request: Request, integration_id: str, session: SessionDep, caller: IntegrationsAdmin) -> Response:
    run, _ = tasks.queue_sync(session, caller, integration_id, trigger="manual", defer=request.app.state.defer_sync)
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


# --- AI settings ------------------------------------------------------------------------------


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

    error = _attempt(session, change)
    if error:
        return _ai_page(request, session, caller, ai_settings.read(session=session, caller=caller), error=error)
    return see_other(request, "/admin/ai?saved=1")


# --- the LLM audit log ------------------------------------------------------------------------


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
