"""One path from resources to cards: the number of store queries does not grow with the number of resources.

On the jaffle-shop warehouse and its dbt project (siblings, columns, dbt lineage), with a pii tag.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from datadesk.ai import cards, egress
from datadesk.catalog.models import Resource
from datadesk.db import StoreSession, transaction
from tests.catalog.test_siblings import Jaffle, jaffle, patch  # noqa: F401  (fixture)
from tests.world import World

EXTERNAL = egress.Policy(external=True, sensitive_tags=("pii",))
CEILING = 30  # queries for any number of resources up to siblings.CHUNK


@contextmanager
def counted(session: StoreSession) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def tables(db: StoreSession, integration_id: str) -> list[Resource]:
    query = select(Resource).where(Resource.integration_id == integration_id, Resource.type.in_(("table", "view")))
    return list(db.scalars(query.order_by(Resource.qualified_name)))


@pytest.mark.parametrize("who", ["admin", "editor"])
@pytest.mark.parametrize("lineage", [False, True])
def test_cards_cost_the_same_number_of_queries_for_2_and_for_every_table(
    client: TestClient,
    world: World,
    jaffle: Jaffle,  # noqa: F811  (the fixture imported above)
    sessions: Any,
    who: str,
    lineage: bool,
) -> None:
    customers = jaffle.tables["jaffle.main.customers"]
    patch(client, world.a.admin, customers["columns"][1]["id"], {"tags": ["pii"]})
    caller = world.a.caller(who)
    counts, sizes = [], []
    for first in (2, 22, None):
        with transaction(sessions, world.a.id) as db:  # a fresh session: nothing known in advance
            resources = (tables(db, jaffle.dwh["id"]) + tables(db, jaffle.dbt["id"]))[:first]
            with counted(db) as statements:
                built = cards.build(db, caller, EXTERNAL, resources, lineage=lineage)
        counts.append(len(statements))
        sizes.append(len(built))
    assert sizes[:2] == [2, 22] and sizes[2] > 40
    # A few queries are skipped when a set comes out empty (no siblings among 2 tables, say); none repeat per resource.
    assert counts[1] == counts[2], f"{counts[1]} queries for 22 resources, {counts[2]} for {sizes[2]}"
    assert max(counts) <= CEILING, counts


def test_cards_carry_lineage_columns_and_siblings_and_keep_pii_home(
    client: TestClient,
    world: World,
    jaffle: Jaffle,  # noqa: F811  (the fixture imported above)
    db: StoreSession,
) -> None:
    db.seal(world.a.id)
    customers = jaffle.tables["jaffle.main.customers"]
    pii = customers["columns"][1]
    patch(client, world.a.admin, pii["id"], {"tags": ["pii"]})
    resources = {r.qualified_name: r for r in tables(db, jaffle.dwh["id"])}
    built = cards.cards(db, world.a.caller("admin"), EXTERNAL, list(resources.values()), lineage=True)
    by_name = {c["qualified_name"]: c for c in built}
    card = by_name["jaffle.main.customers"]
    assert pii["name"] not in [c["name"] for c in card["columns"]]
    assert card["siblings"] and card["upstream"]
    # The same card alone and among all others: the batch changes nothing of what a card says.
    alone = cards.cards(db, world.a.caller("admin"), EXTERNAL, [resources["jaffle.main.customers"]], lineage=True)
    assert alone == [card]
