"""Setting up the store: `init` (store, workspace and first admin) and `migrate`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from datadesk import store
from datadesk.access.caller import Caller
from datadesk.cli.common import EMAIL_RULE, PASSWORD_RULE, SLUG_RULE, clean_errors, open_store, out, validated
from datadesk.db import transaction
from datadesk.identity import service as identity
from datadesk.identity.models import Role
from datadesk.identity.schemas import Email, Password, Slug


@clean_errors
def init(
    workspace: Annotated[str, typer.Option(help="Slug of the workspace to create.")],
    admin_email: Annotated[str, typer.Option(help="Email of its first admin.")],
    admin_password: Annotated[str, typer.Option(help="Password of its first admin (8+ characters).")],
    name: Annotated[str | None, typer.Option(help="Display name; defaults to the slug.")] = None,
) -> None:
    """Create or migrate the store, then create a workspace and its first admin."""
    slug = validated(Slug, workspace, SLUG_RULE)
    email = validated(Email, admin_email, EMAIL_RULE)
    password = validated(Password, admin_password, PASSWORD_RULE)
    with open_store(migrate=True) as sessions, transaction(sessions) as session:
        created = identity.create_workspace(session=session, slug=slug, name=name or slug)
        session.seal(created.id)
        identity.add_member(
            session=session, caller=Caller.operator(created.id), email=email, role=Role.admin, password=password
        )
    out.print(f"Workspace [bold]{slug}[/bold] created; admin {escape(email)}.")


@clean_errors
def migrate() -> None:
    """Create or migrate the store to this version's schema."""
    with open_store(migrate=True):
        pass
    out.print(f"The store is at revision {store.head_revision()}.")
