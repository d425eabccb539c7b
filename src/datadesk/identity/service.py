"""Workspaces, login, tokens, members, and Teams as admins manage them (a person's own choices: joining.py)."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from datadesk.access.caller import Caller
from datadesk.access.policy import Action, may_revoke_token, may_see_team, owns, require
from datadesk.db import StoreSession, utcnow
from datadesk.errors import Conflict, Invalid, NotFound, Unauthorized
from datadesk.identity import audit
from datadesk.identity.models import (
    EVERYONE,
    ApiToken,
    Membership,
    Role,
    Team,
    TeamMember,
    TeamVisibility,
    User,
    Workspace,
)
from datadesk.identity.passwords import check_password
from datadesk.identity.security import hash_password, hash_token, mint_token, verify_password
from datadesk.identity.sessions import TOKEN_TOUCH_EVERY, caller_for, touch_token

BAD_LOGIN = "Wrong email, password or workspace."
BAD_TOKEN = "Missing, invalid or revoked token."
LOGIN_TOKEN = "login"  # the name of the tokens logging in mints
# A login also tries its password on the person's other memberships, at most this many, and always makes this
# many Argon2 checks (dummies for the missing): how long it takes must not say in how many workspaces one is.
OTHER_MEMBERSHIPS_TRIED = 4


# --- workspaces -------------------------------------------------------------------------------


def create_workspace(*, session: StoreSession, slug: str, name: str) -> Workspace:
    """A new workspace with its Everyone team; a taken slug is a Conflict."""
    if session.scalar(select(Workspace.id).where(Workspace.slug == slug)):
        raise Conflict(f"Workspace '{slug}' already exists.", code="workspace_exists")
    workspace = Workspace(slug=slug, name=name)
    session.add(workspace)
    session.flush()
    session.add(Team(workspace_id=workspace.id, name=EVERYONE, is_everyone=True))
    session.flush()
    return workspace


def get_workspace_by_slug(*, session: StoreSession, slug: str) -> Workspace:
    workspace = session.scalar(select(Workspace).where(Workspace.slug == slug))
    if workspace is None:
        raise NotFound(f"No workspace '{slug}'.", code="workspace_not_found")
    return workspace


def everyone_team(session: StoreSession, workspace_id: str) -> Team:
    team = session.scalar(
        select(Team)
        .where(Team.workspace_id == workspace_id, Team.is_everyone.is_(True))
        .execution_options(all_workspaces=True)
    )
    if team is None:  # pragma: no cover - created with the workspace
        raise RuntimeError("workspace has no Everyone team")
    return team


# --- login and tokens -------------------------------------------------------------------------


def login(*, session: StoreSession, email: str, password: str, workspace_slug: str) -> tuple[str, Caller]:
    """Check the three parts and mint a token; every wrong part gives the same Unauthorized."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    workspace = session.scalar(select(Workspace).where(Workspace.slug == workspace_slug.strip().lower()))
    memberships: list[Membership] = []
    if user is not None:
        memberships = list(
            session.scalars(
                select(Membership)
                .where(Membership.user_id == user.id)
                .order_by(Membership.created_at)
                .execution_options(all_workspaces=True)
            )
        )
    membership = next((m for m in memberships if workspace is not None and m.workspace_id == workspace.id), None)
    # Checked (against a dummy when there is none) whatever else is wrong, so the time taken says nothing.
    password_ok = verify_password(membership.password_hash if membership else None, password)
    if not (password_ok and user and workspace and membership):
        raise Unauthorized(BAD_LOGIN, code="invalid_credentials")
    others: list[Membership | None] = [m for m in memberships if m is not membership]
    others = others[:OTHER_MEMBERSHIPS_TRIED]
    others += [None] * (OTHER_MEMBERSHIPS_TRIED - len(others))
    matched = [(m, verify_password(m.password_hash if m else None, password)) for m in others]
    opened = [membership.id] + [m.id for m, ok in matched if m is not None and ok]
    return mint_login(session, workspace.id, user, membership.role, opened)


def mint_login(
    session: StoreSession, workspace_id: str, user: User, role: str, opened: list[str]
) -> tuple[str, Caller]:
    token, token_hash = mint_token()
    row = ApiToken(
        workspace_id=workspace_id, user_id=user.id, name=LOGIN_TOKEN, token_hash=token_hash, login_memberships=opened
    )
    session.add(row)
    session.flush()
    return token, caller_for(session, workspace_id, user, role, row.id)


