"""Reading and documenting the catalog: every read goes through the caller's visibility."""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import and_, delete, or_, select, tuple_

from datadesk.access.caller import Caller
from datadesk.access.policy import Action, require, require_team_change
from datadesk.access.visibility import visible_resources
from datadesk.catalog import search
from datadesk.catalog import teams as resource_teams
from datadesk.catalog.models import (
    Lineage,
    Resource,
    ResourceLink,
    ResourceOwner,
    ResourceTag,
    ResourceTeam,
)
from datadesk.db import StoreSession, utcnow
from datadesk.errors import Invalid, NotFound
from datadesk.identity.models import Membership, Team, User

MAX_PAGE = 500
MAX_LINEAGE_DEPTH = 5


@dataclass
class Owner:
    kind: str
    id: str
    name: str


@dataclass
class Detail:
    """A resource with everything shown about it, already limited to what the caller may see."""

    resource: Resource
    owners: list[Owner]
    tags: list[str]
    team_ids: list[str]
    columns: list[tuple[Resource, list[str]]] | None = None
    links: list[Resource] = field(default_factory=list)
    linked_from: list[Resource] = field(default_factory=list)
    parent_tags: list[str] = field(default_factory=list)  # a column's table's tags (sensitivity is inherited)


# --- reading ----------------------------------------------------------------------------------


def get_visible(session: StoreSession, caller: Caller, resource_id: str) -> Resource:
    """The resource if the caller can see it; NotFound otherwise, whatever the reason."""
    resource = session.scalar(select(Resource).where(Resource.id == resource_id, visible_resources(caller)))
    if resource is None:
        raise NotFound("No such resource.")
    return resource


def visible_many(session: StoreSession, caller: Caller, resource_ids: Sequence[str]) -> list[Resource]:
    """The subset of ids the caller can see, in the order given."""
    ids = list(dict.fromkeys(resource_ids))
    if not ids:
        return []
    found = {r.id: r for r in session.scalars(select(Resource).where(Resource.id.in_(ids), visible_resources(caller)))}
    return [found[i] for i in ids if i in found]


def details(
    session: StoreSession, caller: Caller, resources: Sequence[Resource], *, with_columns: bool = True
) -> list[Detail]:
    """Owners, tags, Teams, columns and links for several resources in a handful of queries."""
    ids = [r.id for r in resources]
    tags = tags_of(session, ids)
    owners = _owners_of(session, ids)
    team_ids = resource_teams.teams_of(session, ids)
    columns: dict[str, list[tuple[Resource, list[str]]]] = defaultdict(list)
    table_ids = [r.id for r in resources if r.type in ("table", "view")]
    if with_columns and table_ids:
        rows = list(
            session.scalars(
                select(Resource)
                .where(Resource.parent_id.in_(table_ids), Resource.type == "column", visible_resources(caller))
                .order_by(Resource.ordinal, Resource.name)
            )
        )
        column_tags = tags_of(session, [c.id for c in rows])
        for column in rows:
            columns[column.parent_id or ""].append((column, column_tags.get(column.id, [])))
    links_out, links_in = _links_of(session, caller, ids)
    parents = tags_of(session, sorted({r.parent_id for r in resources if r.type == "column" and r.parent_id}))
    return [
        Detail(
            resource=r,
            owners=owners.get(r.id, []),
            tags=tags.get(r.id, []),
            team_ids=team_ids.get(r.id, []),
            columns=columns.get(r.id, []) if r.id in table_ids and with_columns else None,
            links=links_out.get(r.id, []),
            linked_from=links_in.get(r.id, []),
            parent_tags=parents.get(r.parent_id or "", []) if r.type == "column" else [],
        )
        for r in resources
    ]


