"""Attacks on per-membership passwords, GET /auth/workspaces and POST /auth/switch (review of 9709ae9).

Each test passes when the system is safe. Those saying "was a hole" failed on 9709ae9, before the fixes
that followed it.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import sessionmaker

from datadesk import store
from datadesk.db import StoreSession, transaction
from datadesk.identity import security, switching
from datadesk.identity import service as identity
from datadesk.identity.models import ApiToken, Role
from datadesk.identity.security import hash_password
from tests.world import PASSWORD, Person, World, add_to

Sessions = sessionmaker[StoreSession]
NOT_FOUND = {"error": {"code": "not_found", "message": "No such workspace."}}
PLANTED = "planted-by-alpha-admin"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def log_in(client: TestClient, email: str, workspace: str, password: str = PASSWORD) -> str:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": password, "workspace": workspace})
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def switch(client: TestClient, token: str, workspace: str) -> Any:
    return client.post("/api/v1/auth/switch", json={"workspace": workspace}, headers=bearer(token))


def slugs(client: TestClient, token: str) -> list[str]:
    response = client.get("/api/v1/auth/workspaces", headers=bearer(token))
    assert response.status_code == 200, response.text
    return [w["slug"] for w in response.json()["workspaces"]]


def plant(client: TestClient, world: World, email: str) -> None:
    """A's admin adds `email` to A with a password of their choosing."""
    added = client.post(
        "/api/v1/members", json={"email": email, "role": "viewer", "password": PLANTED}, headers=world.a.admin.headers
    )
    assert added.status_code == 201, added.text


@pytest.fixture
def in_both(sessions: Sessions, world: World) -> Person:
    add_to(sessions, world.b.id, world.a.editor.email, Role.viewer)
    return world.a.editor


# --- an admin of A posing as a member of B ----------------------------------------------------


@pytest.mark.parametrize(
    "slug", ["beta", "BETA", " beta ", "beta\t", "\uff42\uff45\uff54\uff41", "beta\u200b", "be%74a", "beta;", "b*"]
)
def test_a_planted_login_cannot_list_or_switch_to_the_persons_other_workspace(
    client: TestClient, world: World, slug: str
) -> None:
    plant(client, world, world.b.admin.email)
    token = log_in(client, world.b.admin.email, "alpha", PLANTED)
    assert slugs(client, token) == ["alpha"]
    answer = switch(client, token, slug)
    assert answer.status_code in (404, 422) and "BETA" not in answer.text and world.b.id not in answer.text
    if answer.status_code == 404:
        assert answer.json() == NOT_FOUND == switch(client, token, "no-such-workspace").json()
    # nothing was revoked by the refused switch, and the token still sits in A only
    me = client.get("/api/v1/members", headers=bearer(token))
    assert me.status_code == 200 and world.b.viewer.email not in me.text


def test_login_errors_for_b_do_not_depend_on_b_existing(client: TestClient, world: World) -> None:
    plant(client, world, world.b.viewer.email)
    answers = [
        client.post("/api/v1/auth/login", json={"email": world.b.viewer.email, "password": PLANTED, "workspace": w})
        for w in ("beta", "no-such-workspace", "BETA")
    ]
    assert [a.status_code for a in answers] == [401, 401, 401]
    assert answers[0].json() == answers[1].json() == answers[2].json()


