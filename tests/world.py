"""A small world for tests: two workspaces with people of every role, Teams and tokens."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import sessionmaker

from datadesk.access.caller import Caller
from datadesk.db import StoreSession, transaction
from datadesk.identity import service as identity
from datadesk.identity.models import Role

PASSWORD = "correct horse battery"


@dataclass
class Person:
    id: str
    email: str
    role: str
    token: str
    team_ids: list[str] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def caller(self, workspace_id: str) -> Caller:
        return Caller(
            workspace_id=workspace_id,
            user_id=self.id,
            role=self.role,
            team_ids=frozenset(self.team_ids),
            email=self.email,
        )


@dataclass
class Space:
    id: str
    slug: str
    everyone_id: str
    teams: dict[str, str]  # name -> id
    admin: Person
    editor: Person
    viewer: Person

    @property
    def people(self) -> dict[str, Person]:
        return {"admin": self.admin, "editor": self.editor, "viewer": self.viewer}

    def caller(self, who: str) -> Caller:
        return self.people[who].caller(self.id)


@dataclass
class World:
    a: Space
    b: Space


def build_space(sessions: sessionmaker[StoreSession], slug: str) -> Space:
    with transaction(sessions) as session:
        workspace = identity.create_workspace(session=session, slug=slug, name=slug.upper())
        session.seal(workspace.id)
        operator = Caller.operator(workspace.id)
        everyone = identity.everyone_team(session, workspace.id)
        teams = {
            name: identity.create_team(session=session, caller=operator, name=name).id
            for name in ("Finance", "Marketing")
        }
        people: dict[str, Person] = {}
        for role, team in (("admin", "Finance"), ("editor", "Finance"), ("viewer", "Marketing")):
            email = f"{role}@{slug}.example.com"
            _, user = identity.add_member(
                session=session, caller=operator, email=email, role=Role(role), password=PASSWORD
            )
            identity.add_team_member(session=session, caller=operator, team_id=teams[team], user_id=user.id)
            _token_row, token = identity.create_token(
                session=session,
                caller=Caller(workspace_id=workspace.id, user_id=user.id, role=role),
                name="test",
            )
            people[role] = Person(user.id, email, role, token, [everyone.id, teams[team]])
        return Space(workspace.id, slug, everyone.id, teams, people["admin"], people["editor"], people["viewer"])


def build_world(sessions: sessionmaker[StoreSession]) -> World:
    return World(a=build_space(sessions, "alpha"), b=build_space(sessions, "beta"))


def add_to(
    sessions: sessionmaker[StoreSession],
    workspace_id: str,
    email: str,
    role: Role = Role.viewer,
    password: str | None = PASSWORD,
) -> None:
    """Put a person (an existing account or a new one) in a workspace, with a password there, as its operator would."""
    with transaction(sessions, workspace_id) as session:
        operator = Caller.operator(workspace_id)
        identity.add_member(session=session, caller=operator, email=email, role=role, password=password)
