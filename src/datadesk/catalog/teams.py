"""Keeps each resource's effective Teams materialised (resource_team and the search scope words).

Effective Teams (`effective`): the resource's own when curated; a column follows its table; otherwise
its integration's Teams; with none of those, the workspace's Everyone team.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import delete, insert, select, update

from datadesk.catalog.models import IntegrationTeam, Resource, ResourceTeam
from datadesk.catalog.search_index import scope_of
from datadesk.db import StoreSession
from datadesk.identity.service import everyone_team

CHUNK = 500


def integration_teams(session: StoreSession, workspace_id: str, integration_id: str | None) -> list[str]:
    """The Teams an integration's resources inherit (Everyone when it has none)."""
    if integration_id is not None:
        team_ids = sorted(
            session.scalars(select(IntegrationTeam.team_id).where(IntegrationTeam.integration_id == integration_id))
        )
        if team_ids:
            return team_ids
    return [everyone_team(session, workspace_id).id]


def effective(
    resource_id: str, type: str, parent_id: str | None, *, curated: dict[str, list[str]], inherited: list[str]
) -> list[str]:
    """A resource's effective Teams, from the curated Teams of resources by id and its integration's Teams."""
    own = curated.get(resource_id)
    if own:
        return own
    if type == "column" and parent_id in curated:
        return curated[parent_id]
    return inherited


def write(session: StoreSession, workspace_id: str, teams_by_resource: dict[str, list[str]]) -> None:
    """Replace the Teams of the given resources (bulk: grouped by identical Team sets)."""
    ids = list(teams_by_resource)
    for start in range(0, len(ids), CHUNK):
        session.execute(delete(ResourceTeam).where(ResourceTeam.resource_id.in_(ids[start : start + CHUNK])))
    rows = [
        {"workspace_id": workspace_id, "resource_id": rid, "team_id": tid}
        for rid, team_ids in teams_by_resource.items()
        for tid in set(team_ids)
    ]
    if rows:
        session.execute(insert(ResourceTeam), rows)
    by_set: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for rid, team_ids in teams_by_resource.items():
        by_set[tuple(sorted(set(team_ids)))].append(rid)
    for team_set, rids in by_set.items():
        for start in range(0, len(rids), CHUNK):
            session.execute(
                update(Resource)
                .where(Resource.id.in_(rids[start : start + CHUNK]), Resource.deleted_at.is_(None))
                .values(**scope_of(team_set))
                .execution_options(synchronize_session=False)
            )


def teams_of(session: StoreSession, resource_ids: Iterable[str]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = defaultdict(list)
    ids = list(resource_ids)
    for start in range(0, len(ids), CHUNK):
        rows = session.execute(
            select(ResourceTeam.resource_id, ResourceTeam.team_id).where(
                ResourceTeam.resource_id.in_(ids[start : start + CHUNK])
            )
        )
        for rid, tid in rows:
            result[rid].append(tid)
    return {rid: sorted(tids) for rid, tids in result.items()}


def refresh_integration(session: StoreSession, workspace_id: str, integration_id: str) -> None:
    """Recompute the inherited Teams of every live resource of an integration."""
    inherited = integration_teams(session, workspace_id, integration_id)
    rows = session.execute(
        select(Resource.id, Resource.parent_id, Resource.type, Resource.teams_curated).where(
            Resource.integration_id == integration_id, Resource.deleted_at.is_(None)
        )
    ).all()
    curated = [r.id for r in rows if r.teams_curated]
    own = teams_of(session, curated)
    plan = {
        row.id: effective(row.id, row.type, row.parent_id, curated=own, inherited=inherited)
        for row in rows
        if not row.teams_curated
    }
    write(session, workspace_id, plan)


def set_curated(session: StoreSession, workspace_id: str, resource: Resource, team_ids: list[str] | None) -> None:
    """Give a resource its own Teams (None: inherit again); its columns follow."""
    resource.teams_curated = bool(team_ids)
    session.flush()
    inherited = integration_teams(session, workspace_id, resource.integration_id) if not team_ids else []
    effective = sorted(set(team_ids)) if team_ids else inherited
    plan = {resource.id: effective}
    children = session.execute(
        select(Resource.id).where(
            Resource.parent_id == resource.id, Resource.type == "column", Resource.teams_curated.is_(False)
        )
    ).scalars()
    plan.update({cid: effective for cid in children})
    write(session, workspace_id, plan)
