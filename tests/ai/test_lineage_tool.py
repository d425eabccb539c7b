"""The assistant's lineage: the get_lineage tool and the local provider's answers about where a table or a
column comes from and what depends on it, with hidden and sensitive hops kept unnamed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.ai.conftest import ask, use
from tests.catalog.helpers import add_integration, by_name, sync
from tests.catalog.sources import chain_ddl, execute
from tests.fakes.llm_server import FakeLLMServer, text, tool_call
from tests.world import Person, World

# orders -> paid_orders (joins customers, keeps paid ones) -> customer_totals (a CTE summing) -> top (the big ones)
DDL = chain_ddl("customer_totals", "customer, total, total * 1.21 AS revenue")
Chain = dict[str, dict[str, Any]]


@pytest.fixture
def chain(client: TestClient, world: World, tmp_path: Path) -> Chain:
    path = tmp_path / "chain.db"
    execute(path, DDL)
    integration = add_integration(client, world.a.admin, "chain", "sqlite", {"url": f"sqlite:///{path}"})
    run = sync(client, world.a.admin, integration["id"])
    assert run["status"] == "succeeded", run
    found = by_name(client, world.a.admin, integration_id=integration["id"])
    return {name.removeprefix("chain.main."): r for name, r in found.items()}


def hide_totals(client: TestClient, world: World, chain: Chain) -> list[str]:
    """The middle view curated to Finance: the viewer (Marketing) sees neither it nor its columns."""
    response = client.patch(
        f"/api/v1/resources/{chain['customer_totals']['id']}",
        json={"team_ids": [world.a.teams["Finance"]]},
        headers=world.a.admin.headers,
    )
    assert response.status_code == 200, response.text
    return [r["id"] for name, r in chain.items() if name.split(".")[0] == "customer_totals"]


def tag(client: TestClient, world: World, resource: dict[str, Any], *tags: str) -> None:
    response = client.patch(
        f"/api/v1/resources/{resource['id']}", json={"tags": list(tags)}, headers=world.a.admin.headers
    )
    assert response.status_code == 200, response.text


def answer(client: TestClient, person: Person, question: str) -> dict[str, Any]:
    response = ask(client, person, question)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def cited(body: dict[str, Any]) -> set[str]:
    return {c["resource_id"] for c in body["citations"]}


def lines(body: dict[str, Any], start: str) -> list[str]:
    return [line for line in body["answer"].splitlines() if line.startswith(start)]


def unfence(text_: str) -> list[dict[str, Any]]:
    body = text_.split("\n", 1)[1].rsplit("\n", 1)[0]
    items: list[dict[str, Any]] = json.loads(body)
    return items


# --- the local provider ---------------------------------------------------------------------------


def test_where_a_column_comes_from_hop_by_hop(client: TestClient, world: World, chain: Chain) -> None:
    body = answer(client, world.a.editor, "where does top.total come from")
    text_ = body["answer"]
    assert text_.startswith("**total** (column of chain.main.top)"), text_
    assert lines(body, "- 1 hop up:") == ["- 1 hop up: **total** (column of chain.main.customer_totals)"]
    assert lines(body, "- 2 hops up:") == ["- 2 hops up: **amount_usd** (column of chain.main.paid_orders)"]
    assert lines(body, "- 3 hops up:") == ["- 3 hops up: **amount** (column of chain.main.orders)"]
    # the filters deciding which rows are kept are named apart, not as sources of the value
    [filtered] = [line for line in text_.splitlines() if line.startswith("- **paid_orders**")]
    assert "rows filtered by" in filtered and "`orders.status`" in filtered
    expected = {
        chain[n]["id"] for n in ("top.total", "customer_totals.total", "paid_orders.amount_usd", "orders.amount")
    }
    assert expected | {chain["orders.status"]["id"]} <= cited(body)


@pytest.mark.parametrize(
    "question",
    [
        "where does amount_usd in paid_orders come from?",
        "what is paid_orders.amount_usd computed from",
        "Where does the amount_usd column of paid_orders come from",
    ],
)
def test_a_column_is_found_however_it_is_named(client: TestClient, world: World, chain: Chain, question: str) -> None:
    body = answer(client, world.a.editor, question)
    assert body["answer"].startswith("**amount_usd** (column of chain.main.paid_orders)"), body["answer"]
    assert lines(body, "- 1 hop up:") == ["- 1 hop up: **amount** (column of chain.main.orders)"]
    assert "`orders.status`" in body["answer"] and "`customers.id`" in body["answer"]
    assert chain["orders.amount"]["id"] in cited(body)


@pytest.mark.parametrize(
    "question",
    ["what depends on amount_usd in paid_orders", "what breaks if I drop the amount_usd column of paid_orders"],
)
def test_a_column_downstream_is_found_however_it_is_named(
    client: TestClient, world: World, chain: Chain, question: str
) -> None:
    body = answer(client, world.a.editor, question)
    assert "These depend on **amount_usd** (column of chain.main.paid_orders)" in body["answer"], body["answer"]
    assert lines(body, "- 1 hop down:") == ["- 1 hop down: **total** (column of chain.main.customer_totals)"]


def test_the_number_in_a_table_is_its_column(client: TestClient, world: World, chain: Chain) -> None:
    body = answer(client, world.a.editor, "where does the revenue number in top come from?")
    assert body["answer"].startswith("**revenue** (column of chain.main.top)"), body["answer"]
    assert lines(body, "- 1 hop up:") == ["- 1 hop up: **total** (column of chain.main.customer_totals)"]


def test_what_breaks_if_a_column_is_dropped(client: TestClient, world: World, chain: Chain) -> None:
    body = answer(client, world.a.editor, "what breaks if I drop orders.amount?")
    assert "may break" in body["answer"]
    assert lines(body, "- 1 hop down:") == ["- 1 hop down: **amount_usd** (column of chain.main.paid_orders)"]
    assert lines(body, "- 2 hops down:") == ["- 2 hops down: **total** (column of chain.main.customer_totals)"]
    assert lines(body, "- 3 hops down:") == [
        "- 3 hops down: **top** (view in chain.main) (the rows it keeps), **revenue** (column of chain.main.top), "
        "**total** (column of chain.main.top)"
    ]
    assert chain["paid_orders.amount_usd"]["id"] in cited(body)


def test_a_filter_column_breaks_the_rows_of_the_table_it_filters(
    client: TestClient, world: World, chain: Chain
) -> None:
    body = answer(client, world.a.editor, "what depends on the status column of orders")
    [first] = lines(body, "- 1 hop down:")
    assert "**paid_orders** (view in chain.main)" in first and "(the rows it keeps)" in first
    assert "**customer_totals** (view in chain.main)" in lines(body, "- 2 hops down:")[0]


def test_what_depends_on_a_table_grouped_by_hop(client: TestClient, world: World, chain: Chain) -> None:
    body = answer(client, world.a.editor, "what depends on orders")
    assert lines(body, "- 1 hop down:") == ["- 1 hop down: **paid_orders** (view in chain.main)"]
    assert lines(body, "- 2 hops down:") == ["- 2 hops down: **customer_totals** (view in chain.main)"]
    assert lines(body, "- 3 hops down:") == ["- 3 hops down: **top** (view in chain.main)"]
    body = answer(client, world.a.editor, "what feeds paid_orders")
    assert lines(body, "- 1 hop up:") == [
        "- 1 hop up: **customers** (table in chain.main), **orders** (table in chain.main)"
    ]
    assert "`orders.status`" in body["answer"]


def test_a_hidden_step_is_counted_and_never_named(client: TestClient, world: World, chain: Chain) -> None:
    secret = hide_totals(client, world, chain)
    viewer = world.a.viewer
    up = answer(client, viewer, "where does top.total come from")
    assert lines(up, "- 1 hop up:") == ["- 1 hop up: 1 asset you cannot see"]
    assert lines(up, "- 2 hops up:") == ["- 2 hops up: **amount_usd** (column of chain.main.paid_orders)"]
    # top keeps the rows whose total passes its filter: a column of the hidden view, counted only
    assert "1 column you cannot see" in up["answer"]
    down = answer(client, viewer, "what breaks if I drop orders.amount?")
    assert lines(down, "- 2 hops down:") == ["- 2 hops down: 1 asset you cannot see"]
    assert lines(down, "- 3 hops down:") == [
        "- 3 hops down: **top** (view in chain.main) (the rows it keeps), **revenue** (column of chain.main.top), "
        "**total** (column of chain.main.top)"
    ]
    table = answer(client, viewer, "what uses paid_orders")
    assert lines(table, "- 1 hop down:") == ["- 1 hop down: 1 asset you cannot see"]
    for body in (up, down, table):
        everything = json.dumps(body)
        assert "customer_totals" not in everything and not [i for i in secret if i in everything]
    # an admin sees the whole path
    admin = answer(client, world.a.admin, "where does top.total come from")
    assert lines(admin, "- 1 hop up:") == ["- 1 hop up: **total** (column of chain.main.customer_totals)"]


# --- the tool, as an external provider sees it ------------------------------------------------------


def lineage_item(fake: FakeLLMServer) -> dict[str, Any]:
    [result] = [r for r in fake.tool_results() if "catalog_metadata" in r]
    [item] = unfence(result)
    return item


def test_the_tool_is_offered_and_hides_what_the_person_cannot_see(
    client: TestClient, world: World, chain: Chain, fake_llm: FakeLLMServer
) -> None:
    secret = hide_totals(client, world, chain)
    use(client, world.a.admin, fake_llm, "openai")
    start = chain["top.total"]["id"]
    fake_llm.script(tool_call("get_lineage", {"resource_id": start, "depth": 3}), text("ok"))
    body = answer(client, world.a.viewer, "where does top.total come from")
    assert body["answer"] == "ok"
    offered = [t["function"]["name"] for t in fake_llm.completion_requests[0].json["tools"]]
    assert "get_lineage" in offered
    item = lineage_item(fake_llm)
    assert item["id"] == start and item["type"] == "column" and item["depth"] == 3
    assert item["upstream"] == [
        {"id": "hidden-1", "hidden": True, "depth": 1},
        {
            "id": chain["paid_orders.amount_usd"]["id"],
            "type": "column",
            "name": "amount_usd",
            "qualified_name": "chain.main.paid_orders.amount_usd",
            "depth": 2,
        },
        {
            "id": chain["orders.amount"]["id"],
            "type": "column",
            "name": "amount",
            "qualified_name": "chain.main.orders.amount",
            "depth": 3,
        },
    ]
    assert {(e["from"], e["to"], e["kind"], e["depth"]) for e in item["edges"]} == {
        ("hidden-1", start, "value", 1),
        (chain["paid_orders.amount_usd"]["id"], "hidden-1", "value", 2),
        (chain["orders.amount"]["id"], chain["paid_orders.amount_usd"]["id"], "value", 3),
    }
    # top's rows are filtered by a column of the hidden view: counted, not named
    [top_rows] = [f for f in item["row_filters"] if f["table"]["id"] == chain["top"]["id"]]
    assert top_rows["filtered_by"] == [] and top_rows["hidden_filters"] == 1
    sent = fake_llm.all_request_text() + fake_llm.all_request_strings()
    assert "customer_totals" not in sent and not [i for i in secret if i in sent]
    # the disclosure and the audit log record what the tool result disclosed
    assert chain["paid_orders.amount_usd"]["id"] in body["disclosure"]["resource_ids"]
    entries = client.get("/api/v1/audit/llm", headers=world.a.admin.headers).json()["entries"]
    assert chain["orders.amount"]["id"] in entries[0]["resource_ids"]
    assert not [i for e in entries for i in secret if i in e["resource_ids"]]


def test_a_column_is_reached_by_its_table_and_name(
    client: TestClient, world: World, chain: Chain, fake_llm: FakeLLMServer
) -> None:
    use(client, world.a.admin, fake_llm, "anthropic")
    args = {"resource_id": chain["paid_orders"]["id"], "column": "amount_usd", "depth": 2}
    fake_llm.script(tool_call("get_lineage", args), text("ok"))
    answer(client, world.a.editor, "where does the usd amount come from")
    item = lineage_item(fake_llm)
    assert item["id"] == chain["paid_orders.amount_usd"]["id"]
    assert [n["qualified_name"] for n in item["upstream"]] == ["chain.main.orders.amount"]
    assert [n["qualified_name"] for n in item["downstream"]] == [
        "chain.main.customer_totals.total",
        "chain.main.top",  # its rows are kept by their total
        "chain.main.top.revenue",
        "chain.main.top.total",
    ]
    [rows] = item["row_filters"]
    assert rows["table"]["qualified_name"] == "chain.main.paid_orders"
    assert {c["qualified_name"] for c in rows["filtered_by"]} >= {"chain.main.orders.status", "chain.main.customers.id"}


def test_a_sensitive_column_on_the_path_does_not_leave(
    client: TestClient, world: World, chain: Chain, fake_llm: FakeLLMServer
) -> None:
    tag(client, world, chain["paid_orders.amount_usd"], "pii")
    tag(client, world, chain["orders.status"], "pii")
    use(client, world.a.admin, fake_llm, "openai")
    fake_llm.script(
        tool_call("get_lineage", {"resource_id": chain["top.total"]["id"], "depth": 3}),
        text("ok"),
    )
    body = answer(client, world.a.editor, "where does top.total come from")
    item = lineage_item(fake_llm)
    assert [n.get("qualified_name", n["id"]) for n in item["upstream"]] == [
        "chain.main.customer_totals.total",
        "hidden-1",
        "chain.main.orders.amount",
    ]
    [paid] = [f for f in item["row_filters"] if f["table"]["qualified_name"] == "chain.main.paid_orders"]
    assert paid["hidden_filters"] == 1  # orders.status, counted only
    sent = fake_llm.all_request_text() + fake_llm.all_request_strings()
    for name in ("amount_usd", chain["paid_orders.amount_usd"]["id"], chain["orders.status"]["id"]):
        assert name not in sent
    assert chain["paid_orders.amount_usd"]["id"] not in body["disclosure"]["resource_ids"]
    # a sensitive start is not found at all
    fake_llm.clear()
    fake_llm.script(tool_call("get_lineage", {"resource_id": chain["paid_orders.amount_usd"]["id"]}), text("ok"))
    answer(client, world.a.editor, "lineage please")
    assert fake_llm.tool_results() == ["Not found."]


def test_the_local_provider_still_sees_a_sensitive_column(client: TestClient, world: World, chain: Chain) -> None:
    tag(client, world, chain["paid_orders.amount_usd"], "pii")  # nothing leaves this server
    body = answer(client, world.a.editor, "where does top.total come from")
    assert lines(body, "- 2 hops up:") == ["- 2 hops up: **amount_usd** (column of chain.main.paid_orders)"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"resource_id": "nope", "depth": 2}, "Not found."),
        ({"resource_id": "top", "depth": 9}, "Error: depth must be a whole number from one to five."),
        ({"resource_id": "top", "column": "no_such_column"}, "Not found."),
        ({"resource_id": "customer_totals"}, "Not found."),  # the viewer does not see it
    ],
)
def test_bad_calls_are_errors_the_model_sees(
    client: TestClient,
    world: World,
    chain: Chain,
    fake_llm: FakeLLMServer,
    args: dict[str, Any],
    expected: str,
) -> None:
    hide_totals(client, world, chain)
    use(client, world.a.admin, fake_llm, "openai")
    resolved = {k: chain[v]["id"] if k == "resource_id" and v in chain else v for k, v in args.items()}
    fake_llm.script(tool_call("get_lineage", resolved), text("ok"))
    answer(client, world.a.viewer, "lineage")
    assert fake_llm.tool_results() == [expected]
