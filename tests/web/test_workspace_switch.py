"""The sidebar's workspace switch: one click, no password, the old session ended; nothing for anyone else."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import sessionmaker

from datadesk.db import StoreSession, transaction
from datadesk.identity import service as identity
from datadesk.identity.models import ApiToken, Role
from datadesk.web.session import COOKIE
from tests.web.conftest import csrf_of, sign_in
from tests.world import Person, World, add_to

SWITCH_FORM = re.compile(r'<form method="post" action="/switch".*?</form>', re.S)


@pytest.fixture
def in_both(sessions: sessionmaker[StoreSession], world: World) -> Person:
    """A's editor, also a viewer in B, with the same password in both."""
    add_to(sessions, world.b.id, world.a.editor.email, Role.viewer)
    return world.a.editor


def switch_form(page: str) -> str:
    found = SWITCH_FORM.findall(page)
    assert len(found) == 1, "no switch form in the sidebar"
    return str(found[0])


def switch(client: TestClient, csrf: str, workspace: str):  # type: ignore[no-untyped-def]
    return client.post("/switch", data={"workspace": workspace, "csrf_token": csrf}, follow_redirects=False)


def test_the_sidebar_lists_the_other_workspaces_and_one_click_switches(
    client: TestClient, world: World, in_both: Person
) -> None:
    csrf = sign_in(client, in_both)
    before = client.cookies.get(COOKIE)
    form = switch_form(client.get("/").text)
    assert f'name="csrf_token" value="{csrf}"' in form
    assert 'name="workspace" value="beta"' in form and ">BETA</button>" in form
    assert 'value="alpha"' not in form  # not the one they are in
    moved = switch(client, csrf, "beta")
    assert moved.status_code == 303 and moved.headers["location"] == "/"
    page = client.get("/").text
    assert '<span class="workspace-name">BETA</span>' in page and "viewer" in page
    assert 'name="workspace" value="alpha"' in switch_form(page)
    new_csrf = csrf_of(page)
    assert new_csrf != csrf  # a new session, with its own CSRF token
    # The alpha session is over: its cookie, replayed, leads to the login page.
    after = client.cookies.get(COOKIE)
    client.cookies.clear()
    client.cookies.set(COOKIE, before or "")
    assert client.get("/", follow_redirects=False).status_code == 303
    assert switch(client, csrf, "beta").headers["location"] == "/login"
    # And back again, from the beta session.
    client.cookies.clear()
    client.cookies.set(COOKIE, after or "")
    assert switch(client, new_csrf, "alpha").status_code == 303
    assert '<span class="workspace-name">ALPHA</span>' in client.get("/").text


def test_someone_in_one_workspace_sees_no_switch(client: TestClient, world: World, in_both: Person) -> None:
    for person, slug in ((world.a.viewer, "alpha"), (world.b.admin, "beta")):
        sign_in(client, person, slug)
        page = client.get("/").text
        assert 'action="/switch"' not in page and "Switch to" not in page


def test_a_session_from_before_logins_named_their_workspaces_still_opens_pages(
    client: TestClient, sessions: sessionmaker[StoreSession], world: World, in_both: Person
) -> None:
    sign_in(client, in_both)
    with sessions.begin() as session:  # as the migration leaves the tokens of sessions open at upgrade
        session.execute(update(ApiToken).values(login_memberships=None).execution_options(all_workspaces=True))
    page = client.get("/")
    assert page.status_code == 200 and "ALPHA" in page.text
    assert not SWITCH_FORM.findall(page.text)


def test_switching_into_a_workspace_you_are_not_in_is_a_404_like_none(client: TestClient, world: World) -> None:
    csrf = sign_in(client, world.a.admin)
    answers = [switch(client, csrf, slug) for slug in ("beta", "nowhere")]
    assert [a.status_code for a in answers] == [404, 404]
    assert answers[0].text == answers[1].text
    assert "BETA" not in answers[0].text
    assert '<span class="workspace-name">ALPHA</span>' in client.get("/").text  # still signed in to alpha


def test_switching_needs_the_csrf_token_and_a_session(client: TestClient, world: World, in_both: Person) -> None:
    sign_in(client, in_both)
    refused = client.post("/switch", data={"workspace": "beta"}, follow_redirects=False)
    assert refused.status_code == 403
    assert switch(client, "forged", "beta").status_code == 403
    assert '<span class="workspace-name">ALPHA</span>' in client.get("/").text
    client.cookies.clear()
    anonymous = csrf_of(client.get("/login").text)
    assert switch(client, anonymous, "beta").headers["location"] == "/login"


def test_the_password_page_is_gone(client: TestClient, world: World, in_both: Person) -> None:
    sign_in(client, in_both)
    response = client.get("/switch")
    assert response.status_code == 405
    assert 'type="password"' not in response.text


def test_workspace_names_in_the_switch_are_escaped(
    client: TestClient, sessions: sessionmaker[StoreSession], world: World
) -> None:
    with transaction(sessions) as session:
        hostile = identity.create_workspace(session=session, slug="evil", name='<img src=x onerror="alert(1)">').id
    add_to(sessions, hostile, world.a.viewer.email, Role.viewer)
    sign_in(client, world.a.viewer)
    form = switch_form(client.get("/").text)
    assert "<img" not in form and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in form
