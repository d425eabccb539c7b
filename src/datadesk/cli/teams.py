"""`datadesk teams`: list and change the Teams of a workspace."""

from __future__ import annotations

from typing import Annotated

import typer

from datadesk.cli.common import JsonOpt, WorkspaceOpt, as_operator, clean_errors, out, print_rows
from datadesk.identity import service as identity
from datadesk.identity.models import TeamVisibility
from datadesk.identity.schemas import TeamOut

teams_app = typer.Typer(help="List and change the Teams of a workspace.", no_args_is_help=True)


@teams_app.command("list")
@clean_errors
def teams_list(workspace: WorkspaceOpt, as_json: JsonOpt = False) -> None:
    """List Teams and how many members each has (--json: the records GET /teams answers, with the count)."""
    with as_operator(workspace) as (session, caller):
        rows = identity.list_teams(session=session, caller=caller)
        data = [
            {
                **TeamOut(
                    id=t.id,
                    name=t.name,
                    visibility=TeamVisibility(t.visibility),
                    is_everyone=t.is_everyone,
                    member_ids=m,
                ).model_dump(mode="json"),
                "members": len(m),
            }
            for t, m in rows
        ]
    print_rows(data, ["id", "name", "visibility", "members"], as_json)


@teams_app.command("create")
@clean_errors
def teams_create(
    workspace: WorkspaceOpt,
    name: Annotated[str, typer.Argument(help="Team name.")],
    private: Annotated[
        bool, typer.Option("--private", help="Listed only to its members and admins; only admins add people.")
    ] = False,
) -> None:
    """Create a Team (public unless --private)."""
    visibility = TeamVisibility.private if private else TeamVisibility.public
    with as_operator(workspace) as (session, caller):
        team = identity.create_team(session=session, caller=caller, name=name, visibility=visibility)
        out.print(f"Created {team.visibility} Team {team.name} (id {team.id}).", markup=False)


@teams_app.command("delete")
@clean_errors
def teams_delete(workspace: WorkspaceOpt, name: Annotated[str, typer.Argument(help="Team name.")]) -> None:
    """Delete a Team."""
    with as_operator(workspace) as (session, caller):
        team = identity.find_team(session=session, caller=caller, name=name)
        identity.delete_team(session=session, caller=caller, team_id=team.id)
        out.print(f"Deleted Team {team.name}.", markup=False)


@teams_app.command("add")
@clean_errors
def teams_add(
    workspace: WorkspaceOpt,
    team: Annotated[str, typer.Argument(help="Team name.")],
    email: Annotated[str, typer.Option(help="The member's email.")],
) -> None:
    """Put a member in a Team."""
    with as_operator(workspace) as (session, caller):
        found = identity.find_team(session=session, caller=caller, name=team)
        user = identity.find_member_by_email(session=session, caller=caller, email=email)
        identity.add_team_member(session=session, caller=caller, team_id=found.id, user_id=user.id)
        out.print(f"{user.email} is in {found.name}.", markup=False)


@teams_app.command("remove")
@clean_errors
def teams_remove(
    workspace: WorkspaceOpt,
    team: Annotated[str, typer.Argument(help="Team name.")],
    email: Annotated[str, typer.Option(help="The member's email.")],
) -> None:
    """Take a member out of a Team."""
    with as_operator(workspace) as (session, caller):
        found = identity.find_team(session=session, caller=caller, name=team)
        user = identity.find_member_by_email(session=session, caller=caller, email=email)
        identity.remove_team_member(session=session, caller=caller, team_id=found.id, user_id=user.id)
        out.print(f"{user.email} left {found.name}.", markup=False)
