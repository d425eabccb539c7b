"""Browser sessions: a signed, HttpOnly, SameSite=Lax cookie holding an API token and a CSRF token.

The token is the one `identity.service.login` mints, so a page request is authenticated exactly like
an API call; logging out revokes it. Every unsafe request must send the session's CSRF token back,
in the form (`csrf_token`) or, for htmx and fetch, in the `X-CSRF-Token` header.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.responses import Response

from datadesk.access.caller import Caller
from datadesk.access.policy import Action, can
from datadesk.deps import SessionDep
from datadesk.errors import Forbidden, Unauthorized
from datadesk.identity import service as identity
from datadesk.identity import switching

COOKIE = "datadesk_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
MAX_AGE_SECONDS = 14 * 24 * 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ADMIN_ACTIONS = (
    Action.manage_members,
    Action.manage_teams,
    Action.manage_integrations,
    Action.manage_settings,
    Action.read_audit,
)


class LoginRequired(Unauthorized):
    code = "login_required"


class CsrfRefused(Forbidden):
    code = "csrf_failed"


@dataclass
class WebSession:
    csrf: str
    token: str = ""
    email: str = ""
    workspace_slug: str = ""
    workspace_name: str = ""
    new: bool = False

    def save_if_new(self, request: Request, response: Response) -> None:
        if self.new:
            save(request, response, self)
            self.new = False


@dataclass(frozen=True)
class Viewer:
    """The signed-in person as the pages show them; what they may do is decided by access.policy."""

    email: str
    role: str
    workspace_slug: str
    workspace_name: str
    can_edit: bool
    admin: frozenset[str]  # the admin areas they may open, by Action name
    workspaces: tuple[switching.OwnWorkspace, ...] = ()  # every one they are in, this one included

    @property
    def is_admin(self) -> bool:
        return bool(self.admin)

    @property
    def other_workspaces(self) -> list[switching.OwnWorkspace]:
        """Where the sidebar offers to switch to: empty for someone in one workspace."""
        return [w for w in self.workspaces if not w.current]


def _serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(request.app.state.settings.secret_key, salt="datadesk.web.session")


def read(request: Request) -> WebSession | None:
    """The session in the request's cookie, if it is ours, unaltered and not expired."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        data: Any = _serializer(request).loads(raw, max_age=MAX_AGE_SECONDS)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("c"), str) or not data["c"]:
        return None
    return WebSession(
        csrf=data["c"],
        token=str(data.get("t") or ""),
        email=str(data.get("e") or ""),
        workspace_slug=str(data.get("w") or ""),
        workspace_name=str(data.get("n") or ""),
    )


def web_session_of(request: Request) -> WebSession:
    """This request's session; an anonymous one (with a fresh CSRF token) when there is none."""
    cached: WebSession | None = getattr(request.state, "web_session", None)
    if cached is None:
        cached = read(request) or WebSession(csrf=secrets.token_urlsafe(32), new=True)
        request.state.web_session = cached
    return cached


def save(request: Request, response: Response, web_session: WebSession) -> None:
    value = _serializer(request).dumps(
        {
            "c": web_session.csrf,
            "t": web_session.token,
            "e": web_session.email,
            "w": web_session.workspace_slug,
            "n": web_session.workspace_name,
        }
    )
    response.set_cookie(
        COOKIE,
        value,
        max_age=MAX_AGE_SECONDS,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def start(request: Request, response: Response, *, token: str, email: str, slug: str, name: str) -> None:
    """Begin a signed-in session (with a new CSRF token) on the response."""
    web_session = WebSession(
        csrf=secrets.token_urlsafe(32), token=token, email=email, workspace_slug=slug, workspace_name=name
    )
    save(request, response, web_session)
    request.state.web_session = web_session


def clear(request: Request, response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=request.url.scheme == "https")


async def verify_csrf(request: Request) -> None:
    """Refuse an unsafe request that does not carry this session's CSRF token."""
    if request.method in SAFE_METHODS:
        return
    expected = read(request)
    sent: Any = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        sent = (await request.form()).get(CSRF_FIELD)
    if expected is None or not isinstance(sent, str) or not hmac.compare_digest(sent, expected.csrf):
        raise CsrfRefused("This form is out of date or did not come from datadesk; reload the page and try again.")


def page_caller(request: Request, session: SessionDep) -> Caller:
    """The signed-in person, with the request's store session sealed to their workspace; else to /login."""
    web_session = web_session_of(request)
    if not web_session.token:
        raise LoginRequired("Log in to continue.")
    try:
        caller = identity.authenticate(session=session, token=web_session.token)
    except Unauthorized as exc:
        raise LoginRequired("Your session has ended; log in again.") from exc
    # Read before the seal: the sidebar lists the workspaces this login opened (and nothing else of them).
    try:
        workspaces = tuple(switching.list_own_workspaces(session=session, caller=caller))
    except Forbidden:  # a session whose token predates logins naming the workspaces they opened
        workspaces = ()
    session.seal(caller.workspace_id)
    request.state.viewer = Viewer(
        email=caller.email,
        role=caller.role,
        workspace_slug=web_session.workspace_slug,
        workspace_name=web_session.workspace_name or web_session.workspace_slug,
        can_edit=can(caller, Action.edit_catalog),
        admin=frozenset(a.value for a in ADMIN_ACTIONS if can(caller, a)),
        workspaces=workspaces,
    )
    return caller


def viewer_of(request: Request) -> Viewer | None:
    return getattr(request.state, "viewer", None)


PageCaller = Annotated[Caller, Depends(page_caller)]
