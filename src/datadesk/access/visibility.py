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

The search index's words standing for Teams, which only narrow what a search or a list reads before this rule
decides, are catalog.search_index's.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, exists, false, func, select
from sqlalchemy.orm import InstrumentedAttribute, aliased

from datadesk.access.caller import Caller
from datadesk.catalog.models import Resource, ResourceTeam

# Not the mapped class: the session's workspace filter would join the probe (see the module docstring).
_resource_team = cast(Table, ResourceTeam.__table__)


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
