"""The local provider: offline, deterministic answers with citations, and SQL through the Run SQL path."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from datadesk.ai.local.conversation import State
from datadesk.ai.providers.local import _answer
from tests.ai.conftest import Shop, allow_sql, ask
from tests.world import World


def answer(client: TestClient, world: World, question: str, who: str = "editor") -> dict:  # type: ignore[type-arg]
    response = ask(client, world.a.people[who], question)
    assert response.status_code == 200, response.text
    body: dict = response.json()  # type: ignore[type-arg]
    assert body["provider"] == "local" and body["disclosure"]["region"] == "this server"
    return body


def cited(body: dict) -> set[str]:  # type: ignore[type-arg]
    return {c["name"] for c in body["citations"]}


def test_who_owns(client: TestClient, world: World, shop: Shop) -> None:
    body = answer(client, world, "Who owns orders?")
    assert "Finance" in body["answer"] and cited(body) == {"orders"}


def test_define_a_glossary_term(client: TestClient, world: World, shop: Shop) -> None:
    body = answer(client, world, "What does gross revenue mean?")
    assert "Sum of order amounts before refunds." in body["answer"] and "Gross revenue" in cited(body)


def test_describe_a_table(client: TestClient, world: World, shop: Shop) -> None:
    body = answer(client, world, "Describe customers")
    assert "People who bought something." in body["answer"] and "customers" in cited(body)


def test_tagged_and_owned_by(client: TestClient, world: World, shop: Shop) -> None:
    body = answer(client, world, "Which tables are tagged core?")
    assert cited(body) == {"orders"}
    body = answer(client, world, "Which tables are owned by Finance?")
    assert cited(body) == {"orders"}


def test_tables_with_a_column_like(client: TestClient, world: World, shop: Shop) -> None:
    body = answer(client, world, "Which tables have a column like email?")
    assert "orders" in body["answer"] and "customers" in body["answer"]


def test_most_popular_tables(client: TestClient, world: World, shop: Shop) -> None:
    body = answer(client, world, "What are the most popular tables?")
    assert "orders" in body["answer"] and "campaign_hidden" not in body["answer"]


def test_lineage_questions(client: TestClient, world: World, shop: Shop, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    from tests.catalog.helpers import sync

    conn = sqlite3.connect(shop.path)
    conn.execute("CREATE VIEW big_orders AS SELECT id, amount FROM orders WHERE amount > 4250")
    conn.commit()
    conn.close()
    sync(client, world.a.admin, shop.integration_id)
    body = answer(client, world, "What feeds big_orders?")
    assert "**orders** (table in wh.main)" in body["answer"]
    body = answer(client, world, "What uses orders?")
    assert "big_orders" in body["answer"]


def test_no_answer_is_said_plainly(client: TestClient, world: World, shop: Shop) -> None:
    body = answer(client, world, "What is the airspeed of an unladen swallow?")
    assert body["answer"] == "The catalog holds no answer to that." and body["citations"] == []


def test_other_teams_resources_are_unknown_to_it(client: TestClient, world: World, shop: Shop) -> None:
    body = answer(client, world, "Describe campaign_hidden")
    assert "Marketing budgets" not in body["answer"] and "campaign_hidden" not in cited(body)


@pytest.mark.parametrize("granted", [False, True])
def test_counting_rows_goes_through_the_run_sql_path(
    client: TestClient, world: World, shop: Shop, granted: bool
) -> None:
    if granted:
        allow_sql(client, world, shop, [f"team:{world.a.teams['Finance']}"])
    body = answer(client, world, "How many rows in orders?")
    if not granted:
        assert body["sql_runs"] == [] and "Run SQL" in body["answer"]
        return
    [run] = body["sql_runs"]
    assert run["status"] == "succeeded" and run["rows"] == [[29]] and run["sql"].upper().startswith("SELECT COUNT(*)")
    assert "[[29]]" not in body["answer"] and "29" not in body["answer"].replace("(1 row(s))", "")


def test_showing_rows_skips_sensitive_columns(client: TestClient, world: World, shop: Shop) -> None:
    allow_sql(client, world, shop, ["role:editor"])
    body = answer(client, world, "Show rows of customers")
    [run] = body["sql_runs"]
    assert run["status"] == "succeeded" and [c["name"] for c in run["columns"]] == ["id", "full_name", "country"]


def test_the_viewer_without_query_access_is_told_why(client: TestClient, world: World, shop: Shop) -> None:
    allow_sql(client, world, shop, ["role:editor"])
    body = answer(client, world, "How many rows in orders?", who="viewer")
    assert body["sql_runs"] == [] and "query access" in body["answer"]


def test_who_is_responsible_asked_with_typos(client: TestClient, world: World, shop: Shop) -> None:
    body = answer(client, world, "hey whos the ownr of the ordres table??")
    assert "Finance" in body["answer"] and cited(body) == {"orders"}
    assert "**orders** (table in wh.main)" in body["answer"]


def test_columns_are_listed_with_or_without_a_description(client: TestClient, world: World, shop: Shop) -> None:
    body = answer(client, world, "what columns does the customers table have?")
    for column in ("id", "full_name", "country"):
        assert f"`{column}`" in body["answer"]
    assert "`email` (TEXT): Login address of the customer. [tags: pii]" in body["answer"]
    assert cited(body) == {"customers"}


def test_tables_holding_a_tag_as_people_say_it(client: TestClient, world: World, shop: Shop) -> None:
    body = answer(client, world, "which tables contain pii?")
    assert "salary_secrets" in body["answer"] and "orders" not in cited(body)


def test_joins_and_comparisons_name_both_tables(client: TestClient, world: World, shop: Shop) -> None:
    body = answer(client, world, "orders vs customers: what's the difference?")
    assert {"orders", "customers"} <= cited(body)
    assert "Every order placed in the web shop." in body["answer"] and "People who bought something." in body["answer"]


def test_an_unknown_name_gets_the_closest_matches_or_nothing(client: TestClient, world: World, shop: Shop) -> None:
    body = answer(client, world, "Describe campaign_hidden budgets")
    assert "campaign_hidden" not in body["answer"] and "Marketing budgets" not in body["answer"]
    assert "campaign_hidden" not in cited(body)


def test_the_local_answer_streams_in_pieces(client: TestClient, world: World, shop: Shop) -> None:
    with client.stream(
        "POST",
        "/api/v1/ai/ask",
        json={"question": "what columns does customers have?"},
        headers={**world.a.people["editor"].headers, "Accept": "text/event-stream"},
    ) as response:
        text = "".join(response.iter_text())
    deltas = [line for line in text.splitlines() if line == "event: delta"]
    assert len(deltas) > 1 and "event: done" in text


# --- handler steps, on cards handed straight to the provider ---------------------------------------

DOCKS = [
    {"id": "t1", "type": "table", "name": "vessels", "qualified_name": "port.main.vessels", "columns": []},
    {
        "id": "g1",
        "type": "glossary_term",
        "name": "Laytime",
        "qualified_name": "glossary.Laytime",
        "definition": "LT: time allowed to load. DT: demurrage time, past laytime.",
    },
]


def _step(question: str, cards: list[dict], results: list | None = None):  # type: ignore[no-untyped-def,type-arg]
    return _answer(State(question, cards, results or [], {"search_catalog", "get_resource", "list_resources"}))


def test_a_tag_that_is_also_a_table_name_is_tried_as_typed() -> None:
    [call] = _step("tables tagged with vessel", DOCKS).tool_calls
    assert call.name == "list_resources" and call.arguments == {"tag": "vessel"}


def test_two_names_of_one_term_compared_give_its_definition() -> None:
    reply = _step("LT vs DT?", DOCKS)
    assert reply.text.startswith("the **Laytime** glossary term [[g1]] means") and "demurrage" in reply.text


def test_nothing_named_lists_the_glossary_once_after_searching() -> None:
    searched = [("search_catalog", {"query": "berth rent"}, "No matching resources in the catalog.")]
    [call] = _step("what is berth rent", DOCKS, searched).tool_calls
    assert call.name == "list_resources" and call.arguments == {"type": "glossary_term", "limit": 25}


def test_a_word_no_card_knows_next_to_a_name_is_searched_first() -> None:
    [call] = _step("who owns the rotterdam vessels table", DOCKS).tool_calls
    assert call.name == "search_catalog" and "rotterdam" in call.arguments["query"]


def test_the_table_a_query_read_is_named_from_the_query() -> None:
    from datadesk.ai.local.querying import _table_of

    cards = [
        {"id": "a", "type": "table", "name": "raw_vessels", "integration_id": "i"},
        {"id": "b", "type": "table", "name": "vessels", "integration_id": "i"},
    ]
    state = State("", cards, [], set())
    assert _table_of(state, "i", 'SELECT COUNT(*) FROM "main"."vessels"') == cards[1]