def test_a_planted_login_does_the_same_password_work_whether_or_not_the_person_is_elsewhere(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Was a hole (timing side channel, measured here by counting Argon2 checks instead of by the clock).

    A's admin adds any email with a password they choose and logs in as it: a successful login then runs one
    Argon2 verification per other membership with a password (service.login, `others`). Login time therefore
    tells A's admin how many other workspaces that email belongs to (B's membership is revealed), although
    the response and GET /auth/workspaces say nothing.
    """
    calls: list[int] = []
    real = security.verify_password

    def counting(password_hash: str | None, password: str) -> bool:
        calls.append(1)
        return real(password_hash, password)

    monkeypatch.setattr(identity, "verify_password", counting)
    plant(client, world, "nobody-else@example.com")  # an account in A only
    plant(client, world, world.b.viewer.email)  # an account also in B
    work = {}
    for email in ("nobody-else@example.com", world.b.viewer.email):
        calls.clear()
        log_in(client, email, "alpha", PLANTED)
        work[email] = len(calls)
    assert work["nobody-else@example.com"] == work[world.b.viewer.email], work


# --- stale, revoked and removed tokens ----------------------------------------------------------


def test_the_token_traded_in_is_dead_for_listing_switching_and_the_api(
    client: TestClient, world: World, in_both: Person
) -> None:
    alpha = log_in(client, in_both.email, "alpha")
    assert switch(client, alpha, "beta").status_code == 200
    assert client.get("/api/v1/auth/workspaces", headers=bearer(alpha)).status_code == 401
    for slug in ("alpha", "beta"):
        again = switch(client, alpha, slug)
        assert again.status_code == 401 and again.json()["error"]["code"] == "invalid_token"


def test_a_member_removed_from_the_tokens_workspace_cannot_switch_out_of_it(
    client: TestClient, world: World, in_both: Person
) -> None:
    alpha = log_in(client, in_both.email, "alpha")
    assert slugs(client, alpha) == ["alpha", "beta"]
    assert client.delete(f"/api/v1/members/{in_both.id}", headers=world.a.admin.headers).status_code == 204
    refused = switch(client, alpha, "beta")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_token"
    assert client.get("/api/v1/auth/workspaces", headers=bearer(alpha)).status_code == 401


def test_a_membership_removed_after_login_is_gone_from_the_list_and_the_switch(
    client: TestClient, world: World, in_both: Person
) -> None:
    alpha = log_in(client, in_both.email, "alpha")
    assert client.delete(f"/api/v1/members/{in_both.id}", headers=world.b.admin.headers).status_code == 204
    assert slugs(client, alpha) == ["alpha"]
    assert switch(client, alpha, "beta").json() == NOT_FOUND
    assert client.get("/api/v1/members", headers=bearer(alpha)).status_code == 200  # not revoked by the 404


def test_two_switches_racing_on_one_token_leave_one_live_login(
    sessions: Sessions, world: World, in_both: Person
) -> None:
    with transaction(sessions) as session:
        token, _ = identity.login(session=session, email=in_both.email, password=PASSWORD, workspace_slug="alpha")
    start = threading.Barrier(2)
    won: list[str] = []
    lost: list[BaseException] = []

    def attempt(slug: str) -> None:
        start.wait()
        try:
            with transaction(sessions) as session:
                won.append(switching.switch_workspace(session=session, token=token, workspace_slug=slug)[0])
        except Exception as exc:  # the loser: 401, or a busy SQLite store
            lost.append(exc)

    threads = [threading.Thread(target=attempt, args=(s,)) for s in ("beta", "alpha")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(won) == 1 and len(lost) == 1, (won, lost)
    with transaction(sessions) as session:
        live = session.scalars(
            select(ApiToken.id)
            .where(ApiToken.user_id == in_both.id, ApiToken.name == "login", ApiToken.revoked_at.is_(None))
            .execution_options(all_workspaces=True)
        ).all()
    assert len(live) == 1


def test_switching_back_and_forth_keeps_the_tokens_workspace_list_bounded(
    client: TestClient, sessions: Sessions, world: World, in_both: Person
) -> None:
    """Was a hole (resource exhaustion): each switch stores [current, *old list], so the list grows by one per switch.

    The old tokens are revoked but kept, so n switches write O(n^2) bytes to api_token, and every page load
    (session.page_caller -> list_own_workspaces) sends the whole list as IN (...) bind parameters: after some
    ten thousand cheap switches (no Argon2) the person's own pages fail and the store has grown by gigabytes.
    """
    token = log_in(client, in_both.email, "alpha")
    for slug in ("beta", "alpha") * 5:
        moved = switch(client, token, slug)
        assert moved.status_code == 200, moved.text
        token = moved.json()["token"]
    with transaction(sessions) as session:
        lists = session.scalars(
            select(ApiToken.login_memberships)
            .where(ApiToken.user_id == in_both.id, ApiToken.name == "login")
            .execution_options(all_workspaces=True)
        ).all()
    assert max(len(x or []) for x in lists) <= 2, sorted(len(x or []) for x in lists)


# --- personal tokens and what the client controls ----------------------------------------------


def test_a_personal_token_never_becomes_a_login_token(client: TestClient, world: World, in_both: Person) -> None:
    # minted from a login token, a personal token is still personal
    alpha = log_in(client, in_both.email, "alpha")
    made = client.post("/api/v1/auth/tokens", json={"name": "login"}, headers=bearer(alpha))
    assert made.status_code == 201
    personal = made.json()["token"]
    for answer in (
        switch(client, personal, "beta"),
        switch(client, personal, "alpha"),
        client.get("/api/v1/auth/workspaces", headers=bearer(personal)),
    ):
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "login_token_required"
    # the client cannot name the workspaces itself
    for path, body in (
        ("/api/v1/auth/tokens", {"name": "x", "login_memberships": [world.b.id]}),
        ("/api/v1/auth/switch", {"workspace": "beta", "login_memberships": [world.b.id]}),
        ("/api/v1/auth/switch", {"workspace": "beta", "workspace_id": world.b.id}),
    ):
        assert client.post(path, json=body, headers=bearer(alpha)).status_code == 422
    smuggled = client.post(
        "/api/v1/auth/login",
        json={
            "email": world.a.viewer.email,
            "password": PASSWORD,
            "workspace": "alpha",
            "login_memberships": [world.b.id],
        },
    )
    assert smuggled.status_code == 422
    # and a token listing shows nothing of the other workspaces
    listed = client.get("/api/v1/auth/tokens", headers=bearer(alpha))
    assert listed.status_code == 200 and world.b.id not in listed.text and "login_memberships" not in listed.text


def test_a_switch_keeps_to_the_persons_memberships_not_the_tokens_list_alone(
    client: TestClient, sessions: Sessions, world: World
) -> None:
    """Even a token row naming B (as if tampered) only reaches B where the person is a member."""
    token = log_in(client, world.a.viewer.email, "alpha")
    with transaction(sessions) as session:
        session.execute(
            ApiToken.__table__.update()
            .where(ApiToken.token_hash == security.hash_token(token))
            .values(login_memberships=[world.a.id, world.b.id])
            .execution_options(all_workspaces=True)
        )
    assert slugs(client, token) == ["alpha"]
    assert switch(client, token, "beta").json() == NOT_FOUND


# --- sealing: nothing of B through A's member endpoints -----------------------------------------


def test_a_admin_reads_no_hash_and_nothing_of_b_about_a_shared_member(
    client: TestClient, world: World, in_both: Person
) -> None:
    beta = switch(client, log_in(client, in_both.email, "alpha"), "beta").json()["token"]
    assert client.get("/api/v1/members", headers=bearer(beta)).status_code == 200  # something happened in B
    headers = world.a.admin.headers
    for path in ("/api/v1/members", f"/api/v1/members/{in_both.id}", "/api/v1/teams", "/api/v1/auth/tokens"):
        answer = client.get(path, headers=headers)
        assert answer.status_code == 200, path
        for secret in ("$argon2", "password", world.b.id, "beta", "BETA"):
            assert secret not in answer.text, (path, secret)


# --- the migration -----------------------------------------------------------------------------


def test_an_account_in_two_workspaces_before_the_migration_logs_into_both_after_it(
    app: Any, client: TestClient, sessions: Sessions, world: World, in_both: Person
) -> None:
    config = store.alembic_config()
    try:
        with app.state.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "20261208_0017")
            connection.execute(
                text("UPDATE user_account SET password_hash = :h WHERE id = :id"),
                {"h": hash_password("old-global-password"), "id": in_both.id},
            )
    finally:
        store.upgrade(app.state.engine)
    token = log_in(client, in_both.email, "beta", "old-global-password")
    assert slugs(client, token) == ["alpha", "beta"]
    assert switch(client, token, "alpha").status_code == 200
    assert (
        client.post(
            "/api/v1/auth/login", json={"email": in_both.email, "password": PASSWORD, "workspace": "alpha"}
        ).status_code
        == 401
    )
    assert log_in(client, world.b.viewer.email, "beta")  # untouched accounts too (their downgrade copy)
