"""DbtConnector on the real jaffle-shop artifacts (dbt 1.11, manifest v12), variations of them, and a v9 manifest."""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from datadesk.connectors.base import ConnectionFailed, Snapshot, TableMeta
from datadesk.connectors.dbt import DbtConnector

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dbt" / "jaffle-shop"
MANIFEST = FIXTURES / "manifest.json"
CATALOG = FIXTURES / "catalog.json"


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return dict(json.loads(MANIFEST.read_text()))


@pytest.fixture(scope="module")
def snapshot() -> Snapshot:
    return DbtConnector(str(MANIFEST), str(CATALOG)).read()


def _node(snapshot: Snapshot, unique_id: str) -> TableMeta:
    return next(t for t in snapshot.tables if t.unique_id == unique_id)


def test_counts_match_the_manifest(snapshot: Snapshot, manifest: dict[str, Any]) -> None:
    in_manifest = Counter(n["resource_type"] for n in manifest["nodes"].values())
    assert in_manifest == {"model": 13, "seed": 6, "test": 23}
    assert Counter(t.kind for t in snapshot.tables) == {"model": 13, "seed": 6, "source": 6}
    assert snapshot.dashboards == []  # jaffle-shop declares no exposures
    assert snapshot.database == "jaffle_shop"
    assert snapshot.schemas == {"main": "", "raw": ""}


def test_tests_macros_and_semantic_objects_are_skipped(snapshot: Snapshot, manifest: dict[str, Any]) -> None:
    assert len(manifest["macros"]) > 100 and manifest["metrics"]
    assert all(t.unique_id.split(".")[0] in ("model", "seed", "source") for t in snapshot.tables)


def test_model(snapshot: Snapshot) -> None:
    customers = _node(snapshot, "model.jaffle_shop.customers")
    assert (customers.schema, customers.name, customers.kind) == ("main", "customers", "model")
    assert customers.description.startswith("Customer overview data mart")
    assert customers.relation == ("jaffle", "main", "customers")
    assert customers.properties == {
        "materialized": "table",
        "package_name": "jaffle_shop",
        "path": "models/marts/customers.sql",
        "access": "protected",
    }
    assert "{{ ref('stg_customers') }}" in customers.definition
    assert customers.tags == [] and customers.owner == ""
    assert _node(snapshot, "model.jaffle_shop.stg_customers").properties["materialized"] == "view"


def test_lineage(snapshot: Snapshot) -> None:
    customers = _node(snapshot, "model.jaffle_shop.customers")
    assert customers.upstream == [("main", "stg_customers"), ("main", "orders")]
    assert customers.upstream_ids == ["model.jaffle_shop.stg_customers", "model.jaffle_shop.orders"]
    stg = _node(snapshot, "model.jaffle_shop.stg_customers")
    # A seed and the source declared on it share (raw, raw_customers); the unique_id says which it is.
    assert stg.upstream == [("raw", "raw_customers")]
    assert stg.upstream_ids == ["source.jaffle_shop.ecom.raw_customers"]
    assert _node(snapshot, "source.jaffle_shop.ecom.raw_orders").upstream == []


def test_columns_take_types_and_order_from_the_catalog(snapshot: Snapshot) -> None:
    customers = _node(snapshot, "model.jaffle_shop.customers")
    assert [(c.ordinal, c.name, c.data_type) for c in customers.columns[:3]] == [
        (1, "customer_id", "VARCHAR"),
        (2, "customer_name", "VARCHAR"),
        (3, "count_lifetime_orders", "BIGINT"),
    ]
    assert customers.columns[5].data_type == "DECIMAL(38,2)"
    assert customers.columns[1].description == "Customers' full name."
    orders = _node(snapshot, "model.jaffle_shop.orders")
    # Built columns the YAML does not document are there too, in the warehouse's order.
    assert len(orders.columns) == 18
    assert [c.name for c in orders.columns[:3]] == ["order_id", "location_id", "customer_id"]
    assert orders.columns[1].description == ""


