"""Siblings: a dbt node and the warehouse table it builds or reads are one asset with several faces.

`catalog.links` records them (`Resource.sibling_id`); this module answers who the other faces of a
resource are, the tags of the whole asset (a sensitive tag anywhere on it applies to every face),
and which face stands for the asset in lists, search and lineage (the warehouse one).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import select

from datadesk.catalog.models import Resource, ResourceTag
from datadesk.db import StoreSession

# Ids per IN (...): far below SQLite's and PostgreSQL's parameter limits, and few rounds for big sets.
CHUNK = 5000
# Where several dbt faces describe one table, the one that builds it speaks first.
FACE_ORDER = {"model": 0, "snapshot": 1, "seed": 2, "source": 3}


def faces(session: StoreSession, resource_ids: Iterable[str]) -> dict[str, list[str]]:
    """Each resource's other live faces (ids, any visibility; none: an empty list)."""
    ids = list(dict.fromkeys(resource_ids))
    canonical: dict[str, str] = {}
    for start in range(0, len(ids), CHUNK):
        for rid, sibling_id in session.execute(
            select(Resource.id, Resource.sibling_id).where(Resource.id.in_(ids[start : start + CHUNK]))
        ):
            canonical[rid] = sibling_id or rid
    members: dict[str, set[str]] = defaultdict(set)
    anchors = sorted(set(canonical.values()))
    for start in range(0, len(anchors), CHUNK):
        for rid, anchor in session.execute(
            select(Resource.id, Resource.sibling_id).where(
                Resource.sibling_id.in_(anchors[start : start + CHUNK]), Resource.deleted_at.is_(None)
            )
        ):
            members[anchor or ""].update((rid, anchor or ""))
    return {rid: sorted(members.get(anchor, set()) - {rid}) for rid, anchor in canonical.items()}


def asset_tags(
    session: StoreSession, resource_ids: Iterable[str], known: dict[str, list[str]] | None = None
) -> dict[str, list[str]]:
    """THE tags of each resource as one asset: its own and its siblings' (whoever may see them).

    Every check of sensitivity (egress to providers, sensitive_access in SQL) and every tag shown
    goes through this, so a pii tag on a warehouse column holds for the dbt column of the same name,
    and the other way round. `known`: faces() already asked for some of the ids.
    """
    ids = list(dict.fromkeys(resource_ids))
    others = dict(known or {})
    missing = [rid for rid in ids if rid not in others]
    others.update(faces(session, missing) if missing else {})
    own = _tags(session, [*ids, *{f for fs in others.values() for f in fs}])
    return {
        rid: sorted(set(own.get(rid, [])).union(*(own.get(f, []) for f in others.get(rid, []))))
        for rid in ids
        if own.get(rid) or any(own.get(f) for f in others.get(rid, []))
    }


def _tags(session: StoreSession, ids: list[str]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = defaultdict(list)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        for rid, tag in session.execute(
            select(ResourceTag.resource_id, ResourceTag.tag).where(ResourceTag.resource_id.in_(chunk))
        ):
            result[rid].append(tag)
    return result


def ordered(resources: Sequence[Resource]) -> list[Resource]:
    """Faces in the order they speak for an asset: the warehouse one, then models, snapshots, seeds, sources."""
    return sorted(
        resources,
        key=lambda r: (r.sibling_id is not None, FACE_ORDER.get(r.kind, 9), r.qualified_name),
    )
