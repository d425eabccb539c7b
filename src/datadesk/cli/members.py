"""`datadesk members`: list and change the members of a workspace."""

from __future__ import annotations

from typing import Annotated

import typer

from datadesk.cli.common import (
    EMAIL_RULE,
    PASSWORD_RULE,
    JsonOpt,
    WorkspaceOpt,
    as_operator,
    clean_errors,
    out,
    print_rows,
    validated,
)
from datadesk.identity import service as identity
from datadesk.identity.models import Role
from datadesk.identity.schemas import Email, MemberOut, Password

members_app = typer.Typer(help="List and change the members of a workspace.", no_args_is_help=True)


@members_app.command("list")
@clean_errors
def members_list(workspace: WorkspaceOpt, as_json: JsonOpt = False) -> None:
    """List members, their roles and Teams (--json: the records GET /members answers)."""
    with as_operator(workspace) as (session, caller):
        rows = identity.list_members(session=session, caller=caller)
        data = [
            MemberOut(id=u.id, email=u.email, role=Role(m.role), team_ids=t).model_dump(mode="json") for m, u, t in rows
        ]
    print_rows(data, ["id", "email", "role"], as_json)


@members_app.command("add")
@clean_errors
def members_add(
    workspace: WorkspaceOpt,
    email: Annotated[str, typer.Option(help="The person's email.")],
    role: Annotated[Role, typer.Option(help="admin, editor or viewer.")] = Role.viewer,
    password: Annotated[str | None, typer.Option(help="Password for a new account.")] = None,
) -> None:
    """Add a person to the workspace (and its Everyone team)."""
    email = validated(Email, email, EMAIL_RULE)
    if password is not None:
        password = validated(Password, password, PASSWORD_RULE)
    with as_operator(workspace) as (session, caller):
        _, user = identity.add_member(session=session, caller=caller, email=email, role=role, password=password)
        out.print(f"Added {user.email} as {role.value} (id {user.id}).", markup=False)


@members_app.command("role")
@clean_errors
def members_role(
    workspace: WorkspaceOpt,
    email: Annotated[str, typer.Option(help="The member's email.")],
    role: Annotated[Role, typer.Option(help="admin, editor or viewer.")],
) -> None:
    """Change a member's role."""
    with as_operator(workspace) as (session, caller):
        user = identity.find_member_by_email(session=session, caller=caller, email=email)
        identity.set_role(session=session, caller=caller, user_id=user.id, role=role)
        out.print(f"{user.email} is now {role.value}.", markup=False)


@members_app.command("remove")
@clean_errors
def members_remove(workspace: WorkspaceOpt, email: Annotated[str, typer.Option(help="The member's email.")]) -> None:
    """Remove a member (their tokens in this workspace are revoked)."""
    with as_operator(workspace) as (session, caller):
        user = identity.find_member_by_email(session=session, caller=caller, email=email)
        identity.remove_member(session=session, caller=caller, user_id=user.id)
        out.print(f"Removed {user.email}.", markup=False)


@members_app.command("password")
@clean_errors
def members_password(
    workspace: WorkspaceOpt,
    email: Annotated[str, typer.Option(help="The member's email.")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
) -> None:
    """Set a member's password in this workspace (each membership has its own)."""
    password = validated(Password, password, PASSWORD_RULE)
    with as_operator(workspace) as (session, caller):
        user = identity.find_member_by_email(session=session, caller=caller, email=email)
        identity.set_password(session=session, caller=caller, user_id=user.id, password=password)
        out.print(f"Password set for {user.email}.", markup=False)
