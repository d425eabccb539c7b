"""Pydantic shapes of the identity API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from datadesk.identity.models import Role, TeamVisibility
from datadesk.identity.passwords import MAX_PASSWORD, MIN_PASSWORD

Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$"),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Password = Annotated[str, StringConstraints(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD)]
Slug = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(In):
    email: Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=320)]
    password: Annotated[str, StringConstraints(max_length=MAX_PASSWORD)]
    workspace: Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=64)]


class UserOut(BaseModel):
    id: str
    email: str


class WorkspaceOut(BaseModel):
    id: str
    slug: str
    name: str


class LoginOut(BaseModel):
    token: str
    user: UserOut
    workspace: WorkspaceOut
    role: Role


class SwitchIn(In):
    workspace: Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=64)]


class OwnWorkspaceOut(BaseModel):
    id: str
    slug: str
    name: str
    role: Role
    current: bool


class OwnWorkspaceList(BaseModel):
    workspaces: list[OwnWorkspaceOut]


class TokenIn(In):
    name: Name


class TokenCreated(BaseModel):
    id: str
    token: str


class TokenOut(BaseModel):
    id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None


class TokenList(BaseModel):
    tokens: list[TokenOut]


class MemberIn(In):
    email: Email
    role: Role
    password: Password | None = None


class MemberPatch(In):
    role: Role


class MemberOut(BaseModel):
    id: str
    email: str
    role: Role
    team_ids: list[str] = []


class MemberList(BaseModel):
    members: list[MemberOut]


class TeamIn(In):
    name: Name
    visibility: TeamVisibility = TeamVisibility.public


class TeamPatch(In):
    """Absent or null fields stay as they are."""

    name: Name | None = None
    visibility: TeamVisibility | None = None


class TeamOut(BaseModel):
    id: str
    name: str
    visibility: TeamVisibility
    is_everyone: bool = False
    member_ids: list[str] = []


class TeamList(BaseModel):
    teams: list[TeamOut]