def test_sources_and_seeds(snapshot: Snapshot) -> None:
    raw_orders = _node(snapshot, "source.jaffle_shop.ecom.raw_orders")
    assert (raw_orders.schema, raw_orders.name, raw_orders.kind) == ("raw", "raw_orders", "source")
    assert raw_orders.description == "One record per order (consisting of one or more order items)"
    assert raw_orders.relation == ("jaffle", "raw", "raw_orders")
    assert raw_orders.properties["source_name"] == "ecom"
    assert raw_orders.properties["source_description"] == "E-commerce data for the Jaffle Shop"
    assert [(c.name, c.data_type) for c in raw_orders.columns[:3]] == [
        ("id", "VARCHAR"),
        ("customer", "VARCHAR"),
        ("ordered_at", "TIMESTAMP"),
    ]
    seed = _node(snapshot, "seed.jaffle_shop.raw_orders")
    assert (seed.kind, seed.relation) == ("seed", ("jaffle", "raw", "raw_orders"))
    assert seed.properties["path"] == "seeds/jaffle-data/raw_orders.csv"


def test_without_a_catalog(snapshot: Snapshot) -> None:
    bare = DbtConnector(str(MANIFEST)).read()
    assert len(bare.tables) == len(snapshot.tables)
    stg = next(t for t in bare.tables if t.unique_id == "model.jaffle_shop.stg_customers")
    # Only documented columns are known, and without types.
    assert [(c.name, c.data_type, c.description) for c in stg.columns] == [
        ("customer_id", "", "The unique key for each customer.")
    ]


def _write(path: Path, data: Any) -> str:
    path.write_text(json.dumps(data))
    return str(path)


@pytest.fixture
def enriched(manifest: dict[str, Any], tmp_path: Path) -> Snapshot:
    """jaffle-shop with what real projects add: owners, tags, pii columns, exposures, snapshots..."""
    data = copy.deepcopy(manifest)
    nodes = data["nodes"]
    customers = nodes["model.jaffle_shop.customers"]
    customers["meta"] = {"owner": "growth-team@jaffle.shop"}
    customers["tags"] = ["marts", "nightly"]
    customers["config"]["tags"] = ["nightly", "pii"]
    customers["columns"]["customer_name"]["tags"] = ["pii"]
    customers["columns"]["customer_name"]["config"]["tags"] = ["pii", "name"]
    nodes["model.jaffle_shop.orders"]["config"]["meta"] = {"owner": {"name": "Ada", "email": "ada@jaffle.shop"}}

    def node(uid: str, **changes: Any) -> dict[str, Any]:
        new = copy.deepcopy(nodes["model.jaffle_shop.locations"])
        new.update({"unique_id": uid, "name": uid.split(".")[-1], "alias": uid.split(".")[-1], **changes})
        return new

    ephemeral = node("model.jaffle_shop.int_orders", config={"materialized": "ephemeral", "enabled": True})
    disabled = node("model.jaffle_shop.old_orders", config={"materialized": "table", "enabled": False})
    snap = node(
        "snapshot.jaffle_shop.customers_snapshot",
        resource_type="snapshot",
        schema="snapshots",
        config={"materialized": "snapshot", "enabled": True},
        depends_on={"macros": [], "nodes": ["source.jaffle_shop.ecom.raw_customers"]},
    )
    versioned = node("model.jaffle_shop.dim_customers.v2", name="dim_customers", alias="dim_customers_v2", version=2)
    analysis = node("analysis.jaffle_shop.scratch", resource_type="analysis")
    operation = node("operation.jaffle_shop.on-run-end-0", resource_type="operation")
    for extra in (ephemeral, disabled, snap, versioned, analysis, operation):
        nodes[extra["unique_id"]] = extra
    data["exposures"] = {
        "exposure.jaffle_shop.weekly_revenue": {
            "name": "weekly_revenue",
            "label": "Weekly revenue",
            "resource_type": "exposure",
            "type": "dashboard",
            "description": "Revenue by week and store",
            "url": "https://bi.example.com/d/42",
            "owner": {"name": "Nick Misasi", "email": "nick@example.com"},
            "tags": ["looker"],
            "config": {"enabled": True, "tags": [], "meta": {}},
            "depends_on": {"macros": [], "nodes": ["model.jaffle_shop.orders", "metric.jaffle_shop.revenue"]},
        },
        "exposure.jaffle_shop.retired": {
            "name": "retired",
            "owner": {"email": "x@example.com"},
            "config": {"enabled": False},
            "depends_on": {"nodes": []},
        },
    }
    return DbtConnector(_write(tmp_path / "manifest.json", data), str(CATALOG)).read()


