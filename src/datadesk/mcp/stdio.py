"""MCP over stdio for `datadesk mcp --token TOKEN`: a desktop AI client runs it as the token's person."""

from __future__ import annotations

from typing import Any

import anyio
from mcp.server import Server
from mcp.server.stdio import stdio_server
from sqlalchemy.orm import sessionmaker

from datadesk.db import StoreSession
from datadesk.mcp import tools
from datadesk.mcp.server import build_server
from datadesk.settings import Settings


def serve(sessions: sessionmaker[StoreSession], settings: Settings, token: str) -> None:
    """Refuse a bad or revoked token up front (Unauthorized), then serve until the client hangs up.

    Each request authenticates the token again, so revoking it stops this process's next answer.
    """
    tools.check_token(sessions, token)
    server = build_server(sessions, settings, lambda _ctx: token, transport="stdio")
    anyio.run(_serve, server)


async def _serve(server: Server[Any]) -> None:
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())
