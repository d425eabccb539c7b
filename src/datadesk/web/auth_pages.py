"""Logging in and out, and switching to another of one's workspaces without the password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from datadesk.db import transaction
from datadesk.deps import SessionDep
from datadesk.errors import Unauthorized
from datadesk.identity import service as identity
from datadesk.identity import switching
from datadesk.web import session as web
from datadesk.web.render import render, safe_next, see_other

router = APIRouter()


@router.get("/login")
def login_page(request: Request, next: str = "", workspace: str = "", email: str = "") -> Response:
    return render(request, "auth/login.html", {"next": safe_next(next), "workspace": workspace, "email": email})


@router.post("/login")
def login(
    request: Request,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    workspace: Annotated[str, Form(max_length=64)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    sessions = request.app.state.sessions
    try:
        # Its own transaction: the token must be committed before the old one is revoked in another.
        with transaction(sessions) as session:
            token, caller = identity.login(session=session, email=email, password=password, workspace_slug=workspace)
            found = identity.get_workspace_by_slug(session=session, slug=workspace.strip().lower())
            slug, name = found.slug, found.name
    except Unauthorized as exc:
        context = {"next": safe_next(next), "workspace": workspace, "email": email, "error": exc.message}
        return render(request, "auth/login.html", context, status=401)
    previous = web.read(request)
    if previous is not None and previous.token:
        _revoke(request, previous.token)
    response = see_other(request, safe_next(next))
    web.start(request, response, token=token, email=caller.email, slug=slug, name=name)
    return response


def _revoke(request: Request, token: str) -> None:
    """Revoke the token of the session being replaced (it may already be gone)."""
    try:
        with transaction(request.app.state.sessions) as session:
            caller = identity.authenticate(session=session, token=token)
            session.seal(caller.workspace_id)
            if caller.token_id:
                identity.revoke_token(session=session, caller=caller, token_id=caller.token_id)
    except Unauthorized:
        return


@router.post("/logout")
def logout(request: Request) -> Response:
    current = web.read(request)
    if current is not None and current.token:
        _revoke(request, current.token)
    response = see_other(request, "/login")
    web.clear(request, response)
    return response


@router.post("/switch")
def switch(request: Request, session: SessionDep, workspace: Annotated[str, Form(max_length=64)]) -> Response:
    """The sidebar's switch: the session's login token is traded for one in the chosen workspace."""
    current = web.read(request)
    if current is None or not current.token:
        raise web.LoginRequired("Log in to continue.")
    try:
        token, caller, found = switching.switch_workspace(
            session=session, token=current.token, workspace_slug=workspace
        )
    except Unauthorized as exc:
        raise web.LoginRequired("Your session has ended; log in again.") from exc
    response = see_other(request, "/")
    web.start(request, response, token=token, email=caller.email, slug=found.slug, name=found.name)
    return response
