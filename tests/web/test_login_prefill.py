"""The login page fills its workspace field from ?workspace= (the demo's printed link), always escaped."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def workspace_input(page: str) -> str:
    found = re.findall(r"<input[^>]*name=\"workspace\"[^>]*>", page)
    assert len(found) == 1, page
    return found[0]


def test_login_page_prefills_the_workspace(client: TestClient) -> None:
    assert 'value="demo"' in workspace_input(client.get("/login", params={"workspace": "demo"}).text)
    assert 'value=""' in workspace_input(client.get("/login").text)


def test_a_hostile_workspace_is_escaped(client: TestClient) -> None:
    hostile = '"><script>alert(1)</script><input value="'
    page = client.get("/login", params={"workspace": hostile}).text
    assert "<script>alert(1)</script>" not in page
    assert workspace_input(page).count('value="') == 1
    assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;input value=&#34;"' in workspace_input(page)
