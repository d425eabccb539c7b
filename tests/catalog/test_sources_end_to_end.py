"""Every connector through a real sync into the store: PostgreSQL, MariaDB, DuckDB, and dbt linked to its warehouse."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import psycopg
import pymysql
import pytest
from fastapi.testclient import TestClient

from tests.catalog.helpers import add_integration, by_name, sync
from tests.dbs import fresh_mysql_database, fresh_pg_database
from tests.world import World

JAFFLE = Path(__file__).resolve().parents[1] / "fixtures" / "dbt" / "jaffle-shop"


@pytest.fixture(scope="module")
def pg_source() -> str:  # type: ignore[misc]
    with fresh_pg_database("dd_src") as url:
        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute("""
                CREATE SCHEMA sales;
                CREATE TABLE sales.customers (id int PRIMARY KEY, email text NOT NULL);
                COMMENT ON TABLE sales.customers IS 'Everyone who ever bought something';
                COMMENT ON COLUMN sales.customers.email IS 'Login address';
                CREATE TABLE sales.orders (id int PRIMARY KEY, customer_id int REFERENCES sales.customers(id));
                CREATE VIEW sales.order_emails AS
                    SELECT o.id, c.email FROM sales.orders o JOIN sales.customers c ON c.id = o.customer_id;
            """)
        yield url


def test_postgres_source(client: TestClient, world: World, pg_source: str) -> None:
    integration = add_integration(client, world.a.admin, "pg", "postgres", {"url": pg_source})
    assert sync(client, world.a.admin, integration["id"])["status"] == "succeeded"
    resources = by_name(client, world.a.viewer)
    database = pg_source.rsplit("/", 1)[1]
    customers = resources[f"{database}.sales.customers"]
    assert customers["description"] == "Everyone who ever bought something"
    view = resources[f"{database}.sales.order_emails"]
    lineage = client.get(f"/api/v1/resources/{view['id']}/lineage", headers=world.a.viewer.headers).json()
    assert {r["name"] for r in lineage["upstream"]} == {"customers", "orders"}
    again = sync(client, world.a.admin, integration["id"])["stats"]
    assert (again["created"], again["updated"], again["deleted"]) == (0, 0, 0)


def test_mariadb_source(client: TestClient, world: World) -> None:
    with fresh_mysql_database("dd_src") as url:
        database = url.rsplit("/", 1)[1]
        conn = pymysql.connect(host="127.0.0.1", user="root", database=database, autocommit=True)
        with conn.cursor() as cursor:
            cursor.execute(
                "CREATE TABLE campaigns (id INT PRIMARY KEY, name VARCHAR(100) COMMENT 'Public name')"
                " COMMENT='Marketing campaigns'"
            )
        integration = add_integration(client, world.a.admin, "maria", "mysql", {"url": url})
        assert sync(client, world.a.admin, integration["id"])["status"] == "succeeded"
        with conn.cursor() as cursor:
            cursor.execute("ALTER TABLE campaigns ADD COLUMN budget DECIMAL(10,2) COMMENT 'Planned spend'")
        stats = sync(client, world.a.admin, integration["id"])["stats"]
        conn.close()
    assert (stats["created"], stats["updated"]) == (1, 1)
    resources = by_name(client, world.a.viewer)
    assert resources[f"{database}.{database}.campaigns"]["description"] == "Marketing campaigns"
    assert resources[f"{database}.{database}.campaigns.budget"]["description"] == "Planned spend"


def build_jaffle_warehouse(path: Path) -> Path:
    """The warehouse dbt built, rebuilt empty from catalog.json (same relations and columns)."""
    catalog = json.loads((JAFFLE / "catalog.json").read_text())
    conn = duckdb.connect(str(path))
    for node in [*catalog["nodes"].values(), *catalog["sources"].values()]:
        meta = node["metadata"]
        columns = sorted(node["columns"].values(), key=lambda c: c["index"])
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{meta["schema"]}"')
        body = ", ".join(f'"{c["name"]}" {c["type"]}' for c in columns)
        conn.execute(f'CREATE TABLE IF NOT EXISTS "{meta["schema"]}"."{meta["name"]}" ({body})')
    conn.close()
    return path


def test_dbt_nodes_are_linked_to_the_warehouse_tables_they_build(
    client: TestClient, world: World, tmp_path: Path
) -> None:
    warehouse = build_jaffle_warehouse(tmp_path / "jaffle.duckdb")
    dwh = add_integration(client, world.a.admin, "dwh", "duckdb", {"url": f"duckdb:///{warehouse}"})
    dbt = add_integration(
        client,
        world.a.admin,
        "dbt",
        "dbt",
        {"manifest_path": str(JAFFLE / "manifest.json"), "catalog_path": str(JAFFLE / "catalog.json")},
    )
    assert sync(client, world.a.admin, dwh["id"])["status"] == "succeeded"
    run = sync(client, world.a.admin, dbt["id"])
    assert run["status"] == "succeeded", run["error"]
    everything = by_name(client, world.a.viewer)
    nodes = by_name(client, world.a.viewer, integration_id=dbt["id"])
    model = nodes["model.jaffle_shop.customers"]
    assert model["kind"] == "model" and model["description"].startswith("Customer overview data mart")
    # one asset, listed once by its warehouse face, naming its dbt sibling
    table = everything["jaffle.main.customers"]
    assert "model.jaffle_shop.customers" not in everything
    assert [s["id"] for s in table["siblings"]] == [model["id"]]
    upstream = client.get(f"/api/v1/resources/{table['id']}/lineage", headers=world.a.viewer.headers).json()["upstream"]
    assert {r["qualified_name"] for r in upstream} == {"jaffle.main.stg_customers", "jaffle.main.orders"}
    # the dbt source and the seed are faces of the raw warehouse table; the staging model reads the source
    raw_table = everything["jaffle.raw.raw_customers"]
    source = nodes["source.jaffle_shop.ecom.raw_customers"]
    assert source["kind"] == "source"
    assert {s["qualified_name"] for s in raw_table["siblings"]} == {
        "seed.jaffle_shop.raw_customers",
        "source.jaffle_shop.ecom.raw_customers",
    }
    downstream = client.get(
        f"/api/v1/resources/{raw_table['id']}/lineage", params={"depth": 3}, headers=world.a.viewer.headers
    ).json()["downstream"]
    assert "jaffle.main.stg_customers" in {r["qualified_name"] for r in downstream}
    # dbt faces of warehouse tables are never named (semantic models and metrics have no warehouse face)
    assert not {r["id"] for r in downstream} & {n["id"] for n in nodes.values() if n["type"] in ("table", "view")}
    # re-syncing either side keeps the links and changes nothing
    for integration in (dwh, dbt):
        stats = sync(client, world.a.admin, integration["id"])["stats"]
        assert (stats["created"], stats["updated"], stats["deleted"]) == (0, 0, 0)
    again = client.get(f"/api/v1/resources/{table['id']}/lineage", headers=world.a.viewer.headers).json()["upstream"]
    assert again == upstream
