"""The demo: a documented catalog, Teams deciding visibility, and the two-key rule set up to show."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from datadesk.app import create_app
from datadesk.cli import app as cli
from datadesk.demo import LOGINS
from datadesk.settings import Settings
from tests.conftest import TEST_SECRET


def test_demo_catalog_is_documented_and_governed(tmp_path: Path, database_url: str) -> None:
    env = {"DATADESK_HOME": str(tmp_path), "DATADESK_DATABASE_URL": database_url, "DATADESK_SECRET_KEY": TEST_SECRET}
    result = CliRunner().invoke(cli, ["demo", "--no-serve"], env=env)
    assert result.exit_code == 0, result.output
    app = create_app(Settings(home=tmp_path, database_url=database_url, secret_key=TEST_SECRET))
    with TestClient(app) as client:
        tokens = {}
        for login in LOGINS:
            body = client.post(
                "/api/v1/auth/login", json={"email": login.email, "password": login.password, "workspace": "demo"}
            ).json()
            tokens[login.role] = {"Authorization": f"Bearer {body['token']}"}
        tables = client.get(
            "/api/v1/resources", params={"type": "table", "limit": 500}, headers=tokens["admin"]
        ).json()["resources"]
        names = {t["qualified_name"] for t in tables}
        assert len([n for n in names if n.startswith("acme.")]) >= 25
        described = [t for t in tables if t["qualified_name"].startswith("acme.") and t["description"]]
        assert len(described) >= 0.9 * len([n for n in names if n.startswith("acme.")])
        assert any("pii" in t["tags"] for t in tables)
        glossary = client.get("/api/v1/resources", params={"type": "glossary_term"}, headers=tokens["viewer"]).json()
        assert {"ARR", "MRR", "Churn"} <= {g["name"] for g in glossary["resources"]}
        # Mark (Marketing) does not see finance tables; Fiona (Finance) does
        viewer = {
            t["qualified_name"]
            for t in client.get(
                "/api/v1/resources", params={"type": "table", "limit": 500}, headers=tokens["viewer"]
            ).json()["resources"]
        }
        assert "acme.finance.invoices" not in viewer and "acme.marketing.campaigns" in viewer
        invoices = next(t for t in tables if t["qualified_name"] == "acme.finance.invoices")
        assert client.get(f"/api/v1/resources/{invoices['id']}", headers=tokens["editor"]).status_code == 200
        # the dbt project is linked to the warehouse: each model is its table's sibling, lineage runs table to table
        fct_arr = next(t for t in tables if t["qualified_name"] == "acme.analytics.fct_arr")
        assert "model.acme_analytics.fct_arr" in {s["qualified_name"] for s in fct_arr["siblings"]}
        lineage = client.get(f"/api/v1/resources/{fct_arr['id']}/lineage", headers=tokens["editor"]).json()
        assert "acme.finance.mrr_snapshots" in {r["qualified_name"] for r in lineage["upstream"]}
        # Run SQL is on; Finance may query, Marketing may not
        sql = {"integration_id": invoices["integration_id"], "sql": "SELECT count(*) FROM finance.invoices"}
        assert client.post("/api/v1/sql", json=sql, headers=tokens["editor"]).status_code == 200
        refused = client.post(
            "/api/v1/sql", json={**sql, "sql": "SELECT count(*) FROM marketing.campaigns"}, headers=tokens["viewer"]
        )
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "no_query_access"
        answer = client.post(
            "/api/v1/ai/ask", json={"question": "What does ARR mean?"}, headers=tokens["viewer"]
        ).json()
        assert "Annual recurring revenue" in answer["answer"] and answer["citations"]
    app.state.engine.dispose()
