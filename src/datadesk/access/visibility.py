"""THE visibility rule: a person sees a resource when one of their Teams is among the resource's Teams.

A resource's Teams are its own when set, else its integration's, else Everyone's; `catalog.teams`
keeps them materialised in `resource_team`, so this rule is one indexed EXISTS inside every query.
Admins govern the workspace and see every resource of it, whatever Teams they are in.
Soft-deleted resources are visible to no one.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, false, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from datadesk.access.caller import Caller
from datadesk.catalog.models import Resource, ResourceTeam
from datadesk.identity.models import Team

SCOPE_PREFIX = "t"


def visible_resources(caller: Caller, resource_id: InstrumentedAttribute[str] | None = None) -> ColumnElement[bool]:
    """SQL condition: the resource (Resource, or the given id column) is visible to the caller."""
    if not caller.team_ids and not caller.is_admin:
        return false()
    if resource_id is None:
        live = and_(Resource.workspace_id == caller.workspace_id, Resource.deleted_at.is_(None))
        return live if caller.is_admin else and_(live, _team_match(caller, Resource.id))
    found = exists(
        select(Resource.id).where(
            Resource.id == resource_id,
            Resource.workspace_id == caller.workspace_id,
            Resource.deleted_at.is_(None),
        )
    )
    return found if caller.is_admin else and_(found, _team_match(caller, resource_id))


def _team_match(caller: Caller, resource_id: InstrumentedAttribute[str]) -> ColumnElement[bool]:
    return exists(
        select(ResourceTeam.resource_id).where(
            ResourceTeam.resource_id == resource_id,
            ResourceTeam.team_id.in_(sorted(caller.team_ids)),
        )
    )


def scope_token(team_id: str) -> str:
    """The search-index word standing for one Team (see Resource.search_scope)."""
    return f"{SCOPE_PREFIX}{team_id}"


def scope_tokens(session: Session, caller: Caller) -> list[str]:
    """Index words narrowing a search to the caller's Teams (an admin's: all); visible_resources() still decides."""
    team_ids = caller.team_ids
    if caller.is_admin:
        team_ids = frozenset(session.scalars(select(Team.id).where(Team.workspace_id == caller.workspace_id)))
    return [scope_token(t) for t in sorted(team_ids)]
