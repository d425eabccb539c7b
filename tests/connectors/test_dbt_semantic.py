"""dbt beyond models: semantic models and metrics as catalog resources, and data tests with their last result.

On the real jaffle-shop manifest (19 metrics, 6 semantic models, 23 tests) with a hand-written run_results.json
(see tests/fixtures/dbt/jaffle-shop/SOURCES.md), through the connector, the plan, a sync into the real store,
the API, the pages, and on the demo.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rich.console import Console

from datadesk import demo
from datadesk.catalog.snapshot_plan import Planned, plan
from datadesk.connectors.base import ConnectionFailed, MetricMeta, Snapshot
from datadesk.connectors.dbt import DbtConnector
from tests.catalog.helpers import add_integration, by_name, search, sync
from tests.web.conftest import csrf_of, sign_in
from tests.world import Person, World

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dbt" / "jaffle-shop"
MANIFEST, CATALOG, RUN_RESULTS = FIXTURES / "manifest.json", FIXTURES / "catalog.json", FIXTURES / "run_results.json"
ACCEPTED = "test.jaffle_shop.accepted_values_customers_customer_type__new__returning.d12f0947c8"
DAY = "2026-11-30"


@pytest.fixture(scope="module")
def snapshot() -> Snapshot:
    return DbtConnector(str(MANIFEST), str(CATALOG), str(RUN_RESULTS)).read()


def _item(snapshot: Snapshot, unique_id: str) -> MetricMeta:
    return next(m for m in snapshot.metrics if m.unique_id == unique_id)


# --- the connector ------------------------------------------------------------------------------


def test_every_metric_and_semantic_model_is_read(snapshot: Snapshot) -> None:
    manifest = json.loads(MANIFEST.read_text())
    assert Counter(m.kind for m in snapshot.metrics) == {"metric": 19, "semantic_model": 6}
    assert {m.unique_id for m in snapshot.metrics} == {*manifest["metrics"], *manifest["semantic_models"]}
    assert Counter(m.metric_type for m in snapshot.metrics if m.kind == "metric") == {
        "simple": 13,
        "derived": 3,
        "ratio": 2,
        "cumulative": 1,
    }
    semantic = [m for m in snapshot.metrics if m.kind == "semantic_model"]
    parts = Counter(key for m in semantic for key in ("entities", "measures", "dimensions") for _ in m.properties[key])
    assert parts == {"entities": 10, "measures": 13, "dimensions": 25}


def test_a_semantic_model_names_its_model_entities_measures_and_dimensions(snapshot: Snapshot) -> None:
    orders = _item(snapshot, "semantic_model.jaffle_shop.orders")
    assert (orders.name, orders.kind, orders.upstream_ids) == ("orders", "semantic_model", ["model.jaffle_shop.orders"])
    assert orders.description.startswith("Order fact table")
    props = orders.properties
    assert props["agg_time_dimension"] == "ordered_at" and "model" not in props  # the model is its lineage
    assert [(e["name"], e["type"], e["expr"]) for e in props["entities"]] == [
        ("order_id", "primary", ""),
        ("location", "foreign", "location_id"),
        ("customer", "foreign", "customer_id"),
    ]
    measures = {m["name"]: m for m in props["measures"]}
    assert set(measures) == {"order_total", "order_count", "tax_paid", "order_cost"}
    assert measures["order_count"] == {"name": "order_count", "agg": "sum", "expr": "1", "description": ""}
    dimensions = {d["name"]: d for d in props["dimensions"]}
    assert dimensions["ordered_at"] == {
        "name": "ordered_at",
        "type": "time",
        "expr": "ordered_at",
        "time_granularity": "day",
        "description": "",
    }
    assert (dimensions["order_total_dim"]["type"], dimensions["order_total_dim"]["expr"]) == (
        "categorical",
        "order_total",
    )
    items = {m["name"]: m for m in _item(snapshot, "semantic_model.jaffle_shop.order_item").properties["measures"]}
    assert items["food_revenue"]["expr"] == "case when is_food_item then product_price else 0 end"
    assert items["median_revenue"]["agg"] == "median"
    assert items["revenue"]["description"].startswith("The revenue generated for each order item")


def test_metrics_keep_label_type_params_and_filter(snapshot: Snapshot) -> None:
    revenue = _item(snapshot, "metric.jaffle_shop.revenue")
    assert (revenue.name, revenue.metric_type, revenue.upstream_ids) == (
        "Revenue",
        "simple",
        ["semantic_model.jaffle_shop.order_item"],
    )
    assert revenue.properties["label"] == "Revenue" and revenue.properties["type_params"] == {"measure": "revenue"}
    ratio = _item(snapshot, "metric.jaffle_shop.food_revenue_pct")
    assert ratio.properties["type_params"] == {
        "numerator": "food_revenue",
        "denominator": "revenue",
        "input_measures": ["food_revenue", "revenue"],
    }
    assert ratio.upstream_ids == ["metric.jaffle_shop.food_revenue", "metric.jaffle_shop.revenue"]
    growth = _item(snapshot, "metric.jaffle_shop.revenue_growth_mom").properties["type_params"]
    assert growth["expr"] == "(current_revenue - revenue_prev_month)*100/revenue_prev_month"
    assert growth["metrics"] == [
        {"name": "revenue", "alias": "current_revenue"},
        {"name": "revenue", "alias": "revenue_prev_month", "offset_window": "1 month"},
    ]
    new = _item(snapshot, "metric.jaffle_shop.new_customer_orders")
    assert new.properties["filter"] == "{{ Dimension('order_id__customer_order_number') }} = 1"
    assert new.description and new.upstream_ids == ["semantic_model.jaffle_shop.orders"]
    assert _item(snapshot, "metric.jaffle_shop.cumulative_revenue").metric_type == "cumulative"


def test_tests_carry_their_last_status(snapshot: Snapshot) -> None:
    assert len(snapshot.data_tests) == 23
    assert Counter(t.status for t in snapshot.data_tests) == {"pass": 19, "fail": 1, "warn": 1, "skipped": 1, "": 1}
    failed = next(t for t in snapshot.data_tests if t.unique_id == ACCEPTED)
    assert (failed.name, failed.attached_id, failed.column, failed.status, failed.failures) == (
        "accepted_values",
        "model.jaffle_shop.customers",
        "customer_type",
        "fail",
        3,
    )
    assert failed.at == "2026-11-30T06:01:13Z"  # the execute step's completed_at, to the second
    skipped = next(t for t in snapshot.data_tests if t.status == "skipped")
    assert skipped.at == "2026-11-30T06:02:03Z"  # no timing: the file's generated_at
    unrun = next(t for t in snapshot.data_tests if t.status == "")
    assert (unrun.name, unrun.column, unrun.at, unrun.failures) == ("unique", "supply_uuid", "", None)
    # the labels of TableMeta.tests are as before
    customers = next(t for t in snapshot.tables if t.unique_id == "model.jaffle_shop.customers")
    assert customers.tests == ["accepted_values(customer_type)", "not_null(customer_id)", "unique(customer_id)"]


def test_without_run_results_tests_have_no_status() -> None:
    snapshot = DbtConnector(str(MANIFEST), str(CATALOG)).read()
    assert len(snapshot.data_tests) == 23
    assert {(t.status, t.at, t.failures) for t in snapshot.data_tests} == {("", "", None)}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "is not valid JSON"),
        ("[]", "is not a dbt run_results.json"),
        (MANIFEST.read_text(), "is not a dbt run_results.json (no metadata or results)"),
        (
            json.dumps({"metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/run-results/v6.json"}}),
            "no metadata or results",
        ),
        (
            json.dumps(
                {
                    "metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/run-results/v6.json"},
                    "results": [{"status": "pass"}],
                }
            ),
            "not a well-formed dbt run_results.json",
        ),
    ],
)
def test_a_malformed_run_results_is_a_clear_failure(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "run_results.json"
    path.write_text(content)
    connector = DbtConnector(str(MANIFEST), str(CATALOG), str(path))
    for attempt in (connector.test, connector.read):
        with pytest.raises(ConnectionFailed) as info:
            attempt()
        assert expected in str(info.value) and str(path) in str(info.value)
    with pytest.raises(ConnectionFailed, match="does not exist"):
        DbtConnector(str(MANIFEST), None, str(tmp_path / "missing.json")).test()


def test_dbt_1_5_metrics_are_read_too(tmp_path: Path) -> None:
    manifest = json.loads(MANIFEST.read_text())
    manifest["semantic_models"] = {}
    manifest["metrics"] = {
        "metric.jaffle_shop.total_orders": {
            "name": "total_orders",
            "resource_type": "metric",
            "unique_id": "metric.jaffle_shop.total_orders",
            "label": "Total orders",
            "description": "Orders placed.",
            "calculation_method": "count",
            "expression": "order_id",
            "filters": [{"field": "is_food_order", "operator": "=", "value": "true"}],
            "depends_on": {"macros": [], "nodes": ["model.jaffle_shop.orders"]},
            "meta": {"owner": "data@jaffle.shop"},
            "config": {"enabled": True},
        }
    }
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    [metric] = DbtConnector(str(path)).read().metrics
    assert (metric.name, metric.metric_type, metric.owner, metric.upstream_ids) == (
        "Total orders",
        "count",
        "data@jaffle.shop",
        ["model.jaffle_shop.orders"],
    )
    assert metric.properties["type_params"] == {"expr": "order_id"}
    assert metric.properties["filter"] == "is_food_order = true"


# --- the plan -----------------------------------------------------------------------------------


def test_the_plan_puts_them_under_the_project_with_lineage_and_test_results(snapshot: Snapshot) -> None:
    planned = plan(snapshot)
    by_ext: dict[str, Planned] = {p.external_id: p for p in planned.resources}
    metric = by_ext["metric:metric.jaffle_shop.food_revenue_pct"]
    assert (metric.type, metric.kind, metric.name, metric.qualified_name, metric.parent) == (
        "metric",
        "ratio",
        "Food Revenue %",
        "metric.jaffle_shop.food_revenue_pct",
        "db:jaffle_shop",
    )
    assert metric.properties["unique_id"] == "metric.jaffle_shop.food_revenue_pct"
    orders = by_ext["semantic_model:semantic_model.jaffle_shop.orders"]
    assert (orders.type, orders.kind, orders.parent) == ("semantic_model", "semantic_model", "db:jaffle_shop")
    assert ("order_count", "") in orders.columns and ("customer", "") in orders.columns  # found by these names
    edges = planned.edges
    assert ("node:model.jaffle_shop.orders", "semantic_model:semantic_model.jaffle_shop.orders") in edges
    assert ("semantic_model:semantic_model.jaffle_shop.orders", "metric:metric.jaffle_shop.orders") in edges
    assert ("metric:metric.jaffle_shop.revenue", "metric:metric.jaffle_shop.food_revenue_pct") in edges
    assert len([e for e in edges if e[1].startswith(("metric:", "semantic_model:"))]) == 6 + 14 + 4 + 5
    customers = by_ext["node:model.jaffle_shop.customers"].properties
    assert customers["tests"] == ["accepted_values(customer_type)", "not_null(customer_id)", "unique(customer_id)"]
    assert customers["data_tests"] == [
        {"name": "not_null", "column": "customer_id", "status": "pass", "at": "2026-11-30T06:01:09Z", "failures": 0},
        {"name": "unique", "column": "customer_id", "status": "pass", "at": "2026-11-30T06:01:11Z", "failures": 0},
        {
            "name": "accepted_values",
            "column": "customer_type",
            "status": "fail",
            "at": "2026-11-30T06:01:13Z",
            "failures": 3,
        },
    ]
    column = by_ext["node:model.jaffle_shop.customers/customer_type"].properties
    assert column["data_tests"] == [customers["data_tests"][2]]
    assert "data_tests" not in by_ext["node:model.jaffle_shop.customers/customer_name"].properties


# --- through the store, the API and the pages ---------------------------------------------------


@pytest.fixture
def jaffle(client: TestClient, world: World, tmp_path: Path) -> dict[str, Any]:
    """The jaffle-shop project with its run results, seen by Finance only (the viewer is in Marketing)."""
    config = {"manifest_path": str(MANIFEST), "catalog_path": str(CATALOG), "run_results_path": str(RUN_RESULTS)}
    integration = add_integration(client, world.a.admin, "jaffle", "dbt", config, [world.a.teams["Finance"]])
    run = sync(client, world.a.admin, integration["id"])
    assert run["status"] == "succeeded", run["error"]
    return integration


def _get(client: TestClient, person: Person, resource_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/resources/{resource_id}", headers=person.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_sync_creates_them_with_edges_and_properties(client: TestClient, world: World, jaffle: dict) -> None:
    editor = world.a.editor
    found = by_name(client, editor, integration_id=jaffle["id"])
    metrics = {q: r for q, r in found.items() if r["type"] == "metric"}
    semantic = {q: r for q, r in found.items() if r["type"] == "semantic_model"}
    assert (len(metrics), len(semantic)) == (19, 6)
    database = found["jaffle_shop"]
    assert {r["parent_id"] for r in [*metrics.values(), *semantic.values()]} == {database["id"]}
    assert {r["team_ids"][0] for r in metrics.values()} == {world.a.teams["Finance"]}
    listed = client.get("/api/v1/resources", params={"type": "metric", "limit": 100}, headers=editor.headers).json()
    assert len(listed["resources"]) == 19
    assert len(by_name(client, editor, type="semantic_model")) == 6

    ratio = _get(client, editor, metrics["metric.jaffle_shop.food_revenue_pct"]["id"])
    assert (ratio["name"], ratio["kind"], ratio["description"]) == (
        "Food Revenue %",
        "ratio",
        "The % of order revenue from food.",
    )
    assert ratio["properties"]["type_params"]["numerator"] == "food_revenue"
    lineage = client.get(f"/api/v1/resources/{ratio['id']}/lineage", headers=editor.headers).json()
    assert {r["qualified_name"] for r in lineage["upstream"]} == {
        "metric.jaffle_shop.food_revenue",
        "metric.jaffle_shop.revenue",
    }
    orders = _get(client, editor, semantic["semantic_model.jaffle_shop.orders"]["id"])
    assert {m["name"] for m in orders["properties"]["measures"]} == {
        "order_total",
        "order_count",
        "tax_paid",
        "order_cost",
    }
    lineage = client.get(f"/api/v1/resources/{orders['id']}/lineage", headers=editor.headers).json()
    assert [r["qualified_name"] for r in lineage["upstream"]] == ["model.jaffle_shop.orders"]
    assert "metric.jaffle_shop.orders" in {r["qualified_name"] for r in lineage["downstream"]}

    customers = _get(client, editor, found["model.jaffle_shop.customers"]["id"])
    statuses = {(t["name"], t["column"]): (t["status"], t["at"][:10]) for t in customers["properties"]["data_tests"]}
    assert statuses == {
        ("not_null", "customer_id"): ("pass", DAY),
        ("unique", "customer_id"): ("pass", DAY),
        ("accepted_values", "customer_type"): ("fail", DAY),
    }
    column = _get(client, editor, found["model.jaffle_shop.customers.customer_type"]["id"])
    assert [(t["name"], t["status"], t["failures"]) for t in column["properties"]["data_tests"]] == [
        ("accepted_values", "fail", 3)
    ]
    hits = search(client, editor, "food revenue", type="metric")
    assert "metric.jaffle_shop.food_revenue_pct" in {h["qualified_name"] for h in hits}
    hits = search(client, editor, "order_total_dim")  # a dimension's name finds its semantic model
    assert "semantic_model.jaffle_shop.orders" in {h["qualified_name"] for h in hits}


def test_a_second_sync_changes_nothing_and_new_results_update(
    client: TestClient, world: World, jaffle: dict, tmp_path: Path
) -> None:
    admin = world.a.admin
    again = sync(client, admin, jaffle["id"])
    assert again["status"] == "succeeded" and again["stats"]["created"] == again["stats"]["updated"] == 0
    results = json.loads(RUN_RESULTS.read_text())
    for result in results["results"]:
        if result["unique_id"] == ACCEPTED:
            result["status"], result["failures"] = "pass", 0
    newer = tmp_path / "run_results.json"
    newer.write_text(json.dumps(results))
    config = {"manifest_path": str(MANIFEST), "catalog_path": str(CATALOG), "run_results_path": str(newer)}
    patched = client.patch(f"/api/v1/integrations/{jaffle['id']}", json={"config": config}, headers=admin.headers)
    assert patched.status_code == 200, patched.text
    run = sync(client, admin, jaffle["id"])
    assert run["status"] == "succeeded" and run["stats"]["updated"] == 2  # the table and its column
    found = by_name(client, admin, integration_id=jaffle["id"])
    column = _get(client, admin, found["model.jaffle_shop.customers.customer_type"]["id"])
    assert column["properties"]["data_tests"][0]["status"] == "pass"


def test_a_member_outside_the_teams_sees_no_metric(client: TestClient, world: World, jaffle: dict) -> None:
    admin, viewer = world.a.admin, world.a.viewer
    found = by_name(client, admin, integration_id=jaffle["id"])
    hidden = [r for r in found.values() if r["type"] in ("metric", "semantic_model")]
    assert len(hidden) == 25
    for resource in hidden:
        response = client.get(f"/api/v1/resources/{resource['id']}", headers=viewer.headers)
        assert response.status_code == 404, resource["qualified_name"]
        assert client.get(f"/api/v1/resources/{resource['id']}/lineage", headers=viewer.headers).status_code == 404
    for type_ in ("metric", "semantic_model"):
        listed = client.get("/api/v1/resources", params={"type": type_}, headers=viewer.headers).json()
        assert listed["resources"] == []
    for word in ("revenue", "food revenue", "orders", "order_total_dim", "customers"):
        assert not {h["id"] for h in search(client, viewer, word)} & {r["id"] for r in hidden}, word
    assert by_name(client, viewer, integration_id=jaffle["id"]) == {}
    # and the page says no more than the API
    sign_in(client, viewer)
    assert client.get(f"/resources/{hidden[0]['id']}").status_code == 404


def test_the_pages_show_tests_with_their_status_and_metrics(client: TestClient, world: World, jaffle: dict) -> None:
    found = by_name(client, world.a.admin, integration_id=jaffle["id"])
    sign_in(client, world.a.editor)
    page = client.get(f"/resources/{found['model.jaffle_shop.customers']['id']}")
    assert page.status_code == 200
    text = _text(page.text)
    assert f"accepted_values(customer_type): failed {DAY} (3 failing rows)" in text
    assert f"not_null(customer_id), unique(customer_id): passed {DAY}" in text
    assert text.index("failed") < text.index("passed")  # failures first
    column = _text(client.get(f"/resources/{found['model.jaffle_shop.customers.customer_type']['id']}").text)
    assert f"accepted_values: failed {DAY}" in column
    supplies = _text(client.get(f"/resources/{found['model.jaffle_shop.stg_supplies']['id']}").text)
    assert f"not_null(supply_uuid): skipped {DAY}" in supplies and "unique(supply_uuid): no result known" in supplies
    ratio = _text(client.get(f"/resources/{found['metric.jaffle_shop.food_revenue_pct']['id']}").text)
    assert "Numerator food_revenue" in ratio and "Denominator revenue" in ratio and "ratio" in ratio
    orders = _text(client.get(f"/resources/{found['semantic_model.jaffle_shop.orders']['id']}").text)
    assert "Default time dimension ordered_at" in orders and "order_count sum 1" in orders
    assert "ordered_at time by day" in orders
    home = client.get("/", params={"type": "metric"})
    assert "Food Revenue %" in home.text and 'value="semantic_model"' in home.text


def _text(html: str) -> str:
    """The page's words as a reader sees them: tags dropped, whitespace collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace(" :", ":").replace(" ,", ",")


