"""The route x role matrix, cross-workspace isolation, and the contract's error JSON."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from datadesk.identity.models import ApiToken, AuditEvent, Membership, Team, TeamMember, User
from tests.world import Space, World


@dataclass(frozen=True)
class Route:
    method: str
    path: Callable[[Space], str]
    body: dict[str, Any] | None
    admin_only: bool
    ok: int


ROUTES = {
    "list members": Route("GET", lambda s: "/api/v1/members", None, False, 200),
    "get member": Route("GET", lambda s: f"/api/v1/members/{s.viewer.id}", None, False, 200),
    "add member": Route("POST", lambda s: "/api/v1/members", {"email": "x@example.com", "role": "viewer"}, True, 201),
    "change role": Route("PATCH", lambda s: f"/api/v1/members/{s.viewer.id}", {"role": "editor"}, True, 200),
    "remove member": Route("DELETE", lambda s: f"/api/v1/members/{s.viewer.id}", None, True, 204),
    "list teams": Route("GET", lambda s: "/api/v1/teams", None, False, 200),
    "create team": Route("POST", lambda s: "/api/v1/teams", {"name": "Ops"}, True, 201),
    "delete team": Route("DELETE", lambda s: f"/api/v1/teams/{s.teams['Marketing']}", None, True, 204),
    "add to team": Route(
        "PUT", lambda s: f"/api/v1/teams/{s.teams['Marketing']}/members/{s.editor.id}", None, True, 204
    ),
    "remove from team": Route(
        "DELETE", lambda s: f"/api/v1/teams/{s.teams['Marketing']}/members/{s.viewer.id}", None, True, 204
    ),
    "create token": Route("POST", lambda s: "/api/v1/auth/tokens", {"name": "t"}, False, 201),
}

ROLES = ("admin", "editor", "viewer")


def call(client: TestClient, route: Route, space: Space, headers: dict[str, str]) -> Any:
    return client.request(route.method, route.path(space), json=route.body, headers=headers)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", list(ROUTES))
def test_route_role_matrix(client: TestClient, world: World, name: str, role: str) -> None:
    route = ROUTES[name]
    person = world.a.people[role]
    response = call(client, route, world.a, person.headers)
    expected = route.ok if (not route.admin_only or role == "admin") else 403
    assert response.status_code == expected, response.text
    if expected == 403:
        assert response.json()["error"]["code"] == "forbidden"


def _snapshot(db) -> tuple[int, ...]:  # type: ignore[no-untyped-def]
    counts = []
    for model in (Membership, Team, TeamMember, ApiToken, AuditEvent):
        counts.append(db.scalar(select(func.count()).select_from(model).execution_options(all_workspaces=True)))
    counts.append(db.scalar(select(func.count()).select_from(User)))
    roles = db.scalars(select(Membership.role).order_by(Membership.id).execution_options(all_workspaces=True))
    return (*counts, hash(tuple(roles)))


ROUTES_WITH_IDS = ["get member", "change role", "remove member", "delete team", "add to team", "remove from team"]


@pytest.mark.parametrize("name", ROUTES_WITH_IDS)
def test_ids_of_another_workspace_answer_404_and_change_nothing(
    client: TestClient,
    world: World,
    db,
    name: str,  # type: ignore[no-untyped-def]
) -> None:
    route = ROUTES[name]
    before = _snapshot(db)
    response = call(client, route, world.b, world.a.admin.headers)  # A's admin, B's ids
    assert response.status_code == 404, response.text
    assert response.json() == {"error": {"code": "not_found", "message": response.json()["error"]["message"]}}
    db.expire_all()
    assert _snapshot(db) == before


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/api/v1/members/nope"),
        ("PATCH", "/api/v1/members/nope"),
        ("DELETE", "/api/v1/members/nope"),
        ("DELETE", "/api/v1/teams/nope"),
        ("PUT", "/api/v1/teams/nope/members/nope"),
        ("DELETE", "/api/v1/auth/tokens/nope"),
        ("GET", "/api/v1/no-such-route"),
    ],
)
def test_unknown_ids_are_404_json(client: TestClient, world: World, method: str, path: str) -> None:
    body = {"role": "viewer"} if method == "PATCH" else None
    response = client.request(method, path, json=body, headers=world.a.admin.headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "path,content,status,code",
    [
        ("/api/v1/teams", b"{not json", 400, "invalid_json"),
        ("/api/v1/teams", b"", 422, "validation_error"),
        ("/api/v1/teams", b"[]", 422, "validation_error"),
        ("/api/v1/teams", b'{"name": 5}', 422, "validation_error"),
        ("/api/v1/teams", b'{"name": ""}', 422, "validation_error"),
        ("/api/v1/teams", b'{"nom": "x"}', 422, "validation_error"),
        ("/api/v1/members", b'{"email": "x@example.com", "role": "owner"}', 422, "validation_error"),
        ("/api/v1/members", b'{"email": "not-an-email", "role": "viewer"}', 422, "validation_error"),
        (
            "/api/v1/members",
            b'{"email": "x@example.com", "role": "viewer", "password": "short"}',
            422,
            "validation_error",
        ),
        ("/api/v1/auth/login", b'{"email": "a@b.co"}', 422, "validation_error"),
    ],
)
def test_bad_bodies_get_the_contract_error(
    client: TestClient, world: World, path: str, content: bytes, status: int, code: str
) -> None:
    headers = {**world.a.admin.headers, "Content-Type": "application/json"}
    response = client.post(path, content=content, headers=headers)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]


def test_oversized_body_is_refused_before_parsing(client: TestClient, world: World) -> None:
    big = b'{"name": "' + b"x" * (1024 * 1024) + b'"}'
    response = client.post(
        "/api/v1/teams", content=big, headers={**world.a.admin.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"


def test_oversized_chunked_body_is_refused(client: TestClient, world: World) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"x" * 65536

    response = client.post(
        "/api/v1/teams", content=chunks(), headers={**world.a.admin.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 413


def test_wrong_method_is_405_json(client: TestClient, world: World) -> None:
    response = client.put("/api/v1/members", headers=world.a.admin.headers)
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
