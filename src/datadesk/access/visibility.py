"""THE visibility rule: a person sees a resource when one of their Teams is among the resource's Teams,
and, for a dbt node linked to a warehouse table (and its columns), among that table's Teams too.

A resource's Teams are its own when set, else its integration's, else Everyone's; `catalog.teams`
keeps them materialised in `resource_team`. A dbt node and its warehouse table are siblings, one asset
(catalog.links): the node names in `gate_id` the warehouse resource that gates it, and the rule asks
the gate's Teams as well as the node's own. This is the exact rule "visible only to who may also see
the table", chosen over materialising the intersection of both faces' Teams: an intersection is
stricter than asked (a Finance analyst in Everyone would lose the dbt model of a Finance table that
the dbt project gives to Everyone), and reading the gate's Teams at query time means a change to either
face's Teams needs no recomputation. It stays one indexed query: two probes of `resource_team`'s
(resource_id, team_id) key, the second for the gate (or, ungated, the resource itself again).
Admins govern the workspace and see every resource of it, whatever Teams they are in.
Soft-deleted resources are visible to no one.

The probes read `resource_team` as a Core table, outside the session's workspace filter: with
`workspace_id = ?` among their conditions SQLite may plan them through the workspace index and read every
row of the workspace for each resource. The seal holds where it costs nothing: the resource probed is one
of the caller's workspace (`_visible` asks it of the outer row), and its Teams are that workspace's.
tests/access/test_query_plans.py checks the plans.
"""

from __future__ import annotations

import hashlib
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, exists, false, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased

from datadesk.access.caller import Caller
from datadesk.catalog.models import Resource, ResourceTeam
from datadesk.identity.models import Team

SCOPE_PREFIX = "t"
# Not the mapped class: the session's workspace filter would join the probe (see the module docstring).
_resource_team = cast(Table, ResourceTeam.__table__)
_resource = cast(Table, Resource.__table__)


def visible_resources(
    caller: Caller, resource_id: InstrumentedAttribute[str] | None = None, *, of: Any = Resource
) -> ColumnElement[bool]:
    """SQL condition: the resource (`of`: Resource or an alias of it, or the given id column) is visible."""
    if not caller.team_ids and not caller.is_admin:
        return false()
    if resource_id is None:
        return _visible(caller, of)
    inner = aliased(Resource)
    return exists(select(inner.id).where(inner.id == resource_id, _visible(caller, inner)))


def _visible(caller: Caller, resource: Any) -> ColumnElement[bool]:
    live = and_(resource.workspace_id == caller.workspace_id, resource.deleted_at.is_(None))
    if caller.is_admin:
        return live
    # The gate's Teams, or an ungated resource's own again (one more key probe): with `gate_id IS NULL OR
    # EXISTS ...` PostgreSQL may hash every resource_team row of the caller's Teams to answer the EXISTS.
    return and_(
        live,
        _team_match(caller, resource.id),
        _team_match(caller, func.coalesce(resource.gate_id, resource.id)),
    )


def _team_match(caller: Caller, resource_id: Any) -> ColumnElement[bool]:
    return exists(
        select(_resource_team.c.resource_id).where(
            _resource_team.c.resource_id == resource_id,
            _resource_team.c.team_id.in_(sorted(caller.team_ids)),
        )
    )


def scope_token(team_id: str) -> str:
    """The search-index word standing for one Team (see Resource.search_scope)."""
    return f"{SCOPE_PREFIX}{team_id}"


def scope_key(scope: str) -> str:
    """The short key of one Team set's scope words, which lists walk by (see walkable_scope_keys)."""
    return hashlib.sha256(scope.encode()).hexdigest()[:16] if scope else ""


def walkable_scope_keys(session: Session, caller: Caller) -> list[str]:
    """Keys of the Team sets among listed resources that share a Team with the caller.

    A page in name order walked across the whole workspace reads every resource of the Teams the caller is
    not in before it reaches theirs (a tenth of a second at 100,000 resources); walked per Team set
    (ix_resource_ws_scope_name), each walk stops at the page's end. The sets are found by a loose scan of
    that index, one probe per set. A narrowing only: visible_resources() still decides each row.
    """
    walk = _listed_scopes(caller.workspace_id)
    tokens = set(scope_tokens(session, caller))
    return [key for key, scope in session.execute(walk) if not key or tokens & set((scope or "").split())]


def _listed_scopes(workspace_id: str) -> Any:
    listed = and_(
        _resource.c.workspace_id == workspace_id, _resource.c.sibling_id.is_(None), _resource.c.deleted_at.is_(None)
    )
    first = select(func.min(_resource.c.scope_key).label("key")).where(listed).cte("scopes", recursive=True)
    after = select(func.min(_resource.c.scope_key)).where(listed, _resource.c.scope_key > first.c.key)
    scopes = first.union_all(select(after.scalar_subquery()).where(first.c.key.is_not(None)))
    one = select(_resource.c.search_scope).where(listed, _resource.c.scope_key == scopes.c.key).limit(1)
    return select(scopes.c.key, one.scalar_subquery()).where(scopes.c.key.is_not(None))


def scope_tokens(session: Session, caller: Caller) -> list[str]:
    """Index words narrowing a search to the caller's Teams (an admin's: all); visible_resources() still decides."""
    team_ids = caller.team_ids
    if caller.is_admin:
        team_ids = frozenset(session.scalars(select(Team.id).where(Team.workspace_id == caller.workspace_id)))
    return [scope_token(t) for t in sorted(team_ids)]
