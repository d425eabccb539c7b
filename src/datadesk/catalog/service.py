"""Reading and documenting the catalog: every read goes through the caller's visibility.

The service functions callers use live here; which rows make a page of the list is catalog.listing's,
and the owners, tags and Teams an edit writes are read, checked and indexed by catalog.curation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, or_, select

from datadesk.access.caller import Caller
from datadesk.access.policy import Action, require, require_team_change
from datadesk.access.visibility import visible_resources
from datadesk.catalog import listing, semantic, siblings
from datadesk.catalog import teams as resource_teams
from datadesk.catalog.curation import Owner, check_owners, check_teams, clean_tags, owners_of, reindex, tags_of
from datadesk.catalog.models import Resource, ResourceLink, ResourceOwner, ResourceTag
from datadesk.db import StoreSession, utcnow
from datadesk.errors import Invalid, NotFound

DBT_FACTS = ("unique_id", "materialized", "tests")


@dataclass
class Detail:
    """A resource with everything shown about it, already limited to what the caller may see.

    A resource with siblings (a dbt node and its warehouse table) shows the asset: its own fields,
    with the other faces' description when it has none, their owners, tags and dbt facts.
    """

    resource: Resource
    owners: list[Owner]  # its own (what is edited)
    tags: list[str]  # its own (what is edited)
    team_ids: list[str]
    columns: list[tuple[Resource, list[str]]] | None = None  # each with the asset's tags
    links: list[Resource] = field(default_factory=list)
    linked_from: list[Resource] = field(default_factory=list)
    parent_tags: list[str] = field(default_factory=list)  # a column's table's asset tags (sensitivity is inherited)
    asset_tags: list[str] = field(default_factory=list)  # its own and its siblings' (siblings.asset_tags)
    siblings: list[Resource] = field(default_factory=list)  # the other faces the caller sees, warehouse first
    sibling_owners: list[Owner] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)  # a warehouse table's dbt facts (unique_id, ...)
    column_descriptions: dict[str, str] = field(default_factory=dict)  # a column's sibling's, when it has none

    @property
    def description(self) -> str:
        r = self.resource
        if r.description:
            return r.description
        return next((s.description for s in self.siblings if s.description), "")

    @property
    def all_owners(self) -> list[Owner]:
        """Its own owners, then its siblings' (each once)."""
        merged = {(o.kind, o.id): o for o in self.owners}
        for owner in self.sibling_owners:
            merged.setdefault((owner.kind, owner.id), owner)
        return list(merged.values())

    def column_description(self, column: Resource) -> str:
        return column.description or self.column_descriptions.get(column.id, "")


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
    """Owners, tags, Teams, columns, links and siblings for several resources in a handful of queries."""
    ids = [r.id for r in resources]
    tags = tags_of(session, ids)
    team_ids = resource_teams.teams_of(session, ids)
    columns: dict[str, list[Resource]] = defaultdict(list)
    table_ids = [r.id for r in resources if r.type in ("table", "view")]
    if with_columns and table_ids:
        for column in session.scalars(
            select(Resource)
            .where(Resource.parent_id.in_(table_ids), Resource.type == "column", visible_resources(caller))
            .order_by(Resource.ordinal, Resource.name)
        ):
            columns[column.parent_id or ""].append(column)
    column_ids = [c.id for cs in columns.values() for c in cs]
    parent_ids = sorted({r.parent_id for r in resources if r.type == "column" and r.parent_id})
    face_ids = siblings.faces(session, [*ids, *column_ids])
    visible_faces = {
        r.id: r for r in visible_many(session, caller, sorted({f for fs in face_ids.values() for f in fs}))
    }
    shown_faces = {
        rid: siblings.ordered([visible_faces[f] for f in fs if f in visible_faces]) for rid, fs in face_ids.items()
    }
    asset = siblings.asset_tags(session, [*ids, *column_ids, *parent_ids], known=face_ids)
    owners = owners_of(session, [*ids, *{f.id for r in ids for f in shown_faces.get(r, [])}])
    links_out, links_in = _links_of(session, caller, ids)
    result = []
    for r in resources:
        faces = shown_faces.get(r.id, [])
        table_columns = columns.get(r.id, [])
        result.append(
            Detail(
                resource=r,
                owners=owners.get(r.id, []),
                tags=tags.get(r.id, []),
                team_ids=team_ids.get(r.id, []),
                columns=[(c, asset.get(c.id, [])) for c in table_columns]
                if r.id in table_ids and with_columns
                else None,
                links=links_out.get(r.id, []),
                linked_from=links_in.get(r.id, []),
                parent_tags=asset.get(r.parent_id or "", []) if r.type == "column" else [],
                asset_tags=asset.get(r.id, []),
                siblings=faces,
                sibling_owners=[o for f in faces for o in owners.get(f.id, [])],
                facts=_dbt_facts(r, faces),
                column_descriptions={
                    c.id: d
                    for c in table_columns
                    if not c.description
                    and (d := next((f.description for f in shown_faces.get(c.id, []) if f.description), ""))
                },
            )
        )
    return result


def _dbt_facts(resource: Resource, faces: list[Resource]) -> dict[str, Any]:
    """What the dbt face that speaks first says of a warehouse table: unique_id, materialisation, tests."""
    if resource.sibling_id is not None:
        return {}
    for face in faces:
        properties = face.properties or {}
        if properties.get("unique_id"):
            return {key: properties[key] for key in DBT_FACTS if properties.get(key)}
    return {}


def linked(session: StoreSession, caller: Caller, resources: Sequence[Resource]) -> list[Resource]:
    """What the given resources (documents, glossary terms) are about: their visible link targets, in order."""
    if not resources:
        return []
    out, _ = _links_of(session, caller, [r.id for r in resources])
    return [target for r in resources for target in out.get(r.id, [])]


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
    """A page of visible resources (by qualified name, or most popular first); filters inside the query.

    Each asset is listed once, by its warehouse face (its dbt siblings are named in its `siblings`),
    except when one integration or one parent is browsed: then what it holds is listed.
    """
    require(caller, Action.read_workspace)
    rows, next_cursor = listing.page(
        session,
        caller,
        type=type,
        tag=tag,
        team_id=team_id,
        integration_id=integration_id,
        parent_id=parent_id,
        owner_ids=owner_ids,
        order_by=order_by,
        limit=limit,
        cursor=cursor,
    )
    return details(session, caller, rows), next_cursor


# --- documenting ------------------------------------------------------------------------------


@dataclass
class Changes:
    description: str | None = None
    definition: str | None = None
    owners: list[tuple[str, str]] | None = None  # (kind, id)
    tags: list[str] | None = None
    team_ids: list[str] | None = None
    links: list[str] | None = None


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
        for tag in clean_tags(changes.tags):
            session.add(ResourceTag(workspace_id=caller.workspace_id, resource_id=resource.id, tag=tag))
    if changes.owners is not None:
        owners = check_owners(session, changes.owners)
        resource.owners_curated = True
        session.execute(delete(ResourceOwner).where(ResourceOwner.resource_id == resource.id))
        for kind, owner_id in owners:
            session.add(
                ResourceOwner(workspace_id=caller.workspace_id, resource_id=resource.id, kind=kind, owner_id=owner_id)
            )
    if changes.team_ids is not None:
        team_ids = check_teams(session, changes.team_ids)
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
    semantic.refresh(session, caller.workspace_id, [resource.id])
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
    checked_team_ids = check_teams(session, team_ids or [])
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
    for tag in clean_tags(tags or []):
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
    semantic.refresh(session, caller.workspace_id, [resource.id])
    return details(session, caller, [resource])[0]
