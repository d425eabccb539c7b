"""The dbt faces of a Finance table stay hidden from Marketing through the assistant and MCP too."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.catalog.test_siblings import Jaffle, jaffle  # noqa: F401  (fixture)
from tests.mcp.conftest import connect, mcp_url, run, text_of, unfence  # noqa: F401  (mcp_url: fixture)
from tests.world import World


def test_the_local_assistant_cites_no_hidden_face(client: TestClient, world: World, jaffle: Jaffle) -> None:  # noqa: F811
    a = world.a
    face_ids = {f["id"] for f in jaffle.faces()} | {t["id"] for t in jaffle.tables.values()}
    for node in jaffle.linked()[:8]:
        for question in (f"Describe {node['name']}", f"What columns does {node['name']} have?"):
            seen: dict[str, Any] = {}
            for who, person in (("viewer", a.viewer), ("editor", a.editor)):
                response = client.post("/api/v1/ai/ask", json={"question": question}, headers=person.headers)
                assert response.status_code == 200, response.text
                seen[who] = response.json()
            viewer = str(seen["viewer"])
            assert not any(rid in viewer for rid in face_ids), (question, seen["viewer"]["answer"])
            assert {c["resource_id"] for c in seen["editor"]["citations"]} & face_ids, question


def test_mcp_refuses_every_hidden_face(client: TestClient, world: World, jaffle: Jaffle, mcp_url: str) -> None:  # noqa: F811
    a = world.a
    faces = [f["id"] for f in jaffle.faces()]
    outcomes: dict[str, tuple[int, int, set[str]]] = {}

    async def main() -> None:
        for who, person in (("viewer", a.viewer), ("editor", a.editor)):
            async with connect(mcp_url, person.token) as mcp:
                refused = opened = 0
                for rid in faces:
                    answer = await mcp.call_tool("get_resource", {"resource_id": rid})
                    if answer.is_error:
                        refused += 1
                    else:
                        opened += 1
                found: set[str] = set()
                for node in jaffle.linked():
                    reply = text_of(await mcp.call_tool("search_catalog", {"query": node["name"]}))
                    if reply != "No matching resources in the catalog.":
                        found |= {c["id"] for c in unfence(reply)}
                outcomes[who] = (refused, opened, found)

    run(main)
    hidden = set(faces) | {t["id"] for t in jaffle.tables.values()}
    assert outcomes["viewer"][:2] == (len(faces), 0) and not outcomes["viewer"][2] & hidden
    assert outcomes["editor"][:2] == (0, len(faces)) and outcomes["editor"][2] & hidden
