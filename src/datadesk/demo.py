"""The demo workspace on the embedded store: Teams, members and (once synced) a documented catalog."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from datadesk.access.caller import Caller
from datadesk.db import StoreSession, transaction
from datadesk.identity import service as identity
from datadesk.identity.models import Role, Workspace
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
    Login(SLUG, "admin@demo.datadesk.dev", "demo-admin-pass", "admin", ("Everyone", *TEAMS)),
    Login(SLUG, "fiona@demo.datadesk.dev", "demo-fiona-pass", "editor", ("Everyone", "Finance")),
    Login(SLUG, "mark@demo.datadesk.dev", "demo-mark-pass", "viewer", ("Everyone", "Marketing")),
)


def ensure(sessions: sessionmaker[StoreSession], settings: Settings, progress: Console) -> list[Login]:
    """Create the demo workspace once; later runs keep it as it is."""
    with transaction(sessions) as session:
        existing = session.scalar(select(Workspace).where(Workspace.slug == SLUG))
        if existing is None:
            progress.print("Creating the demo workspace...")
            _create(session)
    return list(LOGINS)


def _create(session: StoreSession) -> None:
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
