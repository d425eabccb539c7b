"""Siblings: a dbt node and the warehouse table it builds or reads are one asset.

Visibility follows the table (a node is seen only by who may see its table), sensitivity follows the
asset both ways (egress and sensitive_access), and search, lists and lineage show the asset once.
On the jaffle-shop artifacts with their warehouse, and on the demo catalog.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from alembic import command
from fastapi.testclient import TestClient
from rich.console import Console
from sqlalchemy import select

from datadesk import demo, store
from datadesk.catalog.models import Resource
from datadesk.db import transaction
from tests.ai.conftest import ask, configure, use
from tests.catalog.helpers import add_integration, by_name, search, sync
from tests.fakes.llm_server import FakeLLMServer, fake_llm, tool_call, tool_calls  # noqa: F401  (fixture)
from tests.web.conftest import sign_in
from tests.world import Person, World

JAFFLE = Path(__file__).resolve().parents[1] / "fixtures" / "dbt" / "jaffle-shop"
TABLE_TYPES = ("table", "view")
# The warehouse spells this column in capitals; dbt documents it in lower case: still one column.
SHOUTED = ("customers", "customer_name", "CUSTOMER_NAME")


def build_warehouse(path: Path) -> Path:
    """The warehouse dbt built (same relations and columns, no rows), one column spelt in capitals."""
    catalog = json.loads((JAFFLE / "catalog.json").read_text())
    conn = duckdb.connect(str(path))
    for node in [*catalog["nodes"].values(), *catalog["sources"].values()]:
        meta = node["metadata"]
        columns = sorted(node["columns"].values(), key=lambda c: c["index"])
        names = [
            SHOUTED[2] if (meta["schema"], meta["name"], c["name"]) == ("main", *SHOUTED[:2]) else c["name"]
            for c in columns
        ]
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{meta["schema"]}"')
        body = ", ".join(f'"{n}" {c["type"]}' for n, c in zip(names, columns, strict=True))
        conn.execute(f'CREATE TABLE IF NOT EXISTS "{meta["schema"]}"."{meta["name"]}" ({body})')
    conn.close()
    return path


@dataclass
class Jaffle:
    dwh: dict[str, Any]
    dbt: dict[str, Any]
    tables: dict[str, dict[str, Any]]  # the warehouse's resources by qualified name (admin's view)
    nodes: dict[str, dict[str, Any]]  # the dbt project's resources by qualified name (admin's view)

    def linked(self) -> list[dict[str, Any]]:
        """The dbt models, seeds, snapshots and sources that have a warehouse sibling."""
        return [n for n in self.nodes.values() if n["type"] in TABLE_TYPES and n["siblings"]]

    def faces(self) -> list[dict[str, Any]]:
        """Every linked node and every column of one."""
        linked = {n["id"] for n in self.linked()}
        return [n for n in self.nodes.values() if n["id"] in linked or n.get("parent_id") in linked]


SEMANTIC = ("semantic_model", "metric")


@pytest.fixture
def jaffle(client: TestClient, world: World, tmp_path: Path) -> Jaffle:
    """The jaffle-shop warehouse seen by Finance only, and its dbt project given to everyone."""
    warehouse = build_warehouse(tmp_path / "jaffle.duckdb")
    admin = world.a.admin
    dwh = add_integration(client, admin, "dwh", "duckdb", {"url": f"duckdb:///{warehouse}"}, [world.a.teams["Finance"]])
    dbt = add_integration(
        client,
        admin,
        "dbt",
        "dbt",
        {"manifest_path": str(JAFFLE / "manifest.json"), "catalog_path": str(JAFFLE / "catalog.json")},
    )
    for integration in (dwh, dbt):
        run = sync(client, admin, integration["id"])
        assert run["status"] == "succeeded", run["error"]
    return Jaffle(
        dwh,
        dbt,
        by_name(client, admin, integration_id=dwh["id"]),
        by_name(client, admin, integration_id=dbt["id"]),
    )


def status(client: TestClient, person: Person, path: str) -> int:
    return client.get(f"/api/v1{path}", headers=person.headers).status_code


def patch(client: TestClient, person: Person, resource_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.patch(f"/api/v1/resources/{resource_id}", json=body, headers=person.headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def get(client: TestClient, person: Person, resource_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/resources/{resource_id}", headers=person.headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def column(resource: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in resource["columns"] if c["name"].lower() == name.lower())


# --- visibility follows the table ---------------------------------------------------------------


def test_every_face_of_a_finance_table_is_404_to_marketing_and_open_to_finance_and_admins(
    client: TestClient, world: World, jaffle: Jaffle
) -> None:
    a = world.a
    linked, faces = jaffle.linked(), jaffle.faces()
    assert len(linked) == 25  # 13 models, 6 seeds, 6 sources, each on a warehouse table
    assert len(faces) > 100
    outcomes: dict[tuple[str, int], int] = {}
    for face in faces:
        for who, person, expected in (("viewer", a.viewer, 404), ("editor", a.editor, 200), ("admin", a.admin, 200)):
            got = status(client, person, f"/resources/{face['id']}")
            assert got == expected, (who, face["qualified_name"], got)
            outcomes[who, got] = outcomes.get((who, got), 0) + 1
    for node in linked:
        assert status(client, a.viewer, f"/resources/{node['id']}/lineage") == 404
        assert status(client, a.editor, f"/resources/{node['id']}/lineage") == 200
    assert outcomes == {("viewer", 404): len(faces), ("editor", 200): len(faces), ("admin", 200): len(faces)}
    # lists and search name none of them to the viewer, not even when browsing the dbt project
    face_ids = {f["id"] for f in faces}
    listed = by_name(client, a.viewer, integration_id=jaffle.dbt["id"])
    assert not face_ids & {r["id"] for r in listed.values()}
    assert "jaffle_shop" in listed  # what has no warehouse face keeps the dbt project's own Teams
    for node in linked:
        hits = search(client, a.viewer, node["name"], limit="100")
        assert not {h["id"] for h in hits} & (face_ids | {t["id"] for t in jaffle.tables.values()}), node["name"]
        assert all(not h["siblings"] for h in hits)
    # the stricter rule decides, not the dbt project's Everyone: Finance still finds them
    assert {h["id"] for h in search(client, a.editor, "customers")} & {jaffle.tables["jaffle.main.customers"]["id"]}


def test_changing_either_faces_teams_hides_or_reveals_the_node(
    client: TestClient, world: World, jaffle: Jaffle
) -> None:
    a = world.a
    table = jaffle.tables["jaffle.main.customers"]
    model = jaffle.nodes["model.jaffle_shop.customers"]
    model_column = jaffle.nodes["model.jaffle_shop.customers.customer_id"]
    other = jaffle.nodes["model.jaffle_shop.orders"]
    assert status(client, a.viewer, f"/resources/{model['id']}") == 404
    # the table moves to Marketing: its faces follow, the other tables' stay Finance's
    patch(client, a.admin, table["id"], {"team_ids": [a.teams["Marketing"]]})
    for face in (model, model_column):
        assert status(client, a.viewer, f"/resources/{face['id']}") == 200
        assert status(client, a.editor, f"/resources/{face['id']}") == 404
    assert status(client, a.viewer, f"/resources/{other['id']}") == 404
    assert model["id"] in {s["id"] for h in search(client, a.viewer, "customers") for s in h["siblings"]}
    # and back
    patch(client, a.admin, table["id"], {"team_ids": [a.teams["Finance"]]})
    assert status(client, a.viewer, f"/resources/{model['id']}") == 404
    assert status(client, a.editor, f"/resources/{model['id']}") == 200
    # the node's own Teams count too: a node given to Marketing is seen by no one but admins
    patch(client, a.admin, model["id"], {"team_ids": [a.teams["Marketing"]]})
    assert (
        status(client, a.viewer, f"/resources/{model['id']}"),
        status(client, a.editor, f"/resources/{model['id']}"),
    ) == (404, 404)
    assert status(client, a.admin, f"/resources/{model['id']}") == 200
    patch(client, a.admin, model["id"], {"team_ids": []})
    # the dbt integration's Teams: given to Marketing only, Finance loses the nodes of its own tables
    response = client.patch(
        f"/api/v1/integrations/{jaffle.dbt['id']}", json={"team_ids": [a.teams["Marketing"]]}, headers=a.admin.headers
    )
    assert response.status_code == 200, response.text
    assert status(client, a.editor, f"/resources/{other['id']}") == 404
    assert status(client, a.viewer, f"/resources/{other['id']}") == 404
    assert status(client, a.editor, f"/resources/{jaffle.tables['jaffle.main.orders']['id']}") == 200
    # the lineage known only through the dbt project is no longer walked for Finance; admins still walk it
    orders = jaffle.tables["jaffle.main.orders"]["id"]
    walked = client.get(f"/api/v1/resources/{orders}/lineage", headers=a.editor.headers).json()
    assert (walked["upstream"], walked["downstream"], walked["edges"]) == ([], [], [])
    assert client.get(f"/api/v1/resources/{orders}/lineage", headers=a.admin.headers).json()["upstream"]
    # a re-sync of either side changes nothing of this
    for integration in (jaffle.dwh, jaffle.dbt):
        assert sync(client, a.admin, integration["id"])["status"] == "succeeded"
    assert status(client, a.editor, f"/resources/{other['id']}") == 404
    assert status(client, a.admin, f"/resources/{other['id']}") == 200


def test_a_node_whose_warehouse_is_deleted_keeps_its_own_teams(
    client: TestClient, world: World, jaffle: Jaffle
) -> None:
    model = jaffle.nodes["model.jaffle_shop.customers"]
    assert status(client, world.a.viewer, f"/resources/{model['id']}") == 404
    response = client.delete(f"/api/v1/integrations/{jaffle.dwh['id']}", headers=world.a.admin.headers)
    assert response.status_code == 204
    seen = get(client, world.a.viewer, model["id"])
    assert seen["siblings"] == []
    assert "model.jaffle_shop.customers" in by_name(client, world.a.viewer)


# --- one entry ----------------------------------------------------------------------------------


def test_search_and_lists_show_each_asset_once_with_its_siblings(
    client: TestClient, world: World, jaffle: Jaffle
) -> None:
    admin = world.a.admin
    table = jaffle.tables["jaffle.main.customers"]
    model = jaffle.nodes["model.jaffle_shop.customers"]
    face_ids = {f["id"] for f in jaffle.faces()}
    hits = search(client, admin, "customers", limit="100")
    assert not {h["id"] for h in hits} & face_ids
    assert len({h["id"] for h in hits}) == len(hits)
    found = [h for h in hits if h["qualified_name"] == "jaffle.main.customers"]
    assert len(found) == 1
    assert [s["qualified_name"] for s in found[0]["siblings"]] == ["model.jaffle_shop.customers"]
    assert found[0]["description"].startswith("Customer overview data mart")  # the model's: the table has none
    raw = next(h for h in search(client, admin, "raw_customers") if h["qualified_name"] == "jaffle.raw.raw_customers")
    assert [s["qualified_name"] for s in raw["siblings"]] == [
        "seed.jaffle_shop.raw_customers",
        "source.jaffle_shop.ecom.raw_customers",
    ]
    # words only the model's description holds find the table
    words = search(client, admin, "overview data mart")
    assert "jaffle.main.customers" in {h["qualified_name"] for h in words}
    assert not {h["id"] for h in words} & face_ids
    # GET /resources: once, by the warehouse face, with the dbt facts merged
    everything = by_name(client, admin)
    assert not set(everything) & {f["qualified_name"] for f in jaffle.faces()}
    listed = everything["jaffle.main.customers"]
    assert [s["id"] for s in listed["siblings"]] == [model["id"]]
    assert listed["description"].startswith("Customer overview data mart")
    assert listed["properties"]["unique_id"] == "model.jaffle_shop.customers"
    assert listed["properties"]["materialized"] == "table"
    assert {"unique(customer_id)", "not_null(customer_id)"} <= set(listed["properties"]["tests"])
    assert column(get(client, admin, table["id"]), "customer_id")["description"]  # the model's, column by column
    # a tag filter finds the asset by a tag its sibling carries
    patch(client, admin, model["id"], {"tags": ["gold"]})
    assert [r["qualified_name"] for r in by_name(client, admin, tag="gold").values()] == ["jaffle.main.customers"]
    # the node still opens, and names its table
    node = get(client, admin, model["id"])
    assert [s["id"] for s in node["siblings"]] == [table["id"]]
    assert node["tags"] == ["gold"]


def test_lineage_collapses_siblings_and_lists_each_hop_once(client: TestClient, world: World, jaffle: Jaffle) -> None:
    admin = world.a.admin
    face_ids = {f["id"] for f in jaffle.faces()}
    orders = jaffle.tables["jaffle.main.orders"]
    first = client.get(f"/api/v1/resources/{orders['id']}/lineage", headers=admin.headers).json()
    assert {r["qualified_name"] for r in first["upstream"]} == {"jaffle.main.stg_orders", "jaffle.main.order_items"}
    assert {r["qualified_name"] for r in first["downstream"]} == {
        "jaffle.main.customers",
        "semantic_model.jaffle_shop.orders",
    }
    # the same asset seen from its model: the same lineage
    model = jaffle.nodes["model.jaffle_shop.orders"]
    assert client.get(f"/api/v1/resources/{model['id']}/lineage", headers=admin.headers).json() == first
    for table in jaffle.tables.values():
        if table["type"] not in TABLE_TYPES:
            continue
        found = client.get(
            f"/api/v1/resources/{table['id']}/lineage", params={"depth": 5}, headers=admin.headers
        ).json()
        for side in ("upstream", "downstream"):
            ids = [r["id"] for r in found[side]]
            assert len(ids) == len(set(ids)), (table["qualified_name"], side)
            assert table["id"] not in ids and not set(ids) & face_ids
    raw = jaffle.tables["jaffle.raw.raw_orders"]
    down = client.get(f"/api/v1/resources/{raw['id']}/lineage", params={"depth": 5}, headers=admin.headers).json()
    assert {"jaffle.main.stg_orders", "jaffle.main.orders", "jaffle.main.customers"} <= {
        r["qualified_name"] for r in down["downstream"]
    }


def test_pages_show_the_asset_once_and_name_its_siblings(client: TestClient, world: World, jaffle: Jaffle) -> None:
    table = jaffle.tables["jaffle.main.customers"]
    model = jaffle.nodes["model.jaffle_shop.customers"]
    sign_in(client, world.a.editor)
    page = client.get(f"/resources/{table['id']}")
    assert page.status_code == 200
    assert f'href="/resources/{model["id"]}"' in page.text and "model.jaffle_shop.customers" in page.text
    assert "unique(customer_id)" in page.text and "Customer overview data mart" in page.text
    node = client.get(f"/resources/{model['id']}")
    assert node.status_code == 200 and f'href="/resources/{table["id"]}"' in node.text
    results = client.get("/", params={"q": "customers"}).text
    assert results.count(f'href="/resources/{table["id"]}"') == 1
    assert f'class="result-title" href="/resources/{model["id"]}"' not in results
    sign_in(client, world.a.viewer)
    assert client.get(f"/resources/{model['id']}").status_code == 404
    assert "model.jaffle_shop.customers" not in client.get("/", params={"q": "customers"}).text


# --- sensitivity follows the asset --------------------------------------------------------------


def test_a_sensitive_tag_on_either_face_holds_for_the_other_in_sql(
    client: TestClient, world: World, jaffle: Jaffle
) -> None:
    a = world.a
    table = jaffle.tables["jaffle.main.customers"]
    shouted = jaffle.tables[f"jaffle.main.customers.{SHOUTED[2]}"]
    model = jaffle.nodes["model.jaffle_shop.customers"]
    # the warehouse's CUSTOMER_NAME and dbt's customer_name are one column
    patch(client, a.admin, shouted["id"], {"tags": ["pii"]})
    assert "pii" in column(get(client, a.admin, model["id"]), "customer_name")["tags"]
    assert "pii" in get(client, a.admin, jaffle.nodes["model.jaffle_shop.customers.customer_name"]["id"])["tags"]
    # a dbt column's tag holds for the warehouse column when SQL reads it
    patch(client, a.admin, jaffle.nodes["model.jaffle_shop.customers.customer_id"]["id"], {"tags": ["pii"]})
    assert "pii" in column(get(client, a.admin, table["id"]), "customer_id")["tags"]
    configure(client, a.admin, run_sql_enabled=True)
    grants = {"query_access": [f"user:{a.editor.id}"], "sensitive_access": []}
    response = client.put(f"/api/v1/integrations/{jaffle.dwh['id']}/permissions", json=grants, headers=a.admin.headers)
    assert response.status_code == 200, response.text

    def run(sql: str) -> Any:
        return client.post(
            "/api/v1/sql", json={"integration_id": jaffle.dwh["id"], "sql": sql}, headers=a.editor.headers
        )

    assert run("SELECT count_lifetime_orders FROM main.customers").status_code == 200
    for sql in ("SELECT customer_id FROM main.customers", f"SELECT {SHOUTED[2]} FROM main.customers"):
        refused = run(sql)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "sensitive_column", sql
    # a table-level tag on the model holds for every column of the table
    patch(client, a.admin, jaffle.nodes["model.jaffle_shop.orders"]["id"], {"tags": ["sensitive"]})
    assert run("SELECT order_id FROM main.orders").json()["error"]["code"] == "sensitive_column"
    grants["sensitive_access"] = [f"user:{a.editor.id}"]
    client.put(f"/api/v1/integrations/{jaffle.dwh['id']}/permissions", json=grants, headers=a.admin.headers)
    for sql in ("SELECT customer_id, CUSTOMER_NAME FROM main.customers", "SELECT order_id FROM main.orders"):
        assert run(sql).status_code == 200, sql


def test_a_pii_warehouse_column_keeps_its_dbt_sibling_from_an_external_provider(
    client: TestClient,
    world: World,
    jaffle: Jaffle,
    fake_llm: FakeLLMServer,  # noqa: F811  (the fixture imported above)
) -> None:
    a = world.a
    secret, plain = f"SECRET{uuid.uuid4().hex[:10]}", f"PLAIN{uuid.uuid4().hex[:10]}"
    model = jaffle.nodes["model.jaffle_shop.customers"]
    patch(client, a.admin, jaffle.nodes["model.jaffle_shop.customers.customer_name"]["id"], {"description": secret})
    patch(client, a.admin, jaffle.nodes["model.jaffle_shop.customers.customer_type"]["id"], {"description": plain})
    use(client, a.admin, fake_llm, "openai")

    def sent_for(*steps: Any) -> str:
        fake_llm.clear()
        fake_llm.script(*steps)
        response = ask(client, a.editor, "customers names and types")
        assert response.status_code == 200, response.text
        return fake_llm.all_request_strings()

    calls = tool_calls(
        ("get_resource", {"resource_id": model["id"]}),
        ("get_resource", {"resource_id": jaffle.tables["jaffle.main.customers"]["id"]}),
        ("get_resource", {"resource_id": jaffle.nodes["model.jaffle_shop.customers.customer_name"]["id"]}),
        ("search_catalog", {"query": "customers"}),
    )
    before = sent_for(calls, "ok")
    assert secret in before and plain in before  # untagged, both go: the check below can fail
    patch(client, a.admin, jaffle.tables[f"jaffle.main.customers.{SHOUTED[2]}"]["id"], {"tags": ["pii"]})
    after = sent_for(calls, "ok")
    assert secret not in after and plain in after
    # a table-level pii tag on the warehouse table keeps the whole model home
    patch(client, a.admin, jaffle.tables["jaffle.main.customers"]["id"], {"tags": ["pii"]})
    home = sent_for(tool_call("get_resource", {"resource_id": model["id"]}), "ok")
    assert plain not in home and "model.jaffle_shop.customers" not in home


# --- the store ----------------------------------------------------------------------------------


def test_the_migration_finds_the_siblings_of_a_catalog_synced_before_it(
    client: TestClient, world: World, jaffle: Jaffle, app: Any
) -> None:
    def siblings() -> dict[str, tuple[str | None, str | None]]:
        with transaction(app.state.sessions, world.a.id) as session:
            # Semantic models and metrics came after that migration: faces of tables only.
            rows = session.execute(select(Resource.id, Resource.sibling_id, Resource.gate_id, Resource.type))
            return {
                rid: (sibling, gate) for rid, sibling, gate, kind in rows if gate is not None and kind not in SEMANTIC
            }

    synced = siblings()
    assert len(synced) == len(jaffle.faces())
    client.portal.call(app.state.jobs.stop)  # type: ignore[union-attr]  # as an operator stops the server to migrate
    config = store.alembic_config()
    try:
        with app.state.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "20261204_0008")
    finally:
        store.upgrade(app.state.engine)
    assert siblings() == synced


# --- the demo -----------------------------------------------------------------------------------


def test_on_the_demo_mark_sees_no_face_of_finances_tables(client: TestClient, app: Any, settings: Any) -> None:
    demo.ensure(app.state.sessions, settings, Console(quiet=True))
    people = {}
    for login in demo.LOGINS:
        body = client.post(
            "/api/v1/auth/login", json={"email": login.email, "password": login.password, "workspace": login.workspace}
        ).json()
        people[login.role] = Person(body["user"]["id"], login.email, login.role, body["token"])
    admin, fiona, mark = people["admin"], people["editor"], people["viewer"]
    integrations = client.get("/api/v1/integrations", headers=admin.headers).json()["integrations"]
    dbt = next(i for i in integrations if i["type"] == "dbt")
    finance = next(
        t["id"] for t in client.get("/api/v1/teams", headers=admin.headers).json()["teams"] if t["name"] == "Finance"
    )
    nodes = by_name(client, admin, integration_id=dbt["id"])
    tables = {r["id"]: r for r in by_name(client, admin).values()}
    of_finance = {
        n["id"]
        for n in nodes.values()
        if n["type"] in TABLE_TYPES and n["siblings"] and tables[n["siblings"][0]["id"]]["team_ids"] == [finance]
    }
    faces = [n for n in nodes.values() if n["id"] in of_finance or n.get("parent_id") in of_finance]
    assert "source.acme_analytics.finance.accounts" in {f["qualified_name"] for f in faces}
    assert (len(of_finance), len(faces)) == (6, 70)  # the six finance sources and their 64 columns
    for face in faces:
        assert status(client, mark, f"/resources/{face['id']}") == 404, face["qualified_name"]
        assert status(client, fiona, f"/resources/{face['id']}") == 200, face["qualified_name"]
        assert status(client, admin, f"/resources/{face['id']}") == 200, face["qualified_name"]
    for node_id in of_finance:
        assert status(client, mark, f"/resources/{node_id}/lineage") == 404
    face_ids = {f["id"] for f in faces}
    assert not face_ids & {r["id"] for r in by_name(client, mark, integration_id=dbt["id"]).values()}
    for word in ("accounts", "invoices", "billing_email", "mrr", "payments"):
        hits = search(client, mark, word, limit="100")
        assert not {h["id"] for h in hits} & face_ids, word
        assert not any(s["id"] in face_ids for h in hits for s in h["siblings"]), word
    # one entry per physical table: no dbt face is listed or found on its own
    admin_tables = by_name(client, admin, type="table")
    assert not set(admin_tables) & {n["qualified_name"] for n in nodes.values() if n["siblings"]}
    accounts = [h for h in search(client, admin, "accounts", limit="100") if h["name"] == "accounts"]
    assert [h["qualified_name"] for h in accounts] == ["acme.finance.accounts"]
    assert "source.acme_analytics.finance.accounts" in {s["qualified_name"] for s in accounts[0]["siblings"]}
    # the pii of finance.accounts is the dbt source's too
    source = get(client, admin, nodes["source.acme_analytics.finance.accounts"]["id"])
    assert "pii" in source["tags"] and "pii" in column(source, "billing_email")["tags"]


def test_semantic_models_and_metrics_are_gated_like_the_tables_they_read(
    client: TestClient, world: World, jaffle: Jaffle
) -> None:
    a = world.a
    semantic = jaffle.nodes["semantic_model.jaffle_shop.orders"]
    metric = jaffle.nodes["metric.jaffle_shop.order_total"]
    assert semantic["type"] == "semantic_model" and metric["type"] == "metric"
    for rid in (semantic["id"], metric["id"]):
        assert status(client, a.editor, f"/resources/{rid}") == 200  # Finance sees the warehouse's tables
        assert status(client, a.viewer, f"/resources/{rid}") == 404  # Marketing does not: nor their measures
    found = {
        h["id"]
        for h in client.get("/api/v1/search", params={"q": "order total"}, headers=a.viewer.headers).json()["results"]
    }
    assert not found & {semantic["id"], metric["id"]}
    # given to Marketing too, the warehouse's tables open the semantic layer on them
    response = client.patch(
        f"/api/v1/integrations/{jaffle.dwh['id']}",
        json={"team_ids": [a.teams["Finance"], a.teams["Marketing"]]},
        headers=a.admin.headers,
    )
    assert response.status_code == 200, response.text
    assert status(client, a.viewer, f"/resources/{metric['id']}") == 200
