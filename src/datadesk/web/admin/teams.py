"""Admin pages for Teams: create, delete, visibility and who is in each."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from datadesk.access.caller import Caller
from datadesk.db import StoreSession
from datadesk.deps import SessionDep
from datadesk.errors import Invalid
from datadesk.identity import service as identity
from datadesk.identity.models import TeamVisibility
from datadesk.web.admin.forms import Id, TeamsAdmin, attempt
from datadesk.web.render import render, see_other

router = APIRouter()


def _teams_page(request: Request, session: StoreSession, caller: Caller, error: str = "") -> Response:
    teams = identity.list_teams(session=session, caller=caller)
    emails = {u.id: u.email for _, u, _ in identity.list_members(session=session, caller=caller)}
    context = {"teams": teams, "emails": emails, "error": error}
    return render(request, "admin/teams.html", context, status=400 if error else 200)


@router.get("/teams")
def teams(request: Request, session: SessionDep, caller: TeamsAdmin) -> Response:
    return _teams_page(request, session, caller)


Visibility = Annotated[str, Form(max_length=16)]


def _visibility(value: str) -> TeamVisibility:
    if value not in {v.value for v in TeamVisibility}:
        raise Invalid("Pick public or private.")
    return TeamVisibility(value)


@router.post("/teams")
def create_team(
    request: Request,
    session: SessionDep,
    caller: TeamsAdmin,
    name: Annotated[str, Form(max_length=200)],
    visibility: Visibility = TeamVisibility.public.value,
) -> Response:
    def change() -> None:
        if not name.strip():
            raise Invalid("Give the Team a name.")
        identity.create_team(session=session, caller=caller, name=name, visibility=_visibility(visibility))

    error = attempt(session, change)
    return _teams_page(request, session, caller, error) if error else see_other(request, "/admin/teams")


@router.post("/teams/{team_id}/visibility")
def set_team_visibility(
    request: Request, team_id: str, session: SessionDep, caller: TeamsAdmin, visibility: Visibility
) -> Response:
    error = attempt(
        session,
        lambda: identity.update_team(
            session=session, caller=caller, team_id=team_id, visibility=_visibility(visibility)
        ),
    )
    return _teams_page(request, session, caller, error) if error else see_other(request, f"/admin/teams#t-{team_id}")


@router.post("/teams/{team_id}/delete")
def delete_team(request: Request, team_id: str, session: SessionDep, caller: TeamsAdmin) -> Response:
    error = attempt(session, lambda: identity.delete_team(session=session, caller=caller, team_id=team_id))
    return _teams_page(request, session, caller, error) if error else see_other(request, "/admin/teams")


@router.post("/teams/{team_id}/members")
def add_team_member(request: Request, team_id: str, session: SessionDep, caller: TeamsAdmin, user_id: Id) -> Response:
    error = attempt(
        session, lambda: identity.add_team_member(session=session, caller=caller, team_id=team_id, user_id=user_id)
    )
    return _teams_page(request, session, caller, error) if error else see_other(request, f"/admin/teams#t-{team_id}")


@router.post("/teams/{team_id}/members/{user_id}/remove")
def remove_team_member(
    request: Request, team_id: str, user_id: str, session: SessionDep, caller: TeamsAdmin
) -> Response:
    identity.remove_team_member(session=session, caller=caller, team_id=team_id, user_id=user_id)
    return see_other(request, f"/admin/teams#t-{team_id}")
