"""The demo warehouse: acme.duckdb, its dbt artifacts and the documentation content that refers to it."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from datadesk.connectors.dbt import DbtConnector
from datadesk.connectors.duckdb import DuckDBConnector
from datadesk.demo_data import content, dbt_project, spec
from datadesk.demo_data.warehouse import WarehouseFiles, build

END = datetime(2026, 11, 1)
START = datetime(2024, 11, 1)
DEMO_EMAILS = {content.ADMIN, content.FIONA, content.MARK}
TEAMS = {"Finance", "Marketing", "Engineering"}
RESERVED_EMAIL = re.compile(r"^[a-z0-9.+-]+@([a-z0-9-]+\.)*example\.(com|org|net)$")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> WarehouseFiles:
    started = time.perf_counter()
    built = build(tmp_path_factory.mktemp("demo"))
    print(f"\ndemo warehouse built in {time.perf_counter() - started:.2f} s")
    return built


@pytest.fixture(scope="module")
def conn(files: WarehouseFiles) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(files.duckdb_path), read_only=True)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def manifest(files: WarehouseFiles) -> dict:
    return json.loads(files.manifest_path.read_text())


def _row(conn: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...]:
    row = conn.execute(sql).fetchone()
    assert row is not None
    return row


def _counts(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    names = conn.execute("SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'acme'").fetchall()
    return {f"{s}.{t}": _row(conn, f"SELECT count(*) FROM {s}.{t}")[0] for s, t in names}


def _columns(conn: duckdb.DuckDBPyConnection) -> set[str]:
    rows = conn.execute(
        "SELECT schema_name, table_name, column_name FROM duckdb_columns() WHERE database_name = 'acme'"
    ).fetchall()
    return {f"acme.{s}.{t}.{c}" for s, t, c in rows}


def _relations(conn: duckdb.DuckDBPyConnection) -> set[str]:
    rows = conn.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'acme' "
        "UNION ALL SELECT schema_name, view_name FROM duckdb_views() WHERE database_name = 'acme' AND NOT internal"
    ).fetchall()
    return {f"acme.{s}.{t}" for s, t in rows}


def test_files_and_catalog_name(files: WarehouseFiles, conn: duckdb.DuckDBPyConnection) -> None:
    assert files.duckdb_path.name == "acme.duckdb"
    assert files.manifest_path.parent.name == files.catalog_path.parent.name == "dbt"
    assert conn.execute("SELECT current_database()").fetchone() == ("acme",)


def test_about_25_tables_across_the_schemas(conn: duckdb.DuckDBPyConnection) -> None:
    per_schema: dict[str, int] = {}
    for schema, _ in conn.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall():
        per_schema[schema] = per_schema.get(schema, 0) + 1
    assert set(per_schema) == {"finance", "marketing", "product", "analytics"}
    assert 22 <= sum(per_schema.values()) <= 32
    assert all(count >= 4 for count in per_schema.values())
    views = conn.execute("SELECT schema_name FROM duckdb_views() WHERE NOT internal").fetchall()
    assert {schema for (schema,) in views} == {"finance", "marketing", "product", "analytics"}


def test_every_table_and_most_columns_are_commented(conn: duckdb.DuckDBPyConnection) -> None:
    uncommented = conn.execute(
        "SELECT table_name FROM duckdb_tables() WHERE coalesce(comment, '') = '' "
        "UNION ALL SELECT view_name FROM duckdb_views() WHERE NOT internal AND coalesce(comment, '') = ''"
    ).fetchall()
    assert uncommented == []
    total, commented = _row(
        conn,
        "SELECT count(*), count(*) FILTER (WHERE coalesce(c.comment, '') <> '') FROM duckdb_columns() c "
        "JOIN duckdb_tables() t USING (database_name, schema_name, table_name)",
    )
    assert total > 200 and commented / total > 0.95


def test_views_work(conn: duckdb.DuckDBPyConnection) -> None:
    for schema, name in conn.execute("SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal").fetchall():
        assert _row(conn, f"SELECT count(*) FROM {schema}.{name}")[0] > 0, name


def test_row_counts_are_plausible(conn: duckdb.DuckDBPyConnection) -> None:
    counts = _counts(conn)
    assert counts["finance.plans"] == 6
    assert all(5 <= count <= 30_000 for count in counts.values()), counts
    assert sum(count >= 500 for count in counts.values()) >= 18
    assert 150 <= counts["analytics.dim_customers"] == counts["finance.accounts"]


def test_build_is_reproducible(files: WarehouseFiles, conn: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    again = build(tmp_path)
    assert again.manifest_path.read_bytes() == files.manifest_path.read_bytes()
    assert again.catalog_path.read_bytes() == files.catalog_path.read_bytes()
    with duckdb.connect(str(again.duckdb_path), read_only=True) as other:
        assert _counts(other) == _counts(conn)
        mrr = "SELECT sum(mrr_usd), max(invoice_id) FROM finance.mrr_snapshots, finance.invoices"
        assert other.execute(mrr).fetchall() == conn.execute(mrr).fetchall()
    build(tmp_path)  # overwrites
    assert again.duckdb_path.exists()


def test_timestamps_fall_in_the_two_years_before_the_fixed_date(conn: duckdb.DuckDBPyConnection) -> None:
    columns = conn.execute(
        "SELECT schema_name, table_name, column_name FROM duckdb_columns() "
        "WHERE data_type = 'TIMESTAMP' AND schema_name <> 'analytics' AND column_name <> 'trial_ends_at'"  # scheduled
    ).fetchall()
    for schema, table, column in columns:
        low, high = _row(conn, f"SELECT min({column}), max({column}) FROM {schema}.{table}")
        assert low is None or low >= START, (table, column, low)
        assert high is None or high < END, (table, column, high)


def test_keys_across_schemas_point_at_existing_rows(conn: duckdb.DuckDBPyConnection) -> None:
    dangling = {
        "leads": "SELECT count(*) FROM marketing.leads l ANTI JOIN finance.accounts a "
        "ON a.account_id = l.converted_account_id WHERE l.converted_account_id IS NOT NULL",
        "workspaces": "SELECT count(*) FROM product.workspaces w ANTI JOIN finance.accounts a USING (account_id)",
        "sessions": "SELECT count(*) FROM marketing.web_sessions s ANTI JOIN product.users u USING (user_id) "
        "WHERE s.user_id IS NOT NULL",
        "touches": "SELECT count(*) FROM marketing.attribution_touches t ANTI JOIN marketing.web_sessions s "
        "USING (session_id)",
    }
    for name, sql in dangling.items():
        assert conn.execute(sql).fetchone() == (0,), name


def test_emails_use_reserved_domains_only(conn: duckdb.DuckDBPyConnection) -> None:
    for table, column in (
        ("finance.accounts", "billing_email"),
        ("marketing.leads", "email"),
        ("product.users", "email"),
        ("product.user_profiles_legacy", "email"),
    ):
        emails = [e for (e,) in conn.execute(f"SELECT {column} FROM {table}").fetchall()]
        assert emails and all(RESERVED_EMAIL.match(e) for e in emails), table


def test_questions_people_ask_have_answers(conn: duckdb.DuckDBPyConnection) -> None:
    churned = _row(
        conn,
        "SELECT count(*) FROM finance.subscriptions WHERE status = 'canceled' AND cancel_reason <> 'plan_change' "
        "AND canceled_at >= DATE '2026-10-01' AND canceled_at < DATE '2026-11-01'",
    )
    assert churned[0] > 0
    assert _row(conn, "SELECT count(*) FROM analytics.fct_churn WHERE churn_month = '2026-10-01'") == churned
    arr = _row(conn, "SELECT sum(arr_usd) FROM analytics.fct_arr WHERE arr_month = '2026-10-01'")[0]
    assert 500_000 < arr < 20_000_000
    emails = "SELECT count(DISTINCT table_name) FROM duckdb_columns() WHERE column_name LIKE '%email'"
    assert _row(conn, emails)[0] >= 4


def test_manifest_is_a_v12_dbt_manifest(manifest: dict) -> None:
    assert manifest["metadata"]["dbt_schema_version"] == "https://schemas.getdbt.com/dbt/manifest/v12.json"
    assert manifest["metadata"]["project_name"] == "acme_analytics"
    models = {uid: n for uid, n in manifest["nodes"].items() if n["resource_type"] == "model"}
    assert len(models) == len(dbt_project.MODELS)
    assert any(n["resource_type"] == "test" for n in manifest["nodes"].values())
    for uid, node in models.items():
        assert uid == node["unique_id"] == f"model.acme_analytics.{node['name']}"
        owner = node["config"]["meta"]["owner"]
        assert owner in DEMO_EMAILS or owner in TEAMS
        parents = node["depends_on"]["nodes"]
        assert parents and sorted(parents) == manifest["parent_map"][uid]
        assert node["description"] and node["columns"] and node["raw_code"] and node["compiled_code"]
    exposures = {e["label"]: e for e in manifest["exposures"].values()}
    assert set(exposures) == {"Revenue dashboard", "Marketing funnel"}
    assert "model.acme_analytics.fct_arr" in exposures["Revenue dashboard"]["depends_on"]["nodes"]
    for uid, children in manifest["child_map"].items():
        assert all(uid in manifest["parent_map"][child] for child in children)


def test_manifest_relations_exist_in_the_warehouse(manifest: dict, conn: duckdb.DuckDBPyConnection) -> None:
    relations, columns = _relations(conn), _columns(conn)
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    for node in models:
        relation = f"{node['database']}.{node['schema']}.{node['alias']}"
        assert relation in relations
        assert all(f"{relation}.{name}" in columns for name in node["columns"]), relation
    assert manifest["sources"]
    for source in manifest["sources"].values():
        relation = f"{source['database']}.{source['schema']}.{source['identifier']}"
        assert relation in relations
        assert all(f"{relation}.{name}" in columns for name in source["columns"]), relation


def test_dbt_connector_reads_the_artifacts(files: WarehouseFiles, manifest: dict) -> None:
    snapshot = DbtConnector(str(files.manifest_path), str(files.catalog_path)).read()
    assert snapshot.database == "acme_analytics"
    kinds = {t.unique_id: t.kind for t in snapshot.tables}
    assert len(kinds) == len(dbt_project.MODELS) + len(manifest["sources"])
    arr = next(t for t in snapshot.tables if t.name == "fct_arr")
    assert arr.relation == ("acme", "analytics", "fct_arr") and arr.owner == content.FIONA
    assert all(c.data_type for c in arr.columns)
    revenue = next(d for d in snapshot.dashboards if d.name == "Revenue dashboard")
    assert ("analytics", "mrr_by_month") in revenue.upstream


def test_duckdb_connector_reads_the_warehouse(files: WarehouseFiles) -> None:
    snapshot = DuckDBConnector(f"duckdb:///{files.duckdb_path}").read()
    assert snapshot.database == "acme"
    tables = {(t.schema, t.name): t for t in snapshot.tables}
    assert ("finance", "invoices") in tables["finance", "v_open_invoices"].upstream
    assert tables["finance", "invoice_lines"].foreign_keys


def test_content_refers_to_existing_names(conn: duckdb.DuckDBPyConnection) -> None:
    known = _relations(conn) | _columns(conn)
    names = [*content.OWNERS, *content.TAGS, *content.CURATED_DESCRIPTIONS]
    names += [link for term in content.GLOSSARY for link in term.links]
    names += [link for document in content.DOCUMENTS for link in document.links]
    assert [name for name in names if name not in known] == []
    assert set(content.TEAM_OF_SCHEMA) == set(spec.SCHEMAS)


def test_content_is_well_formed() -> None:
    for owners in content.OWNERS.values():
        for kind, who in owners:
            assert (kind, who in DEMO_EMAILS) == ("user", True) or (kind, who in TEAMS) == ("team", True)
    assert all(tag == tag.lower() for tags in content.TAGS.values() for tag in tags)
    assert "pii" in content.TAGS["acme.marketing.leads.email"] and "pii" in content.TAGS["acme.product.users"]
    assert len(content.GLOSSARY) >= 12 and len({t.name for t in content.GLOSSARY}) == len(content.GLOSSARY)
    assert {"ARR", "MRR", "Churn"} <= {t.name for t in content.GLOSSARY}
    assert all(t.team in TEAMS | {None} for t in content.GLOSSARY)
    assert all(d.team in TEAMS | {None} for d in content.DOCUMENTS)
    assert all(d.body.startswith("# ") and "\n## " in d.body and "\n- " in d.body for d in content.DOCUMENTS)
