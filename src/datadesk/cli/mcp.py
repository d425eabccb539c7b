"""`datadesk mcp`: the MCP tools over stdio for a desktop AI client."""

from __future__ import annotations

from typing import Annotated

import typer

from datadesk.cli.common import clean_errors, load_settings, open_store


@clean_errors
def mcp_command(
    token: Annotated[
        str,
        typer.Option(
            envvar="DATADESK_TOKEN",
            show_default=False,
            help="Your own API token (POST /auth/tokens or `datadesk tokens create`); or set DATADESK_TOKEN.",
        ),
    ],
) -> None:
    """Serve the MCP tools over stdio for a desktop AI client, as the person the token belongs to."""
    from datadesk.mcp import stdio

    settings = load_settings()
    with open_store() as sessions:
        stdio.serve(sessions, settings, token)
