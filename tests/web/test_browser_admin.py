"""In Chromium: the admin integration and audit pages cut no text at desktop and phone widths; editing a connection."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import expect
from sqlalchemy.orm import sessionmaker

from datadesk.ai.models import LlmCall
from datadesk.catalog.integrations import config_of
from datadesk.catalog.models import Integration, SyncRun
from datadesk.db import StoreSession, transaction, utcnow
from tests.catalog.helpers import add_integration, sync
from tests.catalog.test_integrations import JAFFLE, SECRET_PASSWORD, pg_url
from tests.web.conftest import LiveServer, Warehouse, log_in, shot
from tests.world import World

pytestmark = pytest.mark.browser

WIDTHS = (1366, 390)
LONG_ERROR = (
    "PostgreSQL at 127.0.0.1:54329: connection refused. Is the server running on that host and accepting "
    "TCP/IP connections? Tried /srv/datadesk/sources/a-very-long-folder-name-without-any-spaces-in-it/"
    "and-another-one-just-as-long-for-good-measure/warehouse.db"
)

# Every place in <main> where text is cut: a cell whose content spills out, a box that hides what overflows,
# a table wider than its box when that box does not scroll, or <main> itself wider than the window.
CLIPPED = """() => {
  const main = document.querySelector("main");
  const name = (el) => el.tagName.toLowerCase() + (el.className ? "." + String(el.className).split(" ").join(".") : "")
    + ": " + (el.textContent || "").trim().slice(0, 60);
  const cut = [];
  if (main.getBoundingClientRect().right > innerWidth + 1 || main.scrollWidth > main.clientWidth + 1) {
    cut.push("main is wider than the window");
  }
  for (const el of main.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.width <= 1 || box.height <= 1 || ["INPUT", "SELECT", "TEXTAREA", "OPTION"].includes(el.tagName)) continue;
    const overflow = getComputedStyle(el).overflowX;
    const spills = el.scrollWidth > el.clientWidth + 1;
    if (spills && (["TD", "TH"].includes(el.tagName) || ["hidden", "clip"].includes(overflow))) cut.push(name(el));
  }
  for (const table of main.querySelectorAll("table")) {
    const box = table.parentElement;
    const scrolls = ["auto", "scroll"].includes(getComputedStyle(box).overflowX);
    if (table.offsetWidth > box.clientWidth + 1 && !scrolls) cut.push("table wider than its box: " + name(box));
  }
  return cut;
}"""
# Whether a table needs scrolling sideways to be read: at desktop width, none should.
SCROLLS = (
    "() => [...document.querySelectorAll('main table')].some(t => t.offsetWidth > t.parentElement.clientWidth + 1)"
)


def _failed_run(sessions: sessionmaker[StoreSession], world: World, integration_id: str, error: str) -> None:
    with transaction(sessions, world.a.id) as session:
        now = utcnow()
        session.add(
            SyncRun(
                workspace_id=world.a.id,
                integration_id=integration_id,
                status="failed",
                error=error,
                trigger="schedule",
                created_at=now,
                started_at=now,
                finished_at=now,
            )
        )


def _long_audit_rows(sessions: sessionmaker[StoreSession], world: World) -> None:
    with transaction(sessions, world.a.id) as session:
        session.add(
            LlmCall(
                workspace_id=world.a.id,
                user_id=world.a.editor.id,
                provider="openai",
                model="gpt-4o-mini-2024-07-18-deployment-for-the-finance-team-in-the-european-union-region",
                host="llm-gateway.internal.eu-west-1.compute.amazonaws.example.com",
                region="eu-west-1",
                request_bytes=1_234_567,
                resource_ids=[f"{n:032x}" for n in range(40)],
                payload_sha256="ab" * 32,
                status="failed",
                error_code="provider_unreachable_after_retries",
            )
        )
        session.add(
            LlmCall(
                workspace_id=world.a.id,
                user_id=world.a.admin.id,
                provider="local",
                model="datadesk-local-1",
                host="this server",
                payload_sha256="cd" * 32,
            )
        )


@pytest.fixture
def history(client: TestClient, world: World, warehouse: Warehouse, sessions: sessionmaker[StoreSession]) -> str:
    """The shop with a succeeded sync, a real failed one (its file gone) and one failing with a long reason."""
    moved = warehouse.path.with_suffix(".moved")
    warehouse.path.rename(moved)
    assert sync(client, world.a.admin, warehouse.integration_id)["status"] == "failed"
    moved.rename(warehouse.path)
    _failed_run(sessions, world, warehouse.integration_id, LONG_ERROR)
    add_integration(
        client,
        world.a.admin,
        "jaffle_shop (dbt)",
        "dbt",
        {"manifest_path": str(JAFFLE / "manifest.json"), "catalog_path": str(JAFFLE / "catalog.json")},
    )
    _long_audit_rows(sessions, world)
    return warehouse.integration_id


def test_admin_pages_cut_no_text(page: Any, world: World, history: str) -> None:
    log_in(page, world.a.admin)
    pages = {
        "integrations": "/admin/integrations",
        "integration": f"/admin/integrations/{history}",
        "audit": "/admin/audit",
    }
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        for name, path in pages.items():
            page.goto(path)
            shot(page, f"{name}-{width}")
            assert page.evaluate(CLIPPED) == [], f"{name} at {width} px"
            if width >= 1366:
                assert not page.evaluate(SCROLLS), f"{name} at {width} px needs sideways scrolling"
    page.goto("/admin/integrations")
    error = page.locator(".integration-card", has_text="shop").locator(".sync-error")
    expect(error).to_contain_text("connection refused")
    assert error.get_attribute("title") == LONG_ERROR  # the full reason, the card shows its start
    page.goto(f"/admin/integrations/{history}")
    expect(page.locator("#sync td.note").first).to_have_text(LONG_ERROR)


def test_admin_edits_a_connection_tested_first(
    page: Any, client: TestClient, world: World, live_server: LiveServer, sessions: sessionmaker[StoreSession]
) -> None:
    created = add_integration(client, world.a.admin, "warehouse", "postgres", {"url": pg_url()})
    log_in(page, world.a.admin)
    page.goto(f"/admin/integrations/{created['id']}")
    url = page.locator("#connection input[name=url]")
    expect(url).to_have_value(pg_url().replace(SECRET_PASSWORD, "***"))
    assert SECRET_PASSWORD not in page.content()

    missing = pg_url(database="no_such_database_here").replace(SECRET_PASSWORD, "***")
    url.fill(missing)
    page.get_by_role("button", name="Test connection and save").click()
    expect(page.locator("#connection-error")).to_contain_text("Could not connect")
    expect(url).to_have_value(missing)  # what was typed stays
    expect(url).to_be_focused()
    shot(page, "integration-edit-refused")
    assert SECRET_PASSWORD not in page.content()
    assert _stored_url(sessions, world, live_server, created["id"]) == pg_url()

    good = pg_url().replace(SECRET_PASSWORD, "***") + "?connect_timeout=5"
    url.fill(good)
    page.get_by_role("button", name="Test connection and save").click()
    expect(page.locator(".alert-ok")).to_have_text("Saved.")
    expect(url).to_have_value(good)
    shot(page, "integration-edit-saved")
    assert _stored_url(sessions, world, live_server, created["id"]) == pg_url() + "?connect_timeout=5"


def _stored_url(sessions: sessionmaker[StoreSession], world: World, server: LiveServer, integration_id: str) -> str:
    with transaction(sessions, world.a.id) as session:
        integration = session.get(Integration, integration_id)
        assert integration is not None
        return config_of(server.settings.secret_key, integration)["url"]