def tags_of(session: StoreSession, ids: list[str]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = defaultdict(list)
    for start in range(0, len(ids), 500):
        for rid, tag in session.execute(
            select(ResourceTag.resource_id, ResourceTag.tag)
            .where(ResourceTag.resource_id.in_(ids[start : start + 500]))
            .order_by(ResourceTag.tag)
        ):
            result[rid].append(tag)
    return result


def _owners_of(session: StoreSession, ids: list[str]) -> dict[str, list[Owner]]:
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


def _links_of(
    session: StoreSession, caller: Caller, ids: list[str]
) -> tuple[dict[str, list[Resource]], dict[str, list[Resource]]]:
    rows = session.execute(
        select(ResourceLink.source_id, ResourceLink.target_id).where(
            or_(ResourceLink.source_id.in_(ids), ResourceLink.target_id.in_(ids))
        )
    ).all()
    others = {r.target_id for r in rows} | {r.source_id for r in rows}
    visible = {r.id: r for r in visible_many(session, caller, sorted(others))}
    out: dict[str, list[Resource]] = defaultdict(list)
    into: dict[str, list[Resource]] = defaultdict(list)
    for source_id, target_id in rows:
        if source_id in ids and target_id in visible:
            out[source_id].append(visible[target_id])
        if target_id in ids and source_id in visible:
            into[target_id].append(visible[source_id])
    return out, into


def get_detail(*, session: StoreSession, caller: Caller, resource_id: str) -> Detail:
    require(caller, Action.read_workspace)
    return details(session, caller, [get_visible(session, caller, resource_id)])[0]


def _encode_cursor(resource: Resource) -> str:
    return base64.urlsafe_b64encode(json.dumps([resource.qualified_name, resource.id]).encode()).decode()


def _decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        qualified_name, rid = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return str(qualified_name), str(rid)
    except (ValueError, TypeError) as exc:
        raise Invalid("The cursor is not one this server gave out.", code="invalid_cursor") from exc


def list_resources(
    *,
    session: StoreSession,
    caller: Caller,
    type: str | None = None,
    tag: str | None = None,
    team_id: str | None = None,
    integration_id: str | None = None,
    parent_id: str | None = None,
    owner_ids: list[str] | None = None,
    order_by: str = "name",
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[Detail], str | None]:
    """A page of visible resources (by qualified name, or most popular first); filters inside the query."""
    require(caller, Action.read_workspace)
    limit = max(1, min(limit, MAX_PAGE))
    query = select(Resource).where(visible_resources(caller))
    if type:
        query = query.where(Resource.type == type)
    if integration_id:
        query = query.where(Resource.integration_id == integration_id)
    if parent_id:
        query = query.where(Resource.parent_id == parent_id)
    if tag:
        query = query.where(
            select(ResourceTag.resource_id)
            .where(ResourceTag.resource_id == Resource.id, ResourceTag.tag == tag.strip().lower())
            .exists()
        )
    if team_id:
        query = query.where(
            select(ResourceTeam.resource_id)
            .where(ResourceTeam.resource_id == Resource.id, ResourceTeam.team_id == team_id)
            .exists()
        )
    if owner_ids is not None:
        query = query.where(
            select(ResourceOwner.resource_id)
            .where(ResourceOwner.resource_id == Resource.id, ResourceOwner.owner_id.in_(owner_ids))
            .exists()
        )
    if order_by == "popularity":
        popularity = Resource.source_popularity + Resource.query_count
        rows = list(session.scalars(query.order_by(popularity.desc(), Resource.qualified_name).limit(limit)))
        return details(session, caller, rows), None
    if cursor:
        after = _decode_cursor(cursor)
        query = query.where(tuple_(Resource.qualified_name, Resource.id) > after)
    rows = list(session.scalars(query.order_by(Resource.qualified_name, Resource.id).limit(limit + 1)))
    next_cursor = _encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return details(session, caller, rows[:limit]), next_cursor


def lineage(
    *, session: StoreSession, caller: Caller, resource_id: str, depth: int = 1
) -> tuple[list[Resource], list[Resource]]:
    """Visible resources upstream and downstream, up to `depth` hops through visible resources only."""
    require(caller, Action.read_workspace)
    start = get_visible(session, caller, resource_id)
    depth = max(1, min(depth, MAX_LINEAGE_DEPTH))
    return (
        _walk(session, caller, start.id, depth, upstream=True),
        _walk(session, caller, start.id, depth, upstream=False),
    )


def _walk(session: StoreSession, caller: Caller, start: str, depth: int, *, upstream: bool) -> list[Resource]:
    near, far = (
        (Lineage.upstream_id, Lineage.downstream_id) if upstream else (Lineage.downstream_id, Lineage.upstream_id)
    )
    seen: dict[str, Resource] = {}
    frontier = [start]
    for _ in range(depth):
        if not frontier:
            break
        query = (
            select(Resource)
            .join(Lineage, near == Resource.id)
            .where(far.in_(frontier), visible_resources(caller))
            .order_by(Resource.qualified_name)
        )
        frontier = []
        for resource in session.scalars(query):
            if resource.id not in seen and resource.id != start:
                seen[resource.id] = resource
                frontier.append(resource.id)
    return list(seen.values())


# --- documenting ------------------------------------------------------------------------------


@dataclass
class Changes:
    description: str | None = None
    definition: str | None = None
    owners: list[tuple[str, str]] | None = None  # (kind, id)
    tags: list[str] | None = None
    team_ids: list[str] | None = None
    links: list[str] | None = None


def _check_owners(session: StoreSession, owners: list[tuple[str, str]]) -> list[tuple[str, str]]:
    unique = list(dict.fromkeys(owners))
    user_ids = {i for k, i in unique if k == "user"}
    team_ids = {i for k, i in unique if k == "team"}
    members = set(session.scalars(select(Membership.user_id).where(Membership.user_id.in_(user_ids))))
    teams = set(session.scalars(select(Team.id).where(Team.id.in_(team_ids))))
    if members != user_ids or teams != team_ids:
        raise Invalid("Owners must be members or Teams of this workspace.", code="unknown_owner")
    return unique


def _check_teams(session: StoreSession, team_ids: list[str]) -> list[str]:
    unique = sorted(set(team_ids))
    if set(session.scalars(select(Team.id).where(Team.id.in_(unique)))) != set(unique):
        raise Invalid("Unknown Team id.", code="unknown_team")
    return unique


def _clean_tags(tags: list[str]) -> list[str]:
    return sorted({t.strip().lower() for t in tags if t.strip()})


def update(*, session: StoreSession, caller: Caller, resource_id: str, changes: Changes) -> Detail:
    """Document a resource; what is set here is curated and survives every later sync."""
    require(caller, Action.edit_catalog)
    resource = get_visible(session, caller, resource_id)
    if changes.description is not None:
        text = changes.description.strip()
        resource.description_curated = bool(text)
        resource.description = text or resource.source_description
    if changes.definition is not None:
        resource.definition = changes.definition.strip()
    if changes.tags is not None:
        resource.tags_curated = True
        session.execute(delete(ResourceTag).where(ResourceTag.resource_id == resource.id))
        for tag in _clean_tags(changes.tags):
            session.add(ResourceTag(workspace_id=caller.workspace_id, resource_id=resource.id, tag=tag))
    if changes.owners is not None:
        owners = _check_owners(session, changes.owners)
        resource.owners_curated = True
        session.execute(delete(ResourceOwner).where(ResourceOwner.resource_id == resource.id))
        for kind, owner_id in owners:
            session.add(
                ResourceOwner(workspace_id=caller.workspace_id, resource_id=resource.id, kind=kind, owner_id=owner_id)
            )
    if changes.team_ids is not None:
        team_ids = _check_teams(session, changes.team_ids)
        current = set(resource_teams.teams_of(session, [resource.id]).get(resource.id, []))
        require_team_change(caller, set(team_ids) ^ current)
        resource_teams.set_curated(session, caller.workspace_id, resource, team_ids)
    if changes.links is not None:
        _set_links(session, caller, resource, changes.links)
    resource.updated_at = utcnow()
    session.flush()
    reindex(session, [resource.id])
    if resource.type == "column" and resource.parent_id:
        reindex(session, [resource.parent_id])
    # Not get_detail(): an editor who moves a resource out of their Teams still gets the answer.
    return details(session, caller, [resource])[0]


def _set_links(session: StoreSession, caller: Caller, resource: Resource, target_ids: list[str]) -> None:
    if resource.type not in ("document", "glossary_term"):
        raise Invalid("Only documents and glossary terms link to other resources.", code="links_not_allowed")
    targets = visible_many(session, caller, target_ids)
    if len(targets) != len(set(target_ids)):
        raise NotFound("A linked resource does not exist.")
    session.execute(delete(ResourceLink).where(ResourceLink.source_id == resource.id))
    for target in targets:
        if target.id != resource.id:
            session.add(ResourceLink(workspace_id=caller.workspace_id, source_id=resource.id, target_id=target.id))


def create(
    *,
    session: StoreSession,
    caller: Caller,
    type: str,
    name: str,
    description: str = "",
    definition: str = "",
    team_ids: list[str] | None = None,
    tags: list[str] | None = None,
    links: list[str] | None = None,
) -> Detail:
    """A document or glossary term, written in datadesk."""
    require(caller, Action.edit_catalog)
    if type not in ("document", "glossary_term"):
        raise Invalid("Only documents and glossary terms can be created.", code="invalid_type")
    checked_team_ids = _check_teams(session, team_ids or [])
    require_team_change(caller, set(checked_team_ids))
    prefix = "glossary" if type == "glossary_term" else "documents"
    resource = Resource(
        workspace_id=caller.workspace_id,
        type=type,
        name=name,
        qualified_name=f"{prefix}.{name}",
        description=description.strip(),
        description_curated=bool(description.strip()),
        definition=definition.strip(),
        tags_curated=True,
        owners_curated=True,
    )
    session.add(resource)
    session.flush()
    for tag in _clean_tags(tags or []):
        session.add(ResourceTag(workspace_id=caller.workspace_id, resource_id=resource.id, tag=tag))
    if caller.user_id:
        session.add(
            ResourceOwner(
                workspace_id=caller.workspace_id, resource_id=resource.id, kind="user", owner_id=caller.user_id
            )
        )
    resource_teams.set_curated(session, caller.workspace_id, resource, checked_team_ids)
    if links:
        _set_links(session, caller, resource, links)
    session.flush()
    reindex(session, [resource.id])
    return details(session, caller, [resource])[0]


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