def authenticate(*, session: StoreSession, token: str) -> Caller:
    """The caller a bearer token stands for, or Unauthorized."""
    row = session.scalar(
        select(ApiToken)
        .where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))
        .execution_options(all_workspaces=True)
    )
    if row is None:
        raise Unauthorized(BAD_TOKEN, code="invalid_token")
    membership = session.scalar(
        select(Membership)
        .where(Membership.workspace_id == row.workspace_id, Membership.user_id == row.user_id)
        .execution_options(all_workspaces=True)
    )
    user = session.get(User, row.user_id)
    if membership is None or user is None:
        raise Unauthorized(BAD_TOKEN, code="invalid_token")
    if row.last_used_at is None or utcnow() - row.last_used_at > TOKEN_TOUCH_EVERY:
        touch_token(session, row.id)
    return caller_for(session, row.workspace_id, user, membership.role, row.id)


def create_token(*, session: StoreSession, caller: Caller, name: str) -> tuple[ApiToken, str]:
    """A new token for the caller; the plaintext is returned once and never stored."""
    if caller.user_id is None:
        raise Invalid("Tokens belong to a person; pass --email.", code="no_user")
    token, token_hash = mint_token()
    row = ApiToken(workspace_id=caller.workspace_id, user_id=caller.user_id, name=name, token_hash=token_hash)
    session.add(row)
    session.flush()
    return row, token


def list_tokens(*, session: StoreSession, caller: Caller) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == caller.user_id, ApiToken.revoked_at.is_(None))
            .order_by(ApiToken.created_at)
        )
    )


def revoke_token(*, session: StoreSession, caller: Caller, token_id: str) -> None:
    """Revoke one of the caller's own tokens; an admin may revoke anyone's in the workspace."""
    row = session.get(ApiToken, token_id)
    if row is None or row.workspace_id != caller.workspace_id or row.revoked_at is not None:
        raise NotFound("No such token.")
    if not may_revoke_token(caller, row.user_id):
        raise NotFound("No such token.")
    if not owns(caller, row.user_id):
        audit.record(session, caller, "token.revoke", row.id, before={"user_id": row.user_id, "name": row.name})
    row.revoked_at = utcnow()


# --- members ----------------------------------------------------------------------------------


def list_members(*, session: StoreSession, caller: Caller) -> list[tuple[Membership, User, list[str]]]:
    require(caller, Action.read_workspace)
    rows = session.execute(
        select(Membership, User).join(User, User.id == Membership.user_id).order_by(User.email)
    ).all()
    seen = _seen_team_ids(session, caller)
    teams: dict[str, list[str]] = defaultdict(list)
    for team_id, user_id in session.execute(select(TeamMember.team_id, TeamMember.user_id)):
        if team_id in seen:
            teams[user_id].append(team_id)
    return [(m, u, sorted(teams[u.id])) for m, u in rows]


def get_member(*, session: StoreSession, caller: Caller, user_id: str) -> tuple[Membership, User, list[str]]:
    require(caller, Action.read_workspace)
    membership = session.scalar(select(Membership).where(Membership.user_id == user_id))
    if membership is None:
        raise NotFound("No such member.")
    user = session.get(User, user_id)
    assert user is not None
    seen = _seen_team_ids(session, caller)
    team_ids = sorted(
        t for t in session.scalars(select(TeamMember.team_id).where(TeamMember.user_id == user_id)) if t in seen
    )
    return membership, user, team_ids


def add_member(
    *, session: StoreSession, caller: Caller, email: str, role: Role, password: str | None = None
) -> tuple[Membership, User]:
    """Add a person (creating their account if new) and put them in the Everyone team.

    The password is this membership's: it opens this workspace only, whether the account is new or not.
    """
    require(caller, Action.manage_members)
    if password:
        check_password(password)
    email = email.strip().lower()
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(email=email)
        session.add(user)
        session.flush()
    elif session.scalar(select(Membership.id).where(Membership.user_id == user.id)):
        raise Conflict(f"{email} is already a member.", code="member_exists")
    membership = Membership(
        workspace_id=caller.workspace_id,
        user_id=user.id,
        role=role.value,
        password_hash=hash_password(password) if password else None,
    )
    session.add(membership)
    everyone = everyone_team(session, caller.workspace_id)
    session.add(TeamMember(workspace_id=caller.workspace_id, team_id=everyone.id, user_id=user.id))
    session.flush()
    audit.record(session, caller, "member.add", user.id, after={"email": email, "role": role.value})
    return membership, user