def test_owners_and_tags(enriched: Snapshot) -> None:
    customers = _node(enriched, "model.jaffle_shop.customers")
    assert customers.owner == "growth-team@jaffle.shop"
    assert customers.tags == ["marts", "nightly", "pii"]
    assert customers.columns[1].tags == ["pii", "name"]
    assert _node(enriched, "model.jaffle_shop.orders").owner == "Ada <ada@jaffle.shop>"


def test_exposures_become_dashboards(enriched: Snapshot) -> None:
    [dashboard] = enriched.dashboards  # the disabled one is left out
    assert dashboard.name == "Weekly revenue"  # the label, when there is one
    assert dashboard.unique_id == "exposure.jaffle_shop.weekly_revenue"
    assert (dashboard.description, dashboard.url) == ("Revenue by week and store", "https://bi.example.com/d/42")
    assert dashboard.owner == "Nick Misasi <nick@example.com>"
    assert dashboard.tags == ["looker"]
    assert dashboard.upstream == [("main", "orders")]  # the metric is not a table
    assert dashboard.upstream_ids == ["model.jaffle_shop.orders"]


def test_snapshots_ephemeral_versioned_and_skipped_nodes(enriched: Snapshot) -> None:
    ids = {t.unique_id for t in enriched.tables}
    assert "model.jaffle_shop.old_orders" not in ids  # disabled
    assert not {i for i in ids if i.startswith(("analysis.", "operation.", "test."))}
    snap = _node(enriched, "snapshot.jaffle_shop.customers_snapshot")
    assert (snap.kind, snap.schema, snap.relation) == (
        "snapshot",
        "snapshots",
        ("jaffle", "snapshots", "customers_snapshot"),
    )
    assert snap.upstream_ids == ["source.jaffle_shop.ecom.raw_customers"]
    ephemeral = _node(enriched, "model.jaffle_shop.int_orders")
    assert ephemeral.relation is None  # built as a CTE, nowhere in the warehouse
    versioned = _node(enriched, "model.jaffle_shop.dim_customers.v2")
    assert (versioned.name, versioned.properties["version"]) == ("dim_customers_v2", "2")
    assert versioned.relation == ("jaffle", "main", "dim_customers_v2")


V9_MANIFEST: dict[str, Any] = {
    "metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v9.json", "dbt_version": "1.5.4"},
    "nodes": {
        "model.shop.fct_orders": {
            "resource_type": "model",
            "name": "fct_orders",
            "alias": "fct_orders",
            "database": "analytics",
            "schema": "marts",
            "package_name": "shop",
            "original_file_path": "models/fct_orders.sql",
            "raw_code": "select * from {{ source('app', 'orders') }}",
            "description": "Orders fact",
            "tags": ["finance"],
            "meta": {},
            "config": {"enabled": True, "materialized": "incremental", "meta": {"owner": "finance@shop.com"}},
            "columns": {"order_id": {"name": "order_id", "description": "Key", "data_type": "bigint", "tags": []}},
            "depends_on": {"macros": ["macro.dbt.is_incremental"], "nodes": ["source.shop.app.orders"]},
        },
        "test.shop.unique_fct_orders_order_id.abc": {"resource_type": "test", "name": "unique", "config": {}},
    },
    "sources": {
        "source.shop.app.orders": {
            "resource_type": "source",
            "name": "orders",
            "source_name": "app",
            "identifier": "orders_v2",
            "database": "raw",
            "schema": "app",
            "package_name": "shop",
            "description": "",
            "columns": {},
            "meta": {"owner": "platform@shop.com"},
            "tags": [],
            "config": {"enabled": True},
        }
    },
    "exposures": {
        "exposure.shop.finance": {
            "name": "finance",
            "owner": {"email": "cfo@shop.com", "name": None},
            "depends_on": {"nodes": ["model.shop.fct_orders"]},
            "config": {"enabled": True},
        }
    },
    "macros": {},
    "disabled": {},
}


