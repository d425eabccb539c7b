"""/api/v1/docs: Swagger UI from our own static folder, under a Content-Security-Policy as strict as the pages'."""

from __future__ import annotations

import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from datadesk.web.render import STATIC_DIR
from datadesk.web.security import CONTENT_SECURITY_POLICY

ON_SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the store plays no part
VENDORED = Path(STATIC_DIR) / "VENDORED.md"


class _Page(HTMLParser):
    """The URLs a page loads and its scripts' attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            self.scripts.append(found)
        for name in ("src", "href"):
            if found.get(name):
                self.urls.append(str(found[name]))


def _directives(policy: str) -> dict[str, list[str]]:
    parts = [part.split() for part in policy.split(";") if part.strip()]
    return {part[0]: part[1:] for part in parts}


@ON_SQLITE
def test_docs_load_only_same_origin_urls_that_answer(client: TestClient) -> None:
    response = client.get("/api/v1/docs")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = _Page()
    page.feed(response.text)
    openapi = re.search(r"url: '([^']+)'", response.text)
    assert openapi, "Swagger UI is not told where the schema is"
    urls = [*page.urls, openapi.group(1)]
    assert "/static/swagger/swagger-ui-bundle.js" in urls and "/static/swagger/swagger-ui.css" in urls
    assert "://" not in response.text and "cdn" not in response.text.lower()
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        assert client.get(url).status_code == 200, url
    assert client.get(openapi.group(1)).json()["paths"]["/api/v1/sql"]


@ON_SQLITE
def test_docs_csp_is_the_pages_policy_plus_one_nonce_for_the_initialiser(client: TestClient) -> None:
    first, second = client.get("/api/v1/docs"), client.get("/api/v1/docs")
    policy = _directives(first.headers["content-security-policy"])
    pages = _directives(CONTENT_SECURITY_POLICY)
    nonces = [source for source in policy["script-src"] if source.startswith("'nonce-")]
    assert len(nonces) == 1
    assert {**policy, "script-src": [s for s in policy["script-src"] if s not in nonces]} == pages
    assert not any("unsafe" in source for sources in policy.values() for source in sources)
    page = _Page()
    page.feed(first.text)
    inline = [script for script in page.scripts if not script.get("src")]
    assert inline, "Swagger UI needs its initialiser"
    assert all(f"'nonce-{script.get('nonce')}'" == nonces[0] for script in inline)
    assert second.headers["content-security-policy"] != first.headers["content-security-policy"]  # fresh each time
    assert first.headers["x-frame-options"] == "DENY" and first.headers["x-content-type-options"] == "nosniff"


def test_vendored_swagger_files_match_their_recorded_hashes() -> None:
    recorded = dict(re.findall(r"\| `(swagger/[^`]+)` \| `([0-9a-f]{64})` \|", VENDORED.read_text()))
    on_disk = sorted(str(p.relative_to(STATIC_DIR)) for p in (Path(STATIC_DIR) / "swagger").iterdir())
    assert sorted(recorded) == on_disk
    for name, digest in recorded.items():
        assert hashlib.sha256((Path(STATIC_DIR) / name).read_bytes()).hexdigest() == digest, name
