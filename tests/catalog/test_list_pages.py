"""A member's list pages, walked one Team set at a time, hold exactly what the visibility rule shows, in order.

The catalog mixes Team sets: Finance only (not the viewer's), Marketing, Everyone, a table of two Teams,
resources named alike across sets (the id breaks the tie), a listed column gated by a Finance table
and a deleted resource. Every page walked by cursor is compared with one plain query of the rule.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import sessionmaker

from datadesk.access.caller import Caller
from datadesk.access.visibility import visible_resources
from datadesk.catalog import service as catalog
from datadesk.catalog import teams
from datadesk.catalog.models import Resource
from datadesk.catalog.search_index import scope_key, walkable_scope_keys
from datadesk.db import StoreSession, transaction, utcnow
from tests.access.catalog_fill import fill
from tests.world import World

Sessions = sessionmaker[StoreSession]


@pytest.fixture
def mixed(sessions: Sessions, world: World) -> dict[str, Any]:
    a = world.a
    engine: Engine = sessions.kw["bind"]
    finance = fill(engine, a.id, [a.teams["Finance"]], tables=40)
    shared = fill(engine, a.id, [a.teams["Marketing"], a.everyone_id], tables=30, source="shared")
    with transaction(sessions, a.id) as session:
        both, gated, gone = finance.tables[3], shared.columns[4], shared.tables[5]
        teams.write(session, a.id, {both: [a.teams["Finance"], a.teams["Marketing"]]})
        session.execute(update(Resource).where(Resource.id == gated).values(gate_id=finance.tables[7]))
        session.execute(update(Resource).where(Resource.id == gone).values(deleted_at=utcnow()))
    return {"both": both, "gated": gated, "gone": gone}


def _walk(session: StoreSession, caller: Caller, **filters: Any) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        page, cursor = catalog.list_resources(session=session, caller=caller, limit=2, cursor=cursor, **filters)
        seen += [d.resource.id for d in page]
        if cursor is None:
            return seen


def _by_rule(session: StoreSession, caller: Caller, **filters: Any) -> list[str]:
    query = select(Resource.id).where(
        visible_resources(caller),
        Resource.sibling_id.is_(None),
        *(getattr(Resource, k) == v for k, v in filters.items()),
    )
    return list(session.scalars(query.order_by(Resource.qualified_name, Resource.id)))


@pytest.mark.parametrize("filters", [{}, {"type": "table"}, {"type": "column"}, {"type": "glossary_term"}])
def test_a_members_pages_are_the_rule_in_name_order(
    sessions: Sessions, world: World, mixed: dict[str, Any], filters: dict[str, str]
) -> None:
    viewer = world.a.caller("viewer")
    with transaction(sessions, world.a.id) as session:
        walked = _walk(session, viewer, **filters)
        expected = _by_rule(session, viewer, **filters)
        assert walked == expected and len(walked) > 2  # several pages
        assert len(set(walked)) == len(walked)
        everything = _by_rule(session, world.a.caller("admin"), **filters)
        assert _walk(session, world.a.caller("admin"), **filters) == everything
    assert len(everything) > len(walked)
    if not filters:
        assert mixed["both"] in walked and mixed["gated"] not in walked and mixed["gone"] not in walked


def test_a_member_in_no_team_of_the_catalog_gets_an_empty_page(sessions: Sessions, world: World, mixed: Any) -> None:
    outsider = Caller(workspace_id=world.a.id, user_id=world.a.viewer.id, role="viewer", team_ids=frozenset({"x" * 32}))
    with transaction(sessions, world.a.id) as session:
        assert walkable_scope_keys(session, outsider) == []
        assert catalog.list_resources(session=session, caller=outsider) == ([], None)


def test_every_resource_keeps_the_key_of_its_team_set(sessions: Sessions, world: World, mixed: Any) -> None:
    with transaction(sessions, world.a.id) as session:
        admin = world.a.caller("admin")
        table = catalog.list_resources(session=session, caller=admin, type="table")[0][0].resource.id
        catalog.update(
            session=session,
            caller=admin,
            resource_id=table,
            changes=catalog.Changes(team_ids=[world.a.teams["Marketing"]]),
        )
        rows = session.execute(select(Resource.search_scope, Resource.scope_key).where(Resource.deleted_at.is_(None)))
        assert all(key == scope_key(scope) and key for scope, key in rows)
        keys = set(walkable_scope_keys(session, world.a.caller("viewer")))
        marketing_only = session.scalar(select(Resource.scope_key).where(Resource.id == table))
        assert marketing_only in keys
