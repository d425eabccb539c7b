"""In Chromium: log in, search and open a table, edit its description, no admin pages for viewers, nothing leaves."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import expect

from tests.web.conftest import Warehouse, log_in, patch, shot
from tests.world import World

pytestmark = pytest.mark.browser


def test_log_in_search_and_open_a_table(page: Any, world: World, warehouse: Warehouse) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))
    shot(page, "login")
    log_in(page, world.a.viewer)
    expect(page.get_by_role("heading", name="Catalog")).to_be_visible()
    page.fill("input[name=q]", "orders")  # no Enter: results come as you type
    result = page.locator(".result").filter(
        has=page.locator(".result-qn", has_text=re.compile(r"^shop\.main\.orders$"))
    )
    expect(result).to_have_count(1)
    expect(page).to_have_url(re.compile(r"\?q=orders"))
    shot(page, "search")
    result.locator("a.result-title").click()
    expect(page.get_by_role("heading", name="orders", exact=True)).to_be_visible()
    expect(page.locator("#columns")).to_contain_text("customer_id")
    expect(page.locator("#lineage")).to_contain_text("shop.main.big_orders")
    expect(page.locator("#f-owners")).to_contain_text("Finance")
    expect(page.locator("#f-description strong")).to_have_text("web shop")
    expect(page.get_by_role("link", name="Gross revenue")).to_be_visible()
    expect(page.locator(".edit-link")).to_have_count(0)  # viewers read, they do not edit
    shot(page, "resource")


def test_editor_edits_a_description(page: Any, world: World, warehouse: Warehouse) -> None:
    log_in(page, world.a.editor)
    page.goto(f"/resources/{warehouse.id('shop.main.orders')}")
    page.locator("#f-description .edit-link").click()
    editor = page.locator("#f-description textarea")
    expect(editor).to_be_visible()
    expect(page).to_have_url(re.compile(r"/resources/[0-9a-f]{32}$"))  # edited in place, no navigation
    editor.fill("Orders from the **web shop** and the mobile app.\n\nSee [the runbook](/documents).")
    shot(page, "edit-description")
    page.locator("#f-description button[type=submit]").click()
    expect(page.locator("#f-description .saved")).to_be_visible()
    expect(page.locator("#f-description .prose")).to_contain_text("Orders from the web shop and the mobile app.")
    page.reload()
    expect(page.locator("#f-description .prose")).to_contain_text("the mobile app")
    expect(page.locator("#f-description .prose a")).to_have_attribute("href", "/documents")


def test_viewer_cannot_reach_admin_pages(page: Any, world: World, warehouse: Warehouse) -> None:
    log_in(page, world.a.viewer)
    expect(page.locator(".sidebar a[href^='/admin']")).to_have_count(0)
    expect(page.locator(".nav-heading")).to_have_count(0)
    for path in ("/admin/members", "/admin/ai", f"/admin/integrations/{warehouse.integration_id}", "/admin/audit"):
        response = page.goto(path)
        assert response is not None and response.status == 403, path
        expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
        expect(page.locator(".sidebar a[href^='/admin']")).to_have_count(0)
    shot(page, "viewer-403")


def test_hostile_description_loads_nothing_from_elsewhere(
    page: Any, client: TestClient, world: World, warehouse: Warehouse
) -> None:
    hostile = (
        "Orders. ![x](http://evil.example/x.png)\n\n"
        '<script src="http://evil.example/x.js"></script>\n\n'
        '<img src="http://evil.example/raw.png" onerror="alert(1)">\n\n'
        "[tracker](http://evil.example/track)"
    )
    patch(client, world.a.admin, warehouse.id("shop.main.orders"), {"description": hostile})
    patch(
        client,
        world.a.admin,
        warehouse.id("shop.main.orders.amount"),
        {"description": "![y](https://evil.example/y.png)"},
    )
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    log_in(page, world.a.editor)
    page.goto(f"/resources/{warehouse.id('shop.main.orders')}")
    description = page.locator("#f-description .prose")
    expect(description).to_contain_text('<script src="http://evil.example/x.js"></script>')  # as text
    expect(page.locator("img[src*='evil'], script[src*='evil']")).to_have_count(0)
    expect(description.locator("a", has_text="tracker")).to_have_attribute("rel", "noopener noreferrer nofollow")
    shot(page, "hostile-description")
    page.goto("/ai")
    page.fill("textarea[name=question]", "Describe orders")
    page.keyboard.press("Enter")
    expect(page.locator(".answer .receipt-text")).to_have_text("nothing left this server")
    expect(page.locator(".answer img[src*='evil'], .answer script")).to_have_count(0)
    page.wait_for_load_state("networkidle")
    assert requests, "the network log is empty"
    hosts = {urlparse(url).hostname for url in requests}
    assert hosts == {"127.0.0.1"}, sorted(url for url in requests if urlparse(url).hostname != "127.0.0.1")
    assert dialogs == []
