"""In Chromium: /api/v1/docs draws every operation under its CSP, with nothing refused and nothing fetched elsewhere."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from tests.web.conftest import LiveServer, shot

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


def test_swagger_ui_runs_under_the_csp_from_our_own_server(page: Any, live_server: LiveServer) -> None:
    requested: list[str] = []
    problems: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto("/api/v1/docs")
    expect(page.locator('.opblock-post [data-path="/api/v1/sql"]')).to_have_count(1)
    expect(page.locator(".opblock").first).to_be_visible()
    assert page.locator(".opblock").count() >= 40  # every operation of the schema is drawn
    # Styles load from the static file: the summary bar of a POST operation gets Swagger UI's colour.
    post_colour = page.locator(".opblock-post .opblock-summary-method").first.evaluate(
        "el => getComputedStyle(el).backgroundColor"
    )
    assert post_colour not in ("rgba(0, 0, 0, 0)", "transparent")
    shot(page, "api-docs")
    assert not problems, problems  # a CSP refusal shows up here as a console error
    own = urlparse(live_server.url).netloc
    assert requested and all(urlparse(url).netloc == own for url in requested if not url.startswith("data:")), requested
