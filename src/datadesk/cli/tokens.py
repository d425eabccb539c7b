"""`datadesk tokens`: create, list and revoke a member's API tokens."""

from __future__ import annotations

from typing import Annotated

import typer

from datadesk.cli.common import JsonOpt, WorkspaceOpt, as_member, clean_errors, err, out, print_rows
from datadesk.identity import service as identity
from datadesk.identity.schemas import TokenOut

tokens_app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)


@tokens_app.command("create")
@clean_errors
def tokens_create(
    workspace: WorkspaceOpt,
    email: Annotated[str, typer.Option(help="Whose token.")],
    name: Annotated[str, typer.Option(help="A label for the token.")] = "cli",
) -> None:
    """Create an API token for a member; it is printed once."""
    with as_member(workspace, email) as (session, caller):
        row, token = identity.create_token(session=session, caller=caller, name=name)
    err.print(f"Token {row.id} for {email}; it is shown only once:", markup=False)
    print(token)


@tokens_app.command("list")
@clean_errors
def tokens_list(
    workspace: WorkspaceOpt, email: Annotated[str, typer.Option(help="Whose tokens.")], as_json: JsonOpt = False
) -> None:
    """List a member's active tokens, never their values (--json: the records GET /auth/tokens answers)."""
    with as_member(workspace, email) as (session, caller):
        rows = identity.list_tokens(session=session, caller=caller)
        data = [TokenOut.model_validate(r, from_attributes=True).model_dump(mode="json") for r in rows]
    print_rows(data, ["id", "name", "created_at", "last_used_at"], as_json)


@tokens_app.command("revoke")
@clean_errors
def tokens_revoke(
    workspace: WorkspaceOpt,
    email: Annotated[str, typer.Option(help="Whose token.")],
    token_id: Annotated[str, typer.Argument(help="The token's id.")],
) -> None:
    """Revoke a token."""
    with as_member(workspace, email) as (session, caller):
        identity.revoke_token(session=session, caller=caller, token_id=token_id)
    out.print(f"Revoked token {token_id}.", markup=False)
