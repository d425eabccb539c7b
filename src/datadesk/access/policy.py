"""What each role may do. Every authorisation decision in datadesk is made in access/."""

from __future__ import annotations

from enum import StrEnum

from datadesk.access.caller import Caller
from datadesk.errors import Forbidden


class Action(StrEnum):
    read_workspace = "read_workspace"
    manage_members = "manage_members"
    manage_teams = "manage_teams"
    manage_integrations = "manage_integrations"
    manage_settings = "manage_settings"
    read_audit = "read_audit"
    edit_catalog = "edit_catalog"


_ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    "admin": frozenset(Action),
    "editor": frozenset({Action.read_workspace, Action.edit_catalog}),
    "viewer": frozenset({Action.read_workspace}),
}

_REFUSALS: dict[Action, str] = {
    Action.manage_members: "Only admins can change members.",
    Action.manage_teams: "Only admins can change Teams.",
    Action.manage_integrations: "Only admins can change integrations.",
    Action.manage_settings: "Only admins can change settings.",
    Action.read_audit: "Only admins can read the audit log.",
    Action.edit_catalog: "Only editors and admins can change the catalog.",
}


def can(caller: Caller, action: Action) -> bool:
    return action in _ROLE_ACTIONS.get(caller.role, frozenset())


def require(caller: Caller, action: Action) -> None:
    """Raise Forbidden unless the caller's role allows the action."""
    if not can(caller, action):
        raise Forbidden(_REFUSALS.get(action, "Not allowed."), code="forbidden")


def owns(caller: Caller, owner_user_id: str | None) -> bool:
    """Whether something personal (a prompt, a token) is the caller's own; no role widens this."""
    return caller.user_id is not None and caller.user_id == owner_user_id


def may_revoke_token(caller: Caller, owner_user_id: str) -> bool:
    """People revoke their own tokens; admins may revoke anyone's in their workspace."""
    return owns(caller, owner_user_id) or caller.is_admin


def require_team_change(caller: Caller, changed_team_ids: set[str]) -> None:
    """Editors add a resource to, or take it from, only Teams they are in; admins any Team."""
    if caller.is_admin or changed_team_ids <= caller.team_ids:
        return
    raise Forbidden("You can put resources only in Teams you are in.", code="team_not_allowed")


def may_see_team(caller: Caller, team_id: str, *, private: bool) -> bool:
    """A public Team is seen by every member; a private one only by its members and admins."""
    return not private or caller.is_admin or team_id in caller.team_ids


def may_join_team(caller: Caller, team_id: str, *, private: bool, everyone: bool) -> bool:
    """People join public Teams themselves; only admins put anyone (themselves too) in a private Team.

    Everyone's membership is the admins': every new member is put in it, and taking someone out of it
    is how an admin confines them to their own Teams, which joining it back would undo.
    """
    if caller.is_admin:
        return True
    return not everyone and (not private or team_id in caller.team_ids)


def may_leave_team(caller: Caller, *, everyone: bool) -> bool:
    """People leave any Team they are in, private ones too (for good); Everyone only through an admin."""
    return caller.is_admin or not everyone


_EVERYONE_IS_ADMINS = "Only admins change who is in the Everyone team."


def require_join_team(caller: Caller, team_id: str, *, private: bool, everyone: bool) -> None:
    if may_join_team(caller, team_id, private=private, everyone=everyone):
        return
    if everyone:
        raise Forbidden(_EVERYONE_IS_ADMINS, code="everyone_team")
    raise Forbidden("Only admins add people to a private Team.", code="private_team")


def require_leave_team(caller: Caller, *, everyone: bool) -> None:
    if not may_leave_team(caller, everyone=everyone):
        raise Forbidden(_EVERYONE_IS_ADMINS, code="everyone_team")
