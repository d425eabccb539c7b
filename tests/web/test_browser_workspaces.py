"""In Chromium: switching workspace from the sidebar, and the workspace block on a phone and a laptop."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy.orm import sessionmaker

from datadesk.db import StoreSession, transaction
from datadesk.identity import service as identity
from tests.web.conftest import log_in, shot
from tests.world import World, add_to

pytestmark = pytest.mark.browser

HOME = re.compile(r"^http://127\.0\.0\.1:\d+/$")
GAP = 4  # px: the least space between the workspace's name and the switch


@pytest.fixture
def in_both(sessions: sessionmaker[StoreSession], world: World) -> Any:
    """A's editor, also a viewer in B."""
    add_to(sessions, world.b.id, world.a.editor.email)
    return world.a.editor


def apart(first: dict[str, float], second: dict[str, float]) -> float:
    """How far apart two boxes are (negative when they overlap)."""
    horizontal = max(second["x"] - (first["x"] + first["width"]), first["x"] - (second["x"] + second["width"]))
    vertical = max(second["y"] - (first["y"] + first["height"]), first["y"] - (second["y"] + second["height"]))
    return max(horizontal, vertical)


def check_workspace_block(page: Any) -> None:
    name = page.locator(".sidebar .workspace-name")
    control = page.locator(".sidebar .workspace-switch")
    expect(name).to_be_visible()
    expect(control).to_be_visible()
    name_box, control_box = name.bounding_box(), control.bounding_box()
    assert apart(name_box, control_box) >= GAP, (name_box, control_box)
    for button in control.locator("button").all():
        assert apart(name_box, button.bounding_box()) >= GAP
    width = page.viewport_size["width"]
    block = page.locator(".sidebar .workspace").bounding_box()
    assert block["x"] >= 0 and block["x"] + block["width"] <= width, (block, width)  # nothing runs off the screen
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_switch_from_the_sidebar_and_back(page: Any, world: World, in_both: Any) -> None:
    log_in(page, in_both, "alpha")
    expect(page.locator(".sidebar .workspace-name")).to_have_text("ALPHA")
    check_workspace_block(page)
    shot(page, "switch-1366")
    page.locator(".workspace-switch button", has_text="BETA").click()
    page.wait_for_url(HOME)
    expect(page.locator(".sidebar .workspace-name")).to_have_text("BETA")
    expect(page.locator(".sidebar .me-role")).to_have_text("viewer")
    page.locator(".workspace-switch button", has_text="ALPHA").click()
    page.wait_for_url(HOME)
    expect(page.locator(".sidebar .workspace-name")).to_have_text("ALPHA")
    expect(page.locator(".sidebar .me-role")).to_have_text("editor")


def test_on_a_phone_the_name_and_the_switch_stay_apart(
    page: Any, sessions: sessionmaker[StoreSession], world: World, in_both: Any
) -> None:
    """The issue's case: 'Acme Analytics' and its Switch ran together at 390 px."""
    with transaction(sessions) as session:
        acme = identity.create_workspace(session=session, slug="acme", name="Acme Analytics").id
    add_to(sessions, acme, in_both.email)
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, in_both, "acme")
    expect(page.locator(".sidebar .workspace-name")).to_have_text("Acme Analytics")
    check_workspace_block(page)
    shot(page, "switch-390")
    page.locator(".workspace-switch button", has_text="BETA").click()
    page.wait_for_url(HOME)
    expect(page.locator(".sidebar .workspace-name")).to_have_text("BETA")
    check_workspace_block(page)


def test_someone_in_one_workspace_has_no_switch(page: Any, world: World) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, world.a.viewer, "alpha")
    expect(page.locator(".sidebar .workspace-name")).to_have_text("ALPHA")
    expect(page.locator(".sidebar .workspace-switch")).to_have_count(0)
