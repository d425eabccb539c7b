"""Lineage with edges through the API, the MCP server and the resource page: columns, filters, hidden hops."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.catalog.helpers import add_integration, by_name, sync
from tests.catalog.sources import chain_ddl, execute
from tests.mcp.conftest import connect, mcp_url, run, text_of, unfence  # noqa: F401 (mcp_url: a fixture)
from tests.world import Person, World

# paid_orders reads orders and customers, totals reads paid_orders, top reads totals.
DDL = chain_ddl()


@pytest.fixture
def chain(client: TestClient, world: World, tmp_path: Path) -> dict[str, dict[str, Any]]:
    """The views synced into workspace A on an integration everyone sees."""
    path = tmp_path / "chain.db"
    execute(path, DDL)
    integration = add_integration(client, world.a.admin, "chain", "sqlite", {"url": f"sqlite:///{path}"})
    run = sync(client, world.a.admin, integration["id"])
    assert run["status"] == "succeeded", run
    assert run["stats"]["lineage_unparsed"] == 0
    return by_name(client, world.a.admin, integration_id=integration["id"])


def lineage(client: TestClient, person: Person, resource: dict[str, Any], depth: int = 1) -> dict[str, Any]:
    response = client.get(
        f"/api/v1/resources/{resource['id']}/lineage", params={"depth": depth}, headers=person.headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def names(body: dict[str, Any], side: str) -> list[tuple[str, int]]:
    return [(n["qualified_name"] or n["id"], n["depth"]) for n in body[side]]


def edges(body: dict[str, Any]) -> set[tuple[str, str, str, int]]:
    """Edges by qualified name (hidden nodes by their opaque id)."""
    label = {n["id"]: n["qualified_name"] or n["id"] for n in [*body["upstream"], *body["downstream"]]}
    label[body["resource"]["id"]] = body["resource"]["qualified_name"]
    return {(label[e["from"]], label[e["to"]], e["kind"], e["depth"]) for e in body["edges"]}


def test_a_column_comes_from_the_columns_its_value_is_computed_from(
    client: TestClient, world: World, chain: dict[str, dict[str, Any]]
) -> None:
    body = lineage(client, world.a.admin, chain["chain.main.top.total"], depth=3)
    assert names(body, "upstream") == [
        ("chain.main.totals.total", 1),
        ("chain.main.paid_orders.amount_usd", 2),
        ("chain.main.orders.amount", 3),
    ]
    assert edges(body) == {
        ("chain.main.totals.total", "chain.main.top.total", "value", 1),
        ("chain.main.paid_orders.amount_usd", "chain.main.totals.total", "value", 2),
        ("chain.main.orders.amount", "chain.main.paid_orders.amount_usd", "value", 3),
    }
    assert body["downstream"] == []


def test_join_and_filter_columns_bear_on_the_whole_view_not_on_a_value(
    client: TestClient, world: World, chain: dict[str, dict[str, Any]]
) -> None:
    status = lineage(client, world.a.admin, chain["chain.main.orders.status"], depth=2)
    assert edges(status) == {
        ("chain.main.orders.status", "chain.main.paid_orders", "filter", 1),
        ("chain.main.paid_orders", "chain.main.totals", "value", 2),
    }
    key = lineage(client, world.a.admin, chain["chain.main.customers.id"])
    assert edges(key) == {("chain.main.customers.id", "chain.main.paid_orders", "filter", 1)}
    # the view's own upstream is table-level: what it reads
    view = lineage(client, world.a.admin, chain["chain.main.paid_orders"])
    assert names(view, "upstream") == [("chain.main.customers", 1), ("chain.main.orders", 1)]
    assert {e[2] for e in edges(view)} == {"value"}
    amount = lineage(client, world.a.admin, chain["chain.main.paid_orders.amount_usd"])
    assert names(amount, "upstream") == [("chain.main.orders.amount", 1)]  # the filter's status is not a source


def test_a_hidden_middle_hop_is_an_opaque_node_in_every_door(
    client: TestClient,
    world: World,
    chain: dict[str, dict[str, Any]],
    mcp_url: str,  # noqa: F811  (the fixture imported above)
) -> None:
    totals = chain["chain.main.totals"]
    curated = client.patch(
        f"/api/v1/resources/{totals['id']}",
        json={"team_ids": [world.a.teams["Finance"]]},
        headers=world.a.admin.headers,
    )
    assert curated.status_code == 200, curated.text
    viewer = world.a.viewer  # Marketing: sees top and paid_orders, not totals
    assert client.get(f"/api/v1/resources/{totals['id']}", headers=viewer.headers).status_code == 404
    secret = [r["id"] for name, r in chain.items() if name.startswith("chain.main.totals")]

    body = lineage(client, viewer, chain["chain.main.top.total"], depth=3)
    assert names(body, "upstream") == [
        ("hidden-1", 1),
        ("chain.main.paid_orders.amount_usd", 2),
        ("chain.main.orders.amount", 3),
    ]
    assert body["upstream"][0] == {
        "id": "hidden-1",
        "type": "hidden",
        "name": "",
        "qualified_name": "",
        "depth": 1,
        "hidden": True,
    }
    assert edges(body) == {
        ("hidden-1", "chain.main.top.total", "value", 1),
        ("chain.main.paid_orders.amount_usd", "hidden-1", "value", 2),
        ("chain.main.orders.amount", "chain.main.paid_orders.amount_usd", "value", 3),
    }
    table = lineage(client, viewer, chain["chain.main.paid_orders"], depth=2)
    assert names(table, "downstream") == [("hidden-1", 1), ("chain.main.top", 2)]
    admin = lineage(client, world.a.admin, chain["chain.main.top.total"], depth=3)
    assert names(admin, "upstream")[0] == ("chain.main.totals.total", 1)
    # the hidden view is not a start either
    hidden = client.get(f"/api/v1/resources/{totals['id']}/lineage", headers=viewer.headers)
    assert hidden.status_code == 404

    async def mcp() -> Any:
        async with connect(mcp_url, viewer.token) as session:
            answer = await session.call_tool(
                "get_lineage", {"resource_id": chain["chain.main.top.total"]["id"], "depth": 3}
            )
            return text_of(answer)

    reply = run(mcp)
    item = unfence(reply)[0]
    assert [n["id"] for n in item["upstream"]] == [n["id"] for n in body["upstream"]]
    assert item["upstream"][0] == {"id": "hidden-1", "hidden": True, "depth": 1}
    assert {(e["from"], e["to"], e["kind"]) for e in item["edges"]} == {
        (e["from"], e["to"], e["kind"]) for e in body["edges"]
    }
    page = client.get(f"/resources/{chain['chain.main.top.total']['id']}", headers=viewer.headers)
    assert page.status_code == 200
    for text in (json.dumps(body), reply, page.text):
        assert "totals" not in text and not [i for i in secret if i in text]


def test_lineage_of_a_view_whose_sql_does_not_parse_keeps_its_table_lineage(
    client: TestClient, world: World, tmp_path: Path
) -> None:
    path = tmp_path / "odd.db"
    # SQLite takes any words as a type name; sqlglot reads no such CAST.
    execute(path, "CREATE TABLE t (a INTEGER);\nCREATE VIEW v AS SELECT CAST(a AS weird type name) AS a FROM t;")
    integration = add_integration(client, world.a.admin, "odd", "sqlite", {"url": f"sqlite:///{path}"})
    run = sync(client, world.a.admin, integration["id"])
    assert run["status"] == "succeeded", run
    assert run["stats"]["lineage_unparsed"] == 1
    found = by_name(client, world.a.admin, integration_id=integration["id"])
    body = lineage(client, world.a.admin, found["odd.main.v"])
    assert names(body, "upstream") == [("odd.main.t", 1)]
    assert lineage(client, world.a.admin, found["odd.main.v.a"])["upstream"] == []
