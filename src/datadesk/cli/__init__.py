"""The `datadesk` command line: calls services directly, never HTTP."""

from __future__ import annotations

import typer

from datadesk.cli.integrations import integrations_app, sync_command
from datadesk.cli.mcp import mcp_command
from datadesk.cli.members import members_app
from datadesk.cli.prompts import prompts_app
from datadesk.cli.serve import demo, serve, worker
from datadesk.cli.store import init, migrate
from datadesk.cli.teams import teams_app
from datadesk.cli.tokens import tokens_app

app = typer.Typer(help="datadesk: a data catalog with a governed AI assistant.", no_args_is_help=True)
# The order here is the order `datadesk --help` lists them.
app.command()(init)
app.command()(migrate)
app.command()(serve)
app.command()(worker)
app.command()(demo)
app.command("mcp")(mcp_command)
app.command("sync")(sync_command)
app.add_typer(members_app, name="members")
app.add_typer(teams_app, name="teams")
app.add_typer(tokens_app, name="tokens")
app.add_typer(integrations_app, name="integrations")
app.add_typer(prompts_app, name="prompts")

__all__ = ["app"]
