"""What people curate on resources besides their text: owners, tags and Teams.

Owners and tags are read here in bulk for many resources; owners, Teams and tags are checked before
catalog.service writes them, and the search fields an edit changes are recomputed from the result.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import and_, select

from datadesk.catalog import search, siblings
from datadesk.catalog.models import Resource, ResourceOwner, ResourceTag
from datadesk.db import StoreSession
from datadesk.errors import Invalid
from datadesk.identity.models import Membership, Team, User

CHUNK = siblings.CHUNK


@dataclass
class Owner:
    kind: str
    id: str
    name: str


def tags_of(session: StoreSession, ids: list[str]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = defaultdict(list)
    for start in range(0, len(ids), CHUNK):
        for rid, tag in session.execute(
            select(ResourceTag.resource_id, ResourceTag.tag)
            .where(ResourceTag.resource_id.in_(ids[start : start + CHUNK]))
            .order_by(ResourceTag.tag)
        ):
            result[rid].append(tag)
    return result


def owners_of(session: StoreSession, ids: list[str]) -> dict[str, list[Owner]]:
    rows = session.execute(
        select(ResourceOwner.resource_id, ResourceOwner.kind, ResourceOwner.owner_id).where(
            ResourceOwner.resource_id.in_(ids)
        )
    ).all()
    user_ids = {r.owner_id for r in rows if r.kind == "user"}
    team_ids = {r.owner_id for r in rows if r.kind == "team"}
    emails = dict(session.execute(select(User.id, User.email).where(User.id.in_(user_ids))).all())
    team_names = dict(session.execute(select(Team.id, Team.name).where(Team.id.in_(team_ids))).all())
    result: dict[str, list[Owner]] = defaultdict(list)
    for row in rows:
        name = emails.get(row.owner_id) if row.kind == "user" else team_names.get(row.owner_id)
        if name is not None:
            result[row.resource_id].append(Owner(row.kind, row.owner_id, name))
    for owners in result.values():
        owners.sort(key=lambda o: (o.kind, o.name))
    return result


def check_owners(session: StoreSession, owners: list[tuple[str, str]]) -> list[tuple[str, str]]:
    unique = list(dict.fromkeys(owners))
    user_ids = {i for k, i in unique if k == "user"}
    team_ids = {i for k, i in unique if k == "team"}
    members = set(session.scalars(select(Membership.user_id).where(Membership.user_id.in_(user_ids))))
    teams = set(session.scalars(select(Team.id).where(Team.id.in_(team_ids))))
    if members != user_ids or teams != team_ids:
        raise Invalid("Owners must be members or Teams of this workspace.", code="unknown_owner")
    return unique


def check_teams(session: StoreSession, team_ids: list[str]) -> list[str]:
    unique = sorted(set(team_ids))
    if set(session.scalars(select(Team.id).where(Team.id.in_(unique)))) != set(unique):
        raise Invalid("Unknown Team id.", code="unknown_team")
    return unique


def clean_tags(tags: list[str]) -> list[str]:
    return sorted({t.strip().lower() for t in tags if t.strip()})


def reindex(session: StoreSession, resource_ids: list[str]) -> None:
    """Recompute the search fields of some resources from their current state."""
    resources = list(session.scalars(select(Resource).where(Resource.id.in_(resource_ids))))
    tags = tags_of(session, resource_ids)
    columns: dict[str, list[tuple[str, str]]] = defaultdict(list)
    table_ids = [r.id for r in resources if r.type in ("table", "view")]
    if table_ids:
        for parent_id, name, description in session.execute(
            select(Resource.parent_id, Resource.name, Resource.description)
            .where(and_(Resource.parent_id.in_(table_ids), Resource.type == "column", Resource.deleted_at.is_(None)))
            .order_by(Resource.ordinal)
        ):
            columns[parent_id or ""].append((name, description))
    terms: set[str] = set()
    for resource in resources:
        resource.search_name, resource.search_body = search.index_fields(
            name=resource.name,
            qualified_name=resource.qualified_name,
            description=resource.description,
            definition=resource.definition,
            tags=tags.get(resource.id, []),
            data_type=resource.data_type,
            columns=columns.get(resource.id, []),
        )
        terms |= search.terms_of(resource.search_name, resource.search_body)
    if resources:
        search.remember_terms(session, resources[0].workspace_id, terms)
    session.flush()