def set_role(*, session: StoreSession, caller: Caller, user_id: str, role: Role) -> tuple[Membership, User]:
    require(caller, Action.manage_members)
    membership, user, _ = get_member(session=session, caller=caller, user_id=user_id)
    if membership.role == Role.admin and role != Role.admin:
        _keep_an_admin(session)
    before = membership.role
    membership.role = role.value
    audit.record(session, caller, "member.role", user_id, before={"role": before}, after={"role": role.value})
    return membership, user


def remove_member(*, session: StoreSession, caller: Caller, user_id: str) -> None:
    """Remove a person from the workspace: their Teams and tokens here go with the membership."""
    require(caller, Action.manage_members)
    membership, user, _ = get_member(session=session, caller=caller, user_id=user_id)
    if membership.role == Role.admin:
        _keep_an_admin(session)
    session.execute(delete(TeamMember).where(TeamMember.user_id == user_id))
    session.execute(
        update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None)).values(revoked_at=utcnow())
    )
    session.delete(membership)
    audit.record(session, caller, "member.remove", user_id, before={"email": user.email, "role": membership.role})


def set_password(*, session: StoreSession, caller: Caller, user_id: str, password: str) -> None:
    """Set a member's password in the caller's workspace, from the server's command line (or their own)."""
    if caller.user_id is not None and caller.user_id != user_id:
        raise NotFound("No such member.")
    membership, _, _ = get_member(session=session, caller=caller, user_id=user_id)
    membership.password_hash = hash_password(check_password(password))
    audit.record(session, caller, "member.password", user_id)


def _keep_an_admin(session: StoreSession) -> None:
    # Lock the admin rows on PostgreSQL so two demotions at once cannot both pass the count.
    admins = session.scalars(select(Membership.id).where(Membership.role == Role.admin).with_for_update()).all()
    if len(admins) <= 1:
        raise Conflict("A workspace must keep at least one admin.", code="last_admin")


def find_member_by_email(*, session: StoreSession, caller: Caller, email: str) -> User:
    require(caller, Action.read_workspace)
    user = session.scalar(
        select(User).join(Membership, Membership.user_id == User.id).where(User.email == email.strip().lower())
    )
    if user is None:
        raise NotFound(f"No member {email}.")
    return user


# --- Teams ------------------------------------------------------------------------------------


def _may_see(caller: Caller, team: Team) -> bool:
    return may_see_team(caller, team.id, private=team.is_private)


def _seen_team_ids(session: StoreSession, caller: Caller) -> set[str]:
    """Ids of the Teams the caller may see: a private Team's name and members stay with its members and admins."""
    rows = session.execute(select(Team.id, Team.visibility))
    return {t for t, v in rows if may_see_team(caller, t, private=v == TeamVisibility.private)}


def list_teams(*, session: StoreSession, caller: Caller) -> list[tuple[Team, list[str]]]:
    """The Teams the caller may see (every public one; private ones they are in; all for admins)."""
    require(caller, Action.read_workspace)
    members: dict[str, list[str]] = defaultdict(list)
    for team_id, user_id in session.execute(select(TeamMember.team_id, TeamMember.user_id)):
        members[team_id].append(user_id)
    teams = session.scalars(select(Team).order_by(Team.is_everyone.desc(), Team.name))
    return [(t, sorted(members[t.id])) for t in teams if _may_see(caller, t)]


def get_team(*, session: StoreSession, caller: Caller, team_id: str) -> Team:
    """One Team; another workspace's, or a private one the caller may not see, is NotFound like a missing one."""
    require(caller, Action.read_workspace)
    team = session.get(Team, team_id)
    if team is None or team.workspace_id != caller.workspace_id or not _may_see(caller, team):
        raise NotFound("No such Team.")
    return team


def team_member_ids(*, session: StoreSession, caller: Caller, team_id: str) -> list[str]:
    team = get_team(session=session, caller=caller, team_id=team_id)
    return sorted(session.scalars(select(TeamMember.user_id).where(TeamMember.team_id == team.id)))