def test_a_dbt_1_5_manifest(tmp_path: Path) -> None:
    snapshot = DbtConnector(_write(tmp_path / "manifest.json", V9_MANIFEST)).read()
    assert snapshot.database == "shop"  # no project_name before dbt 1.6: the models' package
    fct = _node(snapshot, "model.shop.fct_orders")
    assert (fct.owner, fct.tags, fct.properties["materialized"]) == ("finance@shop.com", ["finance"], "incremental")
    assert [(c.name, c.data_type, c.description) for c in fct.columns] == [("order_id", "bigint", "Key")]
    assert fct.upstream == [("app", "orders")]
    orders = _node(snapshot, "source.shop.app.orders")
    assert (orders.relation, orders.owner) == (("raw", "app", "orders_v2"), "platform@shop.com")
    [finance] = snapshot.dashboards
    assert (finance.owner, finance.upstream) == ("cfo@shop.com", [("marts", "fct_orders")])


def test_progress(tmp_path: Path) -> None:
    calls: list[tuple[int, int, str]] = []
    DbtConnector(str(MANIFEST)).read(lambda done, total, what: calls.append((done, total, what)))
    assert [(done, total) for done, total, _ in calls] == [(1, 4), (2, 4), (3, 4), (4, 4)]


def _failure(manifest: Path | str, catalog: Path | str | None = None) -> str:
    connector = DbtConnector(str(manifest), str(catalog) if catalog else None)
    with pytest.raises(ConnectionFailed) as info:
        connector.test()
    with pytest.raises(ConnectionFailed):
        connector.read()
    return str(info.value)


def test_missing_manifest(tmp_path: Path) -> None:
    assert "does not exist" in _failure(tmp_path / "manifest.json")
    assert "is a folder" in _failure(tmp_path)


def test_corrupt_manifest(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(MANIFEST.read_text()[:5000])  # cut short, as by a full disk
    assert "is not valid JSON" in _failure(path)
    path.write_bytes(b"\xff\xfe\x00garbage")
    assert "is not valid JSON" in _failure(path)


def test_json_that_is_not_a_manifest(tmp_path: Path) -> None:
    assert "is not a dbt manifest.json" in _failure(_write(tmp_path / "a.json", [1, 2, 3]))
    assert "is not a dbt manifest.json" in _failure(_write(tmp_path / "b.json", {"nodes": {}}))
    # catalog.json given where the manifest belongs
    assert "is not a dbt manifest.json" in _failure(CATALOG)


def test_too_old_a_manifest(tmp_path: Path) -> None:
    old = copy.deepcopy(V9_MANIFEST)
    old["metadata"]["dbt_schema_version"] = "https://schemas.getdbt.com/dbt/manifest/v7.json"
    assert "manifest v7; datadesk reads v9 and later" in _failure(_write(tmp_path / "manifest.json", old))


def test_bad_catalog(tmp_path: Path) -> None:
    assert "catalog file" in _failure(MANIFEST, tmp_path / "catalog.json")
    assert "is not a dbt catalog.json" in _failure(MANIFEST, MANIFEST)


def test_malformed_manifest(tmp_path: Path) -> None:
    broken = copy.deepcopy(V9_MANIFEST)
    del broken["nodes"]["model.shop.fct_orders"]["name"]
    assert "is not a well-formed dbt manifest" in _failure_on_read(_write(tmp_path / "manifest.json", broken))


def _failure_on_read(manifest: str) -> str:
    with pytest.raises(ConnectionFailed) as info:
        DbtConnector(manifest).read()
    return str(info.value)
