"""A person's own workspaces, those their login's password opened, and switching between them without it.

Only a login token (POST /auth/login, the web session's) reaches beyond its workspace, and only to its own
person's memberships that the login's password opened: a personal API token stays bound to the one workspace
it was made in. Both functions read across workspaces, so they run on a session not yet sealed, like login.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select, update

from datadesk.access.caller import Caller
from datadesk.db import StoreSession, utcnow
from datadesk.errors import Forbidden, NotFound, Unauthorized
from datadesk.identity.models import ApiToken, Membership, User, Workspace
from datadesk.identity.service import BAD_TOKEN, authenticate, mint_login

NO_WORKSPACE = "No such workspace."


@dataclass(frozen=True)
class OwnWorkspace:
    """One workspace the caller's own account is a member of."""

    id: str
    slug: str
    name: str
    role: str
    current: bool


def _require_unsealed(session: StoreSession) -> None:
    if session.workspace_id is not None:  # a sealed session would see this workspace only, and say nothing
        raise RuntimeError("reading a person's workspaces needs a session not sealed to one of them")


def _opened_by_login(session: StoreSession, caller: Caller) -> list[str]:
    """The memberships the caller's login opened with its password: theirs to list and switch to.

    Memberships, not workspaces: someone removed from a workspace and added again is not let back in by it.
    """
    # authenticate() loaded the token in this session: get() reads it from there, without a query.
    token = None
    if caller.token_id is not None:
        token = session.get(ApiToken, caller.token_id, execution_options={"all_workspaces": True})
    opened = token.login_memberships if token is not None else None
    if opened is None or caller.user_id is None:
        raise Forbidden(
            "Only a login token reaches your other workspaces; an API token is bound to its own.",
            code="login_token_required",
        )
    return list(dict.fromkeys(opened))


def list_own_workspaces(*, session: StoreSession, caller: Caller) -> list[OwnWorkspace]:
    """The caller's workspaces that their login's password opened, by name (a login token only).

    Only those: a login with a password a workspace admin set must not learn where else the person is.
    """
    _require_unsealed(session)
    opened = _opened_by_login(session, caller)
    rows = session.execute(
        select(Workspace.id, Workspace.slug, Workspace.name, Membership.role)
        .join(Membership, Membership.workspace_id == Workspace.id)
        .where(
            Membership.user_id == caller.user_id,
            or_(Membership.workspace_id == caller.workspace_id, Membership.id.in_(opened)),
        )
        .execution_options(all_workspaces=True)
    )
    found = [OwnWorkspace(i, slug, name, role, i == caller.workspace_id) for i, slug, name, role in rows]
    return sorted(found, key=lambda w: (w.name.casefold(), w.slug))


def switch_workspace(*, session: StoreSession, token: str, workspace_slug: str) -> tuple[str, Caller, Workspace]:
    """Trade a login token for one in another workspace its login's password opened; the old token is revoked.

    A workspace the person is not in, or whose password differs, answers exactly like one that does not exist.
    """
    _require_unsealed(session)
    caller = authenticate(session=session, token=token)
    opened = _opened_by_login(session, caller)
    found = session.execute(
        select(Workspace, Membership.role)
        .join(Membership, Membership.workspace_id == Workspace.id)
        .where(
            Workspace.slug == workspace_slug.strip().lower(),
            Membership.user_id == caller.user_id,
            Membership.id.in_(opened),
        )
        .execution_options(all_workspaces=True)
    ).first()
    if found is None:
        raise NotFound(NO_WORKSPACE)
    workspace, role = found
    # Revoke first, and only if still live: of two switches racing on one token, one wins.
    revoked = session.execute(
        update(ApiToken)
        .where(ApiToken.id == caller.token_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(all_workspaces=True, synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if revoked != 1:
        raise Unauthorized(BAD_TOKEN, code="invalid_token")
    user = session.get(User, caller.user_id)
    assert user is not None  # authenticate found them
    new_token, new_caller = mint_login(session, workspace.id, user, role, opened)
    return new_token, new_caller, workspace
