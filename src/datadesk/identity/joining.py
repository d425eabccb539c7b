"""Teams a person chooses for themselves: which they may join or leave, and joining and leaving them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from datadesk.access.caller import Caller
from datadesk.access.policy import may_join_team, may_leave_team, require_join_team, require_leave_team
from datadesk.db import StoreSession
from datadesk.errors import Invalid, NotFound
from datadesk.identity import audit
from datadesk.identity.models import Team, TeamMember
from datadesk.identity.service import get_team, list_teams, put_in_team


@dataclass(frozen=True)
class TeamChoice:
    """A Team as its Teams page shows it to the caller: are they in it, may they join or leave it."""

    team: Team
    members: int
    member: bool
    may_join: bool
    may_leave: bool


def team_choices(*, session: StoreSession, caller: Caller) -> list[TeamChoice]:
    """The caller's view of the Teams they may see, with what access.policy lets them do to each."""
    mine = set(session.scalars(select(TeamMember.team_id).where(TeamMember.user_id == caller.user_id)))
    choices = []
    for team, member_ids in list_teams(session=session, caller=caller):
        member = team.id in mine
        choices.append(
            TeamChoice(
                team=team,
                members=len(member_ids),
                member=member,
                may_join=caller.user_id is not None
                and not member
                and may_join_team(caller, team.id, private=team.is_private, everyone=team.is_everyone),
                may_leave=member and may_leave_team(caller, everyone=team.is_everyone),
            )
        )
    return choices


def _person(caller: Caller) -> str:
    if caller.user_id is None:
        raise Invalid("Joining and leaving Teams is for a person; use `datadesk teams add`.", code="no_user")
    return caller.user_id


def join_team(*, session: StoreSession, caller: Caller, team_id: str) -> Team:
    """The caller joins a Team they may see and join; being in it already is fine.

    Visibility comes from the caller's Teams, read from the store on each request, so the change
    holds from the next request on, through every door.
    """
    user_id = _person(caller)
    team = get_team(session=session, caller=caller, team_id=team_id)
    require_join_team(caller, team.id, private=team.is_private, everyone=team.is_everyone)
    if put_in_team(session, caller, team, user_id):
        audit.record(session, caller, "team.member.join", team.id, after={"user_id": user_id})
    return team


def leave_team(*, session: StoreSession, caller: Caller, team_id: str) -> None:
    """The caller leaves a Team they are in (a private one they cannot join back)."""
    user_id = _person(caller)
    team = get_team(session=session, caller=caller, team_id=team_id)
    row = session.get(TeamMember, (team.id, user_id))
    if row is None:
        raise NotFound("You are not in this Team.")
    require_leave_team(caller, everyone=team.is_everyone)
    session.delete(row)
    audit.record(session, caller, "team.member.leave", team.id, before={"user_id": user_id})
