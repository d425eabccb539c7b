"""The demo workspace on the embedded store: Teams, members and a synced, documented sample warehouse."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from datadesk.access.caller import Caller
from datadesk.ai import settings as ai_settings
from datadesk.catalog import integrations, permissions, service, sync
from datadesk.catalog.models import Resource
from datadesk.db import StoreSession, transaction
from datadesk.demo_data import content, warehouse
from datadesk.identity import service as identity
from datadesk.identity.models import Role, Team, Workspace
from datadesk.settings import Settings

SLUG = "demo"
TEAMS = ("Finance", "Marketing", "Engineering")


@dataclass(frozen=True)
class Login:
    workspace: str
    email: str
    password: str
    role: str
    teams: tuple[str, ...]


# Printed at start-up; the demo serves on 127.0.0.1 only unless told otherwise.
LOGINS = (
    Login(SLUG, content.ADMIN, "demo-admin-pass", "admin", ("Everyone", *TEAMS)),
    Login(SLUG, content.FIONA, "demo-fiona-pass", "editor", ("Everyone", "Finance")),
    Login(SLUG, content.MARK, "demo-mark-pass", "viewer", ("Everyone", "Marketing")),
)


# A server listening on every interface is reached on this machine through loopback.
WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1"}


def login_url(host: str, port: int) -> str:
    """The demo's login page with its workspace filled in, as printed at start-up."""
    host = WILDCARDS.get(host, host)
    netloc = f"[{host}]" if ":" in host else host
    return f"http://{netloc}:{port}/login?{urlencode({'workspace': SLUG})}"


def ensure(sessions: sessionmaker[StoreSession], settings: Settings, progress: Console) -> list[Login]:
    """Create the demo workspace once, with its synced and documented catalog; later runs keep it."""
    with transaction(sessions) as session:
        if session.scalar(select(Workspace.id).where(Workspace.slug == SLUG)) is not None:
            return list(LOGINS)
    progress.print("Building the sample warehouse...")
    files = warehouse.build(warehouse_folder(settings))
    with transaction(sessions) as session:
        workspace_id = _create_people(session)
        operator = _operator(session, workspace_id)
        dwh = integrations.create_integration(
            session=session,
            caller=operator,
            settings=settings,
            name="Acme warehouse",
            type="duckdb",
            config={"url": f"duckdb:///{files.duckdb_path}"},
            team_ids=[],
        ).id
        dbt = integrations.create_integration(
            session=session,
            caller=operator,
            settings=settings,
            name="acme_analytics (dbt)",
            type="dbt",
            config={
                "manifest_path": str(files.manifest_path),
                "catalog_path": str(files.catalog_path),
                "run_results_path": str(files.run_results_path),
            },
            team_ids=[],
        ).id
    for integration_id, label in ((dwh, "warehouse"), (dbt, "dbt project")):
        progress.print(f"Syncing the {label}...")
        run, _ = sync.run_now(sessions, settings, operator, integration_id)
        if run.status != "succeeded":
            raise RuntimeError(f"the demo {label} did not sync: {run.error}")
    progress.print("Adding documentation, glossary and access rules...")
    with transaction(sessions, workspace_id) as session:
        operator = _operator(session, workspace_id)
        _document(session, operator, dwh)
        _allow_sql(session, operator, settings.secret_key, dwh)
    return list(LOGINS)


def warehouse_folder(settings: Settings) -> Path:
    """$DATADESK_HOME/sources/demo-warehouse, or the first sources folder's when that one is not allowed."""
    own = (settings.home / "sources").resolve()
    allowed = any(own == folder or folder in own.parents for folder in settings.sources_dirs)
    return (own if allowed else settings.sources_dirs[0]) / "demo-warehouse"


def _create_people(session: StoreSession) -> str:
    workspace = identity.create_workspace(session=session, slug=SLUG, name="Demo: Acme Analytics")
    session.seal(workspace.id)
    operator = Caller.operator(workspace.id)
    teams = {name: identity.create_team(session=session, caller=operator, name=name) for name in TEAMS}
    for login in LOGINS:
        _, user = identity.add_member(
            session=session, caller=operator, email=login.email, role=Role(login.role), password=login.password
        )
        for team_name in login.teams:
            if team_name in teams:
                identity.add_team_member(session=session, caller=operator, team_id=teams[team_name].id, user_id=user.id)
    return workspace.id


def _operator(session: StoreSession, workspace_id: str) -> Caller:
    session.seal(workspace_id)
    return Caller.operator(workspace_id, frozenset(session.scalars(select(Team.id))))


def _document(session: StoreSession, operator: Caller, warehouse_id: str) -> None:
    """Teams per schema, owners, tags, curated descriptions, glossary terms and documents."""
    resources = {
        r.qualified_name: r
        for r in session.scalars(
            select(Resource).where(Resource.integration_id == warehouse_id, Resource.deleted_at.is_(None))
        )
    }
    teams = {t.name: t.id for t in session.scalars(select(Team))}
    members = {u.email: u.id for _, u, _ in identity.list_members(session=session, caller=operator)}

    def owner(kind: str, name: str) -> tuple[str, str]:
        return (kind, members[name] if kind == "user" else teams[name])

    for name, resource in resources.items():
        if resource.type in ("table", "view"):
            team = content.TEAM_OF_SCHEMA.get(name.split(".")[1])
            if team:
                service.update(
                    session=session,
                    caller=operator,
                    resource_id=resource.id,
                    changes=service.Changes(team_ids=[teams[team]]),
                )
    for name, owners in content.OWNERS.items():
        service.update(
            session=session,
            caller=operator,
            resource_id=resources[name].id,
            changes=service.Changes(owners=[owner(k, v) for k, v in owners]),
        )
    for name, tags in content.TAGS.items():
        service.update(
            session=session, caller=operator, resource_id=resources[name].id, changes=service.Changes(tags=tags)
        )
    for name, text in content.CURATED_DESCRIPTIONS.items():
        service.update(
            session=session, caller=operator, resource_id=resources[name].id, changes=service.Changes(description=text)
        )
    for term in content.GLOSSARY:
        service.create(
            session=session,
            caller=operator,
            type="glossary_term",
            name=term.name,
            definition=term.definition,
            team_ids=[teams[term.team]] if term.team else [],
            links=[resources[n].id for n in term.links],
        )
    for document in content.DOCUMENTS:
        service.create(
            session=session,
            caller=operator,
            type="document",
            name=document.title,
            description=document.body,
            team_ids=[teams[document.team]] if document.team else [],
            links=[resources[n].id for n in document.links],
        )


def _allow_sql(session: StoreSession, operator: Caller, secret_key: str, warehouse_id: str) -> None:
    """Show the two-key rule: Run SQL on; Finance and admins may query, admins may read PII."""
    ai_settings.update(session=session, caller=operator, secret_key=secret_key, changes={"run_sql_enabled": True})
    finance = session.scalar(select(Team.id).where(Team.name == "Finance"))
    permissions.replace(
        session=session,
        caller=operator,
        integration_id=warehouse_id,
        grants={"query_access": [f"team:{finance}", "role:admin"], "sensitive_access": ["role:admin"]},
    )
