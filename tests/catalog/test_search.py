"""Search: ranked full text, word splitting, prefixes, typos, filters, popularity, and visibility inside the query."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select, update

from datadesk.catalog import search as catalog_search
from datadesk.catalog.models import Resource, SearchTerm
from datadesk.catalog.search import words
from datadesk.db import transaction
from tests.catalog.helpers import search
from tests.world import World


@pytest.mark.parametrize(
    "text,expected",
    [
        ("customer_orders", ["customer", "orders"]),
        ("signupDate", ["signup", "date"]),
        ("HTTPRequestLog", ["http", "request", "log"]),
        ("mrr-by-month v2", ["mrr", "by", "month", "v2"]),
    ],
)
def test_words_split_snake_camel_and_kebab_case(text: str, expected: list[str]) -> None:
    assert words(text) == expected


def names(results: list[dict[str, Any]]) -> list[str]:
    return [r["qualified_name"] for r in results]


def test_name_matches_rank_first_and_tables_before_their_columns(
    client: TestClient, world: World, shops: dict[str, Any]
) -> None:
    assert names(search(client, world.a.viewer, "customers"))[0] == "open.main.customers"
    assert names(search(client, world.a.viewer, "big orders"))[0] == "open.main.big_orders"


def test_camel_case_columns_found_by_their_words(client: TestClient, world: World, shops: dict[str, Any]) -> None:
    assert names(search(client, world.a.viewer, "signup date"))[0] == "open.main.customers.signupDate"


def test_prefix_and_plural_matching(client: TestClient, world: World, shops: dict[str, Any]) -> None:
    assert "open.main.customers" in names(search(client, world.a.viewer, "custo"))
    assert "open.main.orders.amount_cents" in names(search(client, world.a.viewer, "amounts"))


def test_a_word_is_found_whole_even_when_longer_known_words_begin_with_it(
    client: TestClient, world: World, shops: dict[str, Any]
) -> None:
    """On PostgreSQL a query word becomes the few indexed words it begins; the word itself stays among them."""
    resources = shops["open_resources"]
    for name, description in (("open.main.orders", "Orders of 2024."), ("open.main.customers", "Plans for 2024q3.")):
        response = client.patch(
            f"/api/v1/resources/{resources[name]['id']}",
            json={"description": description},
            headers=world.a.editor.headers,
        )
        assert response.status_code == 200, response.text
    assert {"open.main.orders", "open.main.customers"} <= set(names(search(client, world.a.viewer, "2024")))
    assert "open.main.customers" in names(search(client, world.a.viewer, "2024q"))


@pytest.mark.parametrize("typo", ["custmers", "cutsomers", "custoemrs", "quantaty"])
def test_typos_are_tolerated(client: TestClient, world: World, shops: dict[str, Any], typo: str) -> None:
    assert search(client, world.a.viewer, typo), f"nothing found for {typo}"


def test_descriptions_tags_and_column_text_are_searched(
    client: TestClient, world: World, shops: dict[str, Any]
) -> None:
    items = shops["open_resources"]["open.main.order_items"]
    client.patch(
        f"/api/v1/resources/{items['id']}",
        json={"description": "Line items of each basket.", "tags": ["ledger"]},
        headers=world.a.editor.headers,
    )
    assert names(search(client, world.a.viewer, "basket"))[0] == "open.main.order_items"
    assert names(search(client, world.a.viewer, "ledger"))[0] == "open.main.order_items"
    # a table is found through its columns' names
    assert "open.main.order_items" in names(search(client, world.a.viewer, "sku", type="table"))


def test_filters(client: TestClient, world: World, shops: dict[str, Any]) -> None:
    assert {r["type"] for r in search(client, world.a.admin, "orders", type="column")} == {"column"}
    only_a = search(client, world.a.admin, "orders", integration_id=shops["a"]["id"])
    assert only_a and all(n.startswith("shop.") for n in names(only_a))
    finance = search(client, world.a.admin, "orders", team_id=world.a.teams["Finance"])
    assert finance and all(n.startswith("shop.") for n in names(finance))
    assert search(client, world.a.admin, "orders", tag="nonexistent") == []


def test_popularity_breaks_ties(client: TestClient, world: World, shops: dict[str, Any], sessions) -> None:  # type: ignore[no-untyped-def]
    before = names(search(client, world.a.admin, "orders", type="table"))
    assert set(before[:2]) == {"open.main.orders", "shop.main.orders"}
    loser = before[1]
    with transaction(sessions, world.a.id) as session:
        session.execute(update(Resource).where(Resource.qualified_name == loser).values(source_popularity=5000))
    assert names(search(client, world.a.admin, "orders", type="table"))[0] == loser


def test_bad_queries(client: TestClient, world: World, shops: dict[str, Any]) -> None:
    assert client.get("/api/v1/search", params={"q": ""}, headers=world.a.viewer.headers).status_code == 422
    for q in ['"', "*", "AND OR NOT", "NEAR(", "a:b", "'; DROP TABLE resource; --", "\u0000"]:
        response = client.get("/api/v1/search", params={"q": q}, headers=world.a.viewer.headers)
        assert response.status_code == 200, (q, response.text)


def test_ranking_reads_whole_resources_only_for_the_hits(
    world: World,
    shops: dict[str, Any],
    sessions,  # type: ignore[no-untyped-def]
) -> None:
    """Many candidates are ranked on a few fields; the wide rows (JSON, index text) are read for the hits alone."""
    loaded: list[str] = []
    listen = lambda target, _context: loaded.append(target.id)  # noqa: E731
    event.listen(Resource, "load", listen)
    try:
        with transaction(sessions, world.a.id) as db:
            caller = world.a.viewer.caller(world.a.id)
            hits = catalog_search.search(session=db, caller=caller, q="orders", limit=2)
            everything = catalog_search.search(session=db, caller=caller, q="orders", limit=50)
    finally:
        event.remove(Resource, "load", listen)
    assert len(everything) > 2 and len(hits) == 2
    assert all(h.resource.id == h.id and h.resource.search_body for h in hits)  # whole rows, no lazy loads
    assert sorted(loaded) == sorted({h.id for h in hits} | {h.id for h in everything})


def test_two_syncs_adding_the_same_new_words_at_once_both_succeed(sessions, world: World) -> None:  # type: ignore[no-untyped-def]
    """One sync's words are not yet committed when another adds them: the later one skips them, it does not fail."""
    first = sessions()
    first.seal(world.a.id)
    catalog_search.remember_terms(first, world.a.id, {"zebrafish"})
    failed: list[BaseException] = []

    def second() -> None:
        try:
            with transaction(sessions, world.a.id) as session:
                catalog_search.remember_terms(session, world.a.id, {"zebrafish", "okapi"})
        except BaseException as error:
            failed.append(error)

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(0.5)  # PostgreSQL: it waits on the first one's uncommitted row
    first.commit()
    first.close()
    thread.join(30)
    assert not thread.is_alive() and not failed, failed
    with transaction(sessions, world.a.id) as session:
        terms = session.scalars(select(SearchTerm.term).where(SearchTerm.term.in_(["zebrafish", "okapi"])))
        assert sorted(terms) == ["okapi", "zebrafish"]
