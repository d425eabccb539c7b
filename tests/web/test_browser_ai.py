"""In Chromium: ask the local assistant (streamed), citations and receipt, the history panel, Run SQL's two keys."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import expect

from tests.web.conftest import ORDERS, Warehouse, log_in, shot
from tests.world import World

pytestmark = pytest.mark.browser


def ask(page: Any, question: str) -> Any:
    """Ask on the AI page and wait for the answer to be rendered; returns that answer."""
    # Enter asks only once the page's script is running: before that it is a newline in the textarea.
    page.wait_for_load_state("load")
    page.fill("textarea[name=question]", question)
    page.keyboard.press("Enter")
    answer = page.locator("#answer-area .answer").filter(has=page.locator(".question", has_text=question))
    expect(answer.locator(".receipt-text")).to_be_visible()
    return answer


def test_ask_see_citations_receipt_and_history_then_delete(
    page: Any, client: TestClient, world: World, warehouse: Warehouse
) -> None:
    page.on("dialog", lambda dialog: dialog.accept())
    log_in(page, world.a.editor)
    page.get_by_role("link", name="Ask AI").click()
    expect(page.get_by_text("Your questions show up here")).to_be_visible()
    first = ask(page, "Describe customers")
    answer = ask(page, "Who owns orders?")
    expect(answer.locator(".answer-text")).to_contain_text("owned by Finance")
    citation = answer.locator("a.citation", has_text="orders")
    expect(citation).to_have_attribute("href", f"/resources/{warehouse.id('shop.main.orders')}")
    expect(answer.locator(".receipt-text")).to_have_text("nothing left this server")
    expect(page).to_have_url(re.compile(r"/ai/prompts/[0-9a-f]{32}$"))
    history = page.locator("#history .history-item")
    expect(history).to_have_count(2)
    expect(history.first).to_contain_text("Who owns orders?")
    expect(history.first).to_have_class(re.compile(r"\bcurrent\b"))
    assert first.count() == 0  # the page shows the newest answer
    shot(page, "ai-answer")

    older = history.filter(has_text="Describe customers")
    older.locator("summary", has_text="Delete").click()
    older.get_by_role("button", name="Delete").click()
    expect(history).to_have_count(1)  # the panel was swapped in place
    expect(page.locator("#answer-area")).to_contain_text("owned by Finance")

    current = history.filter(has_text="Who owns orders?")
    current.locator("summary", has_text="Delete").click()
    shot(page, "ai-delete-confirm")
    current.get_by_role("button", name="Delete").click()
    expect(page).to_have_url(re.compile(r"/ai$"))
    expect(page.get_by_text("Your questions show up here")).to_be_visible()
    assert client.get("/api/v1/ai/prompts", headers=world.a.editor.headers).json()["prompts"] == []


def test_run_sql_needs_both_keys_then_shows_the_rows(page: Any, world: World, warehouse: Warehouse) -> None:
    log_in(page, world.a.admin)
    page.get_by_role("link", name="AI settings").click()
    toggle = page.locator("input[name=run_sql_enabled]")
    expect(toggle).not_to_be_checked()
    page.locator("label.toggle", has=toggle).click()
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".alert-ok")).to_have_text("Saved.")
    expect(toggle).to_be_checked()
    page.get_by_role("link", name="Integrations").click()
    page.get_by_role("link", name="shop", exact=True).click()
    grant = page.locator(f"input[name=query_access][value='team:{world.a.teams['Finance']}']")
    grant.check()
    shot(page, "admin-grant")
    page.get_by_role("button", name="Save access").click()
    expect(page.locator(".alert-ok")).to_have_text("Saved.")
    expect(grant).to_be_checked()
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))

    log_in(page, world.a.editor)  # a member of Finance
    page.goto("/ai")
    answer = ask(page, "how many rows in orders?")
    run = answer.locator(".sql-run")
    expect(run.locator(".sql")).to_contain_text("SELECT COUNT(*) FROM orders")
    expect(run.locator("table.result-table th")).to_contain_text("COUNT(*)")
    expect(run.locator("table.result-table td")).to_have_text(str(ORDERS))
    expect(run.locator(".sql-foot")).to_contain_text("1 row")
    shot(page, "ai-sql-result")


def test_the_ai_page_works_without_javascript(
    browser: Any, live_server: Any, world: World, warehouse: Warehouse
) -> None:
    context = browser.new_context(
        base_url=live_server.url, java_script_enabled=False, viewport={"width": 1366, "height": 900}
    )
    page = context.new_page()
    try:
        log_in(page, world.a.viewer)
        page.goto("/ai")
        page.fill("textarea[name=question]", "What does gross revenue mean?")
        page.get_by_role("button", name="Ask").click()
        expect(page).to_have_url(re.compile(r"/ai/prompts/[0-9a-f]{32}$"))
        expect(page.locator(".answer-text")).to_contain_text("Sum of order amounts before refunds.")
        expect(page.locator("#history .history-item")).to_have_count(1)
        page.locator("#history summary", has_text="Delete").first.click()
        page.get_by_role("button", name="Delete").click()
        expect(page).to_have_url(re.compile(r"/ai$"))
        expect(page.locator("#history .history-item")).to_have_count(0)
        shot(page, "ai-no-javascript")
    finally:
        context.close()