def test_run_results_outside_the_sources_folder_is_refused(
    client: TestClient, world: World, tmp_path: Path, settings: Any
) -> None:
    admin = world.a.admin
    outside = settings.home / "run_results.json"  # DATADESK_HOME, outside its sources folder
    outside.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(RUN_RESULTS, outside)
    config = {"manifest_path": str(MANIFEST), "run_results_path": str(outside)}
    response = client.post(
        "/api/v1/integrations", json={"name": "dbt", "type": "dbt", "config": config}, headers=admin.headers
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "source_not_allowed"
    created = add_integration(client, admin, "dbt", "dbt", {"manifest_path": str(MANIFEST)})
    response = client.patch(f"/api/v1/integrations/{created['id']}", json={"config": config}, headers=admin.headers)
    assert response.status_code == 400 and response.json()["error"]["code"] == "source_not_allowed"
    unknown = client.post(
        "/api/v1/integrations",
        json={"name": "x", "type": "dbt", "config": {"manifest_path": str(MANIFEST), "results_path": "x"}},
        headers=admin.headers,
    )
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "invalid_config"


def test_a_malformed_run_results_fails_the_sync_clearly(client: TestClient, world: World, tmp_path: Path) -> None:
    admin = world.a.admin
    results = tmp_path / "run_results.json"
    shutil.copy(RUN_RESULTS, results)
    config = {"manifest_path": str(MANIFEST), "run_results_path": str(results)}
    integration = add_integration(client, admin, "jaffle", "dbt", config)
    results.write_text('{"metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/run-results/v6.json"}')
    run = sync(client, admin, integration["id"])
    assert run["status"] == "failed"
    assert (
        run["error"].startswith("Could not read the source: dbt run_results file") and "not valid JSON" in run["error"]
    )
    assert by_name(client, admin, integration_id=integration["id"]) == {}  # nothing was written


# --- the demo -----------------------------------------------------------------------------------


def test_the_demo_shows_metrics_and_tests_that_passed_and_failed(client: TestClient, app: Any, settings: Any) -> None:
    demo.ensure(app.state.sessions, settings, Console(quiet=True))
    login = next(x for x in demo.LOGINS if x.role == "admin")
    token = client.post(
        "/api/v1/auth/login", json={"email": login.email, "password": login.password, "workspace": login.workspace}
    ).json()["token"]
    admin = Person("", login.email, "admin", token)
    dbt = next(
        i
        for i in client.get("/api/v1/integrations", headers=admin.headers).json()["integrations"]
        if i["type"] == "dbt"
    )
    assert dbt["config"]["run_results_path"].endswith("run_results.json")
    nodes = by_name(client, admin, integration_id=dbt["id"])
    assert {"metric.acme_analytics.total_arr", "semantic_model.acme_analytics.arr"} <= set(nodes)
    tables = by_name(client, admin, type="table")
    customers = tables["acme.analytics.dim_customers"]  # the warehouse face: its dbt sibling holds the tests

    client.cookies.clear()
    form = csrf_of(client.get("/login").text)
    client.post(
        "/login",
        data={"email": login.email, "password": login.password, "workspace": login.workspace, "csrf_token": form},
    )
    text = _text(client.get(f"/resources/{customers['id']}").text)
    assert "not_null(account_id), unique(account_id): passed 2026-11-01" in text
    assert "accepted_values(current_plan): failed 2026-11-01 (1 failing row)" in text
    metric = _text(client.get(f"/resources/{nodes['metric.acme_analytics.blended_cac']['id']}").text)
    assert "Numerator paid_spend" in metric and "Denominator new_customers" in metric
