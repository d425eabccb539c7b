"""HTTP routes for login, tokens, members and Teams."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from datadesk.access.caller import Caller
from datadesk.deps import CallerDep, SessionDep
from datadesk.errors import Unauthorized
from datadesk.identity import joining, schemas, switching
from datadesk.identity import service as identity
from datadesk.identity.models import Membership, Role, Team, TeamVisibility, User, Workspace

router = APIRouter()
# Listing and switching workspaces read the bearer token themselves: unlike CallerDep they leave the request's
# session unsealed, as they read (and the switch writes) beyond the token's own workspace.
_login_bearer = HTTPBearer(
    auto_error=False, scheme_name="LoginToken", description="A login token from POST /auth/login or /auth/switch."
)
LoginBearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_login_bearer)]


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Send Authorization: Bearer <token>.", code="missing_token")
    return credentials.credentials


def _unsealed_caller(session: SessionDep, credentials: LoginBearer) -> Caller:
    return identity.authenticate(session=session, token=_token(credentials))


UnsealedCallerDep = Annotated[Caller, Depends(_unsealed_caller)]


def _login_out(token: str, caller: Caller, workspace: Workspace) -> schemas.LoginOut:
    return schemas.LoginOut(
        token=token,
        user=schemas.UserOut(id=caller.user_id or "", email=caller.email),
        workspace=schemas.WorkspaceOut(id=workspace.id, slug=workspace.slug, name=workspace.name),
        role=Role(caller.role),
    )


@router.post("/auth/login", tags=["auth"])
def login(body: schemas.LoginIn, session: SessionDep) -> schemas.LoginOut:
    token, caller = identity.login(
        session=session, email=body.email, password=body.password, workspace_slug=body.workspace
    )
    workspace = identity.get_workspace_by_slug(session=session, slug=body.workspace)
    return _login_out(token, caller, workspace)


@router.get("/auth/workspaces", tags=["auth"])
def list_own_workspaces(session: SessionDep, caller: UnsealedCallerDep) -> schemas.OwnWorkspaceList:
    """The workspaces you are a member of (a login token only; an API token answers 403)."""
    rows = switching.list_own_workspaces(session=session, caller=caller)
    return schemas.OwnWorkspaceList(
        workspaces=[schemas.OwnWorkspaceOut.model_validate(w, from_attributes=True) for w in rows]
    )


@router.post("/auth/switch", tags=["auth"])
def switch_workspace(body: schemas.SwitchIn, session: SessionDep, credentials: LoginBearer) -> schemas.LoginOut:
    """Trade your login token for one in another workspace you are in (no password); the old one is revoked."""
    token, caller, workspace = switching.switch_workspace(
        session=session, token=_token(credentials), workspace_slug=body.workspace
    )
    return _login_out(token, caller, workspace)


@router.post("/auth/tokens", status_code=status.HTTP_201_CREATED, tags=["auth"])
def create_token(body: schemas.TokenIn, session: SessionDep, caller: CallerDep) -> schemas.TokenCreated:
    row, token = identity.create_token(session=session, caller=caller, name=body.name)
    return schemas.TokenCreated(id=row.id, token=token)


@router.get("/auth/tokens", tags=["auth"])
def list_tokens(session: SessionDep, caller: CallerDep) -> schemas.TokenList:
    rows = identity.list_tokens(session=session, caller=caller)
    return schemas.TokenList(tokens=[schemas.TokenOut.model_validate(r, from_attributes=True) for r in rows])


@router.delete("/auth/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["auth"])
def revoke_token(token_id: str, session: SessionDep, caller: CallerDep) -> Response:
    identity.revoke_token(session=session, caller=caller, token_id=token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _member_out(membership: Membership, user: User, team_ids: list[str] | None = None) -> schemas.MemberOut:
    return schemas.MemberOut(id=user.id, email=user.email, role=Role(membership.role), team_ids=team_ids or [])


@router.get("/members", tags=["members"])
def list_members(session: SessionDep, caller: CallerDep) -> schemas.MemberList:
    rows = identity.list_members(session=session, caller=caller)
    return schemas.MemberList(members=[_member_out(m, u, t) for m, u, t in rows])


@router.post("/members", status_code=status.HTTP_201_CREATED, tags=["members"])
def add_member(body: schemas.MemberIn, session: SessionDep, caller: CallerDep) -> schemas.MemberOut:
    membership, user = identity.add_member(
        session=session, caller=caller, email=body.email, role=body.role, password=body.password
    )
    everyone = identity.everyone_team(session, caller.workspace_id)
    return _member_out(membership, user, [everyone.id])


@router.get("/members/{user_id}", tags=["members"])
def get_member(user_id: str, session: SessionDep, caller: CallerDep) -> schemas.MemberOut:
    return _member_out(*identity.get_member(session=session, caller=caller, user_id=user_id))


@router.patch("/members/{user_id}", tags=["members"])
def set_role(user_id: str, body: schemas.MemberPatch, session: SessionDep, caller: CallerDep) -> schemas.MemberOut:
    identity.set_role(session=session, caller=caller, user_id=user_id, role=body.role)
    return _member_out(*identity.get_member(session=session, caller=caller, user_id=user_id))


@router.delete("/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["members"])
def remove_member(user_id: str, session: SessionDep, caller: CallerDep) -> Response:
    identity.remove_member(session=session, caller=caller, user_id=user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _team_out(team: Team, member_ids: list[str] | None = None) -> schemas.TeamOut:
    return schemas.TeamOut(
        id=team.id,
        name=team.name,
        visibility=TeamVisibility(team.visibility),
        is_everyone=team.is_everyone,
        member_ids=member_ids or [],
    )


@router.get("/teams", tags=["teams"])
def list_teams(session: SessionDep, caller: CallerDep) -> schemas.TeamList:
    """Every public Team, and the private Teams the caller is in (admins: all)."""
    rows = identity.list_teams(session=session, caller=caller)
    return schemas.TeamList(teams=[_team_out(t, m) for t, m in rows])


@router.post("/teams", status_code=status.HTTP_201_CREATED, tags=["teams"])
def create_team(body: schemas.TeamIn, session: SessionDep, caller: CallerDep) -> schemas.TeamOut:
    team = identity.create_team(session=session, caller=caller, name=body.name, visibility=body.visibility)
    return _team_out(team)


@router.patch("/teams/{team_id}", tags=["teams"])
def update_team(team_id: str, body: schemas.TeamPatch, session: SessionDep, caller: CallerDep) -> schemas.TeamOut:
    team = identity.update_team(
        session=session, caller=caller, team_id=team_id, name=body.name, visibility=body.visibility
    )
    return _team_out(team, identity.team_member_ids(session=session, caller=caller, team_id=team.id))


@router.delete("/teams/{team_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["teams"])
def delete_team(team_id: str, session: SessionDep, caller: CallerDep) -> Response:
    identity.delete_team(session=session, caller=caller, team_id=team_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# Declared before /members/{user_id}: "me" is the caller, never a user id.
@router.post("/teams/{team_id}/members/me", status_code=status.HTTP_204_NO_CONTENT, tags=["teams"])
def join_team(team_id: str, session: SessionDep, caller: CallerDep) -> Response:
    """Join a public Team (a private one only through an admin; one you may not see answers 404)."""
    joining.join_team(session=session, caller=caller, team_id=team_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/teams/{team_id}/members/me", status_code=status.HTTP_204_NO_CONTENT, tags=["teams"])
def leave_team(team_id: str, session: SessionDep, caller: CallerDep) -> Response:
    """Leave a Team you are in; the Everyone team only through an admin."""
    joining.leave_team(session=session, caller=caller, team_id=team_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/teams/{team_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["teams"])
def add_team_member(team_id: str, user_id: str, session: SessionDep, caller: CallerDep) -> Response:
    identity.add_team_member(session=session, caller=caller, team_id=team_id, user_id=user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/teams/{team_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["teams"])
def remove_team_member(team_id: str, user_id: str, session: SessionDep, caller: CallerDep) -> Response:
    identity.remove_team_member(session=session, caller=caller, team_id=team_id, user_id=user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
