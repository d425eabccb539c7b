"""Which resources make a page of the resource list (catalog.service.list_resources).

Filters go inside the query, a member's page is walked per Team set, the tag filter reaches siblings,
and the cursor handed out names where the next page starts.
"""

from __future__ import annotations

import base64
import json

from sqlalchemy import ColumnElement, exists, select, tuple_, union_all
from sqlalchemy.orm import aliased

from datadesk.access.caller import Caller
from datadesk.access.visibility import visible_resources
from datadesk.catalog.models import Resource, ResourceOwner, ResourceTag, ResourceTeam
from datadesk.catalog.search_index import walkable_scope_keys
from datadesk.db import StoreSession
from datadesk.errors import Invalid

MAX_PAGE = 500


def page(
    session: StoreSession,
    caller: Caller,
    *,
    type: str | None,
    tag: str | None,
    team_id: str | None,
    integration_id: str | None,
    parent_id: str | None,
    owner_ids: list[str] | None,
    order_by: str,
    limit: int,
    cursor: str | None,
) -> tuple[list[Resource], str | None]:
    """The visible resources of one page (by qualified name, or most popular first), and the next page's cursor.

    Each asset is listed once, by its warehouse face, except when one integration or one parent is browsed.
    """
    limit = max(1, min(limit, MAX_PAGE))
    where: list[ColumnElement[bool]] = [visible_resources(caller)]
    if type:
        where.append(Resource.type == type)
    if integration_id:
        where.append(Resource.integration_id == integration_id)
    if parent_id:
        where.append(Resource.parent_id == parent_id)
    listed = not integration_id and not parent_id
    if listed:
        where.append(Resource.sibling_id.is_(None))
    if tag:
        where.append(_tagged(session, caller, tag.strip().lower()))
    if team_id:
        where.append(
            select(ResourceTeam.resource_id)
            .where(ResourceTeam.resource_id == Resource.id, ResourceTeam.team_id == team_id)
            .exists()
        )
    if owner_ids is not None:
        where.append(
            select(ResourceOwner.resource_id)
            .where(ResourceOwner.resource_id == Resource.id, ResourceOwner.owner_id.in_(owner_ids))
            .exists()
        )
    if order_by == "popularity":
        popularity = Resource.source_popularity + Resource.query_count
        query = select(Resource).where(*where).order_by(popularity.desc(), Resource.qualified_name).limit(limit)
        return list(session.scalars(query)), None
    if cursor:
        where.append(tuple_(Resource.qualified_name, Resource.id) > _decode_cursor(cursor))
    # Tag, Team and owner filters narrow by their own rows; a member's plain or typed page goes per Team set.
    if listed and not caller.is_admin and not (tag or team_id or owner_ids is not None):
        rows = _page_by_scope(session, caller, where, limit + 1)
    else:
        query = select(Resource).where(*where).order_by(Resource.qualified_name, Resource.id).limit(limit + 1)
        rows = list(session.scalars(query))
    next_cursor = _encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor


def _encode_cursor(resource: Resource) -> str:
    return base64.urlsafe_b64encode(json.dumps([resource.qualified_name, resource.id]).encode()).decode()


def _decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        qualified_name, rid = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return str(qualified_name), str(rid)
    except (ValueError, TypeError) as exc:
        raise Invalid("The cursor is not one this server gave out.", code="invalid_cursor") from exc


def _page_by_scope(
    session: StoreSession, caller: Caller, where: list[ColumnElement[bool]], size: int
) -> list[Resource]:
    """The first `size` rows by name, one walk per Team set the caller shares (walkable_scope_keys), merged.

    The merge is ordered by the store, as the cursor is compared there (PostgreSQL may collate unlike Python).
    """
    keys = walkable_scope_keys(session, caller)
    if not keys:
        return []
    walks = [
        select(Resource.qualified_name, Resource.id)
        .where(Resource.scope_key == key, *where)
        .order_by(Resource.qualified_name, Resource.id)
        .limit(size)
        .subquery()
        for key in keys
    ]
    merged = union_all(*(select(w.c.qualified_name, w.c.id) for w in walks)).subquery()
    query = select(Resource).join(merged, Resource.id == merged.c.id)
    return list(session.scalars(query.order_by(merged.c.qualified_name, merged.c.id).limit(size)))


def _tagged(session: StoreSession, caller: Caller, tag: str) -> ColumnElement[bool]:
    """Whether the asset bears the tag: on itself, or on a sibling the caller sees.

    SQLite gets one uncorrelated set, which it starts from when the tag is rare (5x faster than testing
    each resource in name order at 100,000). PostgreSQL gets one EXISTS over both, each probing a key: for
    the set it hashes every dbt face, and for `... OR ...` or two EXISTS joined by OR every row of the tag.
    """
    face = aliased(Resource)
    if session.get_bind().dialect.name == "sqlite":
        return Resource.id.in_(
            union_all(
                select(ResourceTag.resource_id).where(ResourceTag.tag == tag),
                select(face.sibling_id)
                .join(ResourceTag, ResourceTag.resource_id == face.id)
                .where(ResourceTag.tag == tag, face.sibling_id.is_not(None), visible_resources(caller, of=face)),
            )
        )
    own = (
        select(ResourceTag.resource_id)
        .where(ResourceTag.resource_id == Resource.id, ResourceTag.tag == tag)
        .correlate(Resource)
    )
    faces = (
        select(ResourceTag.resource_id)
        .join(face, ResourceTag.resource_id == face.id)
        .where(face.sibling_id == Resource.id, ResourceTag.tag == tag, visible_resources(caller, of=face))
        .correlate(Resource)
    )
    return exists(union_all(own, faces))
