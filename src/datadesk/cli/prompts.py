"""`datadesk prompts`: export a person's prompts; purge those past retention."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from datadesk.cli.common import WorkspaceOpt, as_member, clean_errors, err, open_store, out

prompts_app = typer.Typer(help="Export people's prompts; purge those past retention.", no_args_is_help=True)


@prompts_app.command("export")
@clean_errors
def prompts_export(
    workspace: WorkspaceOpt,
    email: Annotated[str, typer.Option(help="Whose prompts.")],
    output: Annotated[str | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Export a person's prompts and answers as JSON."""
    from pathlib import Path

    from datadesk.ai import history

    with as_member(workspace, email) as (session, caller):
        data = {"workspace": workspace, "email": email, "prompts": history.export(session=session, caller=caller)}
    text = json.dumps(data, indent=2, ensure_ascii=False)
    if output:
        Path(output).write_text(text + "\n")
        err.print(f"Wrote {len(data['prompts'])} prompts to {output}.", markup=False)
    else:
        print(text)


@prompts_app.command("purge")
@clean_errors
def prompts_purge() -> None:
    """Delete prompts older than each workspace's retention period."""
    from datadesk.ai import history

    with open_store() as sessions:
        removed = history.purge_expired(sessions)
    out.print(f"Purged {removed} prompts past retention.")
