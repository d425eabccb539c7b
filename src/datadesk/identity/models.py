"""Workspaces, people, their roles, Teams and API tokens."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from datadesk.db import Base, WorkspaceScoped, new_id, utcnow


class Role(StrEnum):
    admin = "admin"
    editor = "editor"
    viewer = "viewer"


class TeamVisibility(StrEnum):
    public = "public"
    private = "private"


EVERYONE = "Everyone"


class Workspace(Base):
    __tablename__ = "workspace"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    """A person; one account may belong to several workspaces."""

    __tablename__ = "user_account"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Membership(WorkspaceScoped, Base):
    """A person in a workspace, with the role and the password they log in with there.

    The password is the membership's, not the account's: a workspace admin sets passwords for their
    own workspace only, so a password an admin once chose never opens another workspace.
    """

    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("workspace_id", "user_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Team(WorkspaceScoped, Base):
    __tablename__ = "team"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    is_everyone: Mapped[bool] = mapped_column(Boolean, default=False)
    # public: any member may list, join and leave it; private: listed to its members and admins only.
    visibility: Mapped[str] = mapped_column(String(16), default=TeamVisibility.public.value, server_default="public")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def is_private(self) -> bool:
        return self.visibility == TeamVisibility.private


class TeamMember(WorkspaceScoped, Base):
    __tablename__ = "team_member"

    team_id: Mapped[str] = mapped_column(String(32), ForeignKey("team.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ApiToken(WorkspaceScoped, Base):
    """A bearer token for one user in one workspace; only its SHA-256 is kept."""

    __tablename__ = "api_token"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # A login token's: the memberships (its own first) whose password the login's password also opened, which
    # it may switch to. None for a personal API token, which stays in its own workspace.
    login_memberships: Mapped[list[str] | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class AuditEvent(WorkspaceScoped, Base):
    """The admin audit trail: who changed what, before and after (secrets masked)."""

    __tablename__ = "audit_event"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_user_id: Mapped[str | None] = mapped_column(String(32), default=None)
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(200), default="")
    before: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(default=None)
