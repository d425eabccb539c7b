"""The two-key matrix through the assistant: the fake model asks run_sql, and the answer matches POST /sql."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from tests.ai.conftest import Shop, ask, configure, use
from tests.fakes.llm_server import FakeLLMServer, text, tool_call
from tests.world import World

VISIBLE = "SELECT id, amount FROM orders ORDER BY id LIMIT 3"
INVISIBLE = "SELECT name FROM campaign_hidden"


def grant(client: TestClient, world: World, shop: Shop, access: str) -> None:
    principals = {
        "none": [],
        "user": [f"user:{world.a.editor.id}"],
        "team": [f"team:{world.a.teams['Finance']}"],
        "role": ["role:editor"],
    }[access]
    response = client.put(
        f"/api/v1/integrations/{shop.integration_id}/permissions",
        json={"query_access": principals},
        headers=world.a.admin.headers,
    )
    assert response.status_code == 200


@pytest.mark.parametrize("toggle", [False, True])
@pytest.mark.parametrize("access", ["none", "user", "team", "role"])
@pytest.mark.parametrize("table", ["visible", "invisible"])
def test_two_key_matrix_through_the_assistant(
    client: TestClient, world: World, shop: Shop, fake_llm: FakeLLMServer, toggle: bool, access: str, table: str
) -> None:
    use(client, world.a.admin, fake_llm, "openai", run_sql_enabled=toggle)
    grant(client, world, shop, access)
    sql = VISIBLE if table == "visible" else INVISIBLE
    fake_llm.script(tool_call("run_sql", {"integration_id": shop.integration_id, "sql": sql}), text("done"))
    body = ask(client, world.a.editor, "numbers please").json()
    offered = {t["function"]["name"] for t in fake_llm.completion_requests[0].json["tools"]}
    assert ("run_sql" in offered) is (toggle and access != "none")
    direct = client.post(
        "/api/v1/sql", json={"integration_id": shop.integration_id, "sql": sql}, headers=world.a.editor.headers
    )
    [run] = body["sql_runs"] if "run_sql" in offered else [None]
    if "run_sql" not in offered:
        # not offered: the call is refused as an unknown tool and nothing runs
        assert body["sql_runs"] == []
        tool_message = fake_llm.completion_requests[1].json["messages"][-1]["content"]
        assert "no tool named" in tool_message
        assert direct.status_code == 403
        return
    if direct.status_code == 200:
        assert run["status"] == "succeeded" and run["rows"] == direct.json()["rows"]
    else:
        assert run["error"] == direct.json()["error"]
        tool_result = json.loads(fake_llm.completion_requests[1].json["messages"][-1]["content"])
        assert tool_result["error"]["code"] == direct.json()["error"]["code"]
    expected = 200 if table == "visible" else 404
    assert direct.status_code == expected


def test_limits_set_by_admins_apply_to_the_assistant(
    client: TestClient, world: World, shop: Shop, fake_llm: FakeLLMServer
) -> None:
    use(client, world.a.admin, fake_llm, "anthropic", run_sql_enabled=True, sql_row_cap=5)
    grant(client, world, shop, "role")
    fake_llm.script(
        tool_call("run_sql", {"integration_id": shop.integration_id, "sql": "SELECT id FROM orders"}), text("done")
    )
    [run] = ask(client, world.a.editor, "all ids").json()["sql_runs"]
    assert run["row_count"] == 5 and run["truncated"] is True
    configure(client, world.a.admin, sql_row_cap=1000)
