"""Admin pages for members and their roles; /admin itself leads here."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from datadesk.access.caller import Caller
from datadesk.access.policy import Action, require
from datadesk.db import StoreSession
from datadesk.deps import SessionDep
from datadesk.errors import Invalid
from datadesk.identity import service as identity
from datadesk.identity.models import Role
from datadesk.web.admin.forms import ROLES, MembersAdmin, attempt
from datadesk.web.render import render, see_other
from datadesk.web.session import PageCaller

router = APIRouter()


@router.get("")
def admin_home(request: Request, caller: PageCaller) -> Response:
    require(caller, Action.manage_members)
    return see_other(request, "/admin/members")


def _members_page(
    request: Request, session: StoreSession, caller: Caller, error: str = "", form: dict[str, str] | None = None
) -> Response:
    members = identity.list_members(session=session, caller=caller)
    teams = {t.id: t.name for t, _ in identity.list_teams(session=session, caller=caller)}
    context = {"members": members, "team_names": teams, "roles": ROLES, "error": error, "form": form or {}}
    return render(request, "admin/members.html", context, status=400 if error else 200)


@router.get("/members")
def members(request: Request, session: SessionDep, caller: MembersAdmin) -> Response:
    return _members_page(request, session, caller)


@router.post("/members")
def add_member(
    request: Request,
    session: SessionDep,
    caller: MembersAdmin,
    email: Annotated[str, Form(max_length=320)],
    role: Annotated[str, Form(max_length=16)] = "viewer",
    password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    def change() -> None:
        if role not in ROLES:
            raise Invalid("Pick a role: admin, editor or viewer.")
        identity.add_member(session=session, caller=caller, email=email, role=Role(role), password=password or None)

    error = attempt(session, change)
    if error:
        return _members_page(request, session, caller, error, {"email": email, "role": role})
    return see_other(request, "/admin/members")


@router.post("/members/{user_id}/role")
def set_role(
    request: Request,
    user_id: str,
    session: SessionDep,
    caller: MembersAdmin,
    role: Annotated[str, Form(max_length=16)],
) -> Response:
    error = attempt(
        session,
        lambda: identity.set_role(
            session=session, caller=caller, user_id=user_id, role=Role(role) if role in ROLES else Role.viewer
        ),
    )
    return _members_page(request, session, caller, error) if error else see_other(request, "/admin/members")


@router.post("/members/{user_id}/remove")
def remove_member(request: Request, user_id: str, session: SessionDep, caller: MembersAdmin) -> Response:
    error = attempt(session, lambda: identity.remove_member(session=session, caller=caller, user_id=user_id))
    return _members_page(request, session, caller, error) if error else see_other(request, "/admin/members")