def find_team(*, session: StoreSession, caller: Caller, name: str) -> Team:
    require(caller, Action.read_workspace)
    team = session.scalar(select(Team).where(func.lower(Team.name) == name.strip().lower()))
    if team is None or not _may_see(caller, team):
        raise NotFound(f"No Team '{name}'.")
    return team


def _name_taken(session: StoreSession, name: str, but: str | None = None) -> None:
    query = select(Team.id).where(func.lower(Team.name) == name.strip().lower())
    if but is not None:
        query = query.where(Team.id != but)
    if session.scalar(query):
        raise Conflict(f"A Team named '{name.strip()}' already exists.", code="team_exists")


def create_team(
    *, session: StoreSession, caller: Caller, name: str, visibility: TeamVisibility = TeamVisibility.public
) -> Team:
    require(caller, Action.manage_teams)
    _name_taken(session, name)
    team = Team(workspace_id=caller.workspace_id, name=name.strip(), visibility=TeamVisibility(visibility).value)
    session.add(team)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"A Team named '{name}' already exists.", code="team_exists") from exc
    audit.record(session, caller, "team.create", team.id, after={"name": team.name, "visibility": team.visibility})
    return team


def update_team(
    *,
    session: StoreSession,
    caller: Caller,
    team_id: str,
    name: str | None = None,
    visibility: TeamVisibility | None = None,
) -> Team:
    """Rename a Team or make it public or private; Everyone keeps its name and stays public."""
    require(caller, Action.manage_teams)
    team = get_team(session=session, caller=caller, team_id=team_id)
    new_name = name.strip() if name is not None else team.name
    new_visibility = TeamVisibility(visibility).value if visibility is not None else team.visibility
    before = {"name": team.name, "visibility": team.visibility}
    after = {"name": new_name, "visibility": new_visibility}
    if before == after:
        return team
    if team.is_everyone:
        raise Conflict("The Everyone team keeps its name and is always public.", code="everyone_team")
    if new_name != team.name:
        _name_taken(session, new_name, but=team.id)
    team.name, team.visibility = new_name, new_visibility
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"A Team named '{new_name}' already exists.", code="team_exists") from exc
    audit.record(session, caller, "team.update", team.id, before=before, after=after)
    return team


def delete_team(*, session: StoreSession, caller: Caller, team_id: str) -> None:
    require(caller, Action.manage_teams)
    team = get_team(session=session, caller=caller, team_id=team_id)
    if team.is_everyone:
        raise Conflict("The Everyone team cannot be deleted.", code="everyone_team")
    try:
        with session.begin_nested():
            session.execute(delete(TeamMember).where(TeamMember.team_id == team_id))
            session.delete(team)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(
            "This Team still holds integrations or resources; give them another Team first.", code="team_in_use"
        ) from exc
    audit.record(session, caller, "team.delete", team_id, before={"name": team.name})


def put_in_team(session: StoreSession, caller: Caller, team: Team, user_id: str) -> bool:
    """Add one person to a Team; False when they were in it already (a concurrent add included)."""
    if session.get(TeamMember, (team.id, user_id)) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(TeamMember(workspace_id=caller.workspace_id, team_id=team.id, user_id=user_id))
            session.flush()
    except IntegrityError:
        return False
    return True


def add_team_member(*, session: StoreSession, caller: Caller, team_id: str, user_id: str) -> None:
    """An admin puts someone in any Team, private ones included."""
    require(caller, Action.manage_teams)
    team = get_team(session=session, caller=caller, team_id=team_id)
    get_member(session=session, caller=caller, user_id=user_id)
    if put_in_team(session, caller, team, user_id):
        audit.record(session, caller, "team.member.add", team_id, after={"user_id": user_id})


def remove_team_member(*, session: StoreSession, caller: Caller, team_id: str, user_id: str) -> None:
    require(caller, Action.manage_teams)
    get_team(session=session, caller=caller, team_id=team_id)
    row = session.get(TeamMember, (team_id, user_id))
    if row is None:
        raise NotFound("That person is not in this Team.")
    session.delete(row)
    audit.record(session, caller, "team.member.remove", team_id, before={"user_id": user_id})
