"""The Teams page for every member: the Teams they may see, joining and leaving public ones."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from datadesk.deps import SessionDep
from datadesk.identity import joining
from datadesk.web.render import render, see_other
from datadesk.web.session import PageCaller

router = APIRouter()


@router.get("/teams")
def teams(request: Request, session: SessionDep, caller: PageCaller) -> Response:
    choices = joining.team_choices(session=session, caller=caller)
    return render(request, "teams/page.html", {"choices": choices, "section": "teams"})


@router.post("/teams/{team_id}/join")
def join(request: Request, team_id: str, session: SessionDep, caller: PageCaller) -> Response:
    joining.join_team(session=session, caller=caller, team_id=team_id)
    return see_other(request, f"/teams#t-{team_id}")


@router.post("/teams/{team_id}/leave")
def leave(request: Request, team_id: str, session: SessionDep, caller: PageCaller) -> Response:
    joining.leave_team(session=session, caller=caller, team_id=team_id)
    return see_other(request, "/teams")
