"""`datadesk mcp --token TOKEN`: the same tools over stdio, spawned the way a desktop AI client does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters
from sqlalchemy import select
from typer.testing import CliRunner

from datadesk.cli import app as cli
from datadesk.identity.models import AuditEvent
from datadesk.settings import Settings
from tests.mcp.conftest import A_TERM, Catalog, grant, run, set_run_sql, text_of, unfence
from tests.world import World

DATADESK = str(Path(sys.executable).with_name("datadesk"))


def _env(settings: Settings) -> dict[str, str]:
    return {
        "DATADESK_HOME": str(settings.home),
        "DATADESK_DATABASE_URL": settings.database_url,
        "DATADESK_SECRET_KEY": settings.secret_key,
        "DATADESK_SOURCES_DIR": settings.sources_dir,
    }


def test_stdio_serves_the_token_persons_tools_until_the_token_is_revoked(
    client: TestClient, world: World, catalog: Catalog, settings: Settings, db: Any
) -> None:
    a = world.a
    set_run_sql(client, a.admin, True)
    grant(client, a.admin, catalog.integration_id, ["role:editor"])
    made = client.post("/api/v1/auth/tokens", json={"name": "desktop"}, headers=a.editor.headers).json()
    # The token from the environment, as a client config would pass it (never on a command line there).
    server = StdioServerParameters(
        command=DATADESK, args=["mcp"], env={**_env(settings), "DATADESK_TOKEN": made["token"]}
    )
    orders = catalog.id("wh.main.orders")

    async def main() -> None:
        async with Client(server, mode="legacy") as mcp:
            names = [t.name for t in (await mcp.list_tools()).tools]
            assert names == ["search_catalog", "get_resource", "get_lineage", "list_glossary", "run_sql"]
            found = unfence(text_of(await mcp.call_tool("search_catalog", {"query": "orders"})))
            assert orders in [c["id"] for c in found]
            assert catalog.id("wh.main.campaigns") not in text_of(
                await mcp.call_tool("search_catalog", {"query": "campaigns"})
            )
            card = unfence(text_of(await mcp.call_tool("get_resource", {"resource_id": orders})))[0]
            assert card["qualified_name"] == "wh.main.orders"
            glossary = unfence(text_of(await mcp.call_tool("list_glossary", {})))
            assert [t["name"] for t in glossary] == [A_TERM]
            sql = {"integration_id": catalog.integration_id, "sql": "SELECT count(*) AS n FROM orders"}
            assert unfence(text_of(await mcp.call_tool("run_sql", sql)), "query_result")["rows"] == [[50]]
            refused = await mcp.call_tool("run_sql", {**sql, "sql": "SELECT customer_email FROM orders"})
            api = catalog.sql(client, a.editor, "SELECT customer_email FROM orders")
            assert refused.is_error and json.loads(text_of(refused)) == api.json()

            revoke = client.delete(f"/api/v1/auth/tokens/{made['id']}", headers=a.editor.headers)
            assert revoke.status_code == 204
            with pytest.raises(Exception, match="revoked"):
                await mcp.call_tool("list_glossary", {})
            with pytest.raises(Exception, match="revoked"):
                await mcp.list_tools()

    run(main)
    db.seal(a.id)
    events = list(db.scalars(select(AuditEvent).where(AuditEvent.action == "mcp.tool").order_by(AuditEvent.at)))
    assert [e.target for e in events] == [
        "search_catalog",
        "search_catalog",
        "get_resource",
        "list_glossary",
        "run_sql",
        "run_sql",
    ]
    assert all(e.after and e.after["transport"] == "stdio" and e.actor_user_id == a.editor.id for e in events)


def test_stdio_refuses_to_start_with_a_bad_missing_or_revoked_token(
    client: TestClient, world: World, settings: Settings
) -> None:
    made = client.post("/api/v1/auth/tokens", json={"name": "old"}, headers=world.a.editor.headers).json()
    assert client.delete(f"/api/v1/auth/tokens/{made['id']}", headers=world.a.editor.headers).status_code == 204
    for args in (["--token", "not-a-token"], ["--token", made["token"]]):
        done = subprocess.run(
            [DATADESK, "mcp", *args], env=_env(settings), input="", capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 1, done
        assert done.stdout == ""  # nothing on the protocol channel
        assert done.stderr.strip().splitlines() == ["error: Missing, invalid or revoked token."]
    missing = CliRunner().invoke(cli, ["mcp"], env={**_env(settings), "DATADESK_TOKEN": ""})
    assert missing.exit_code != 0 and "--token" in missing.output
