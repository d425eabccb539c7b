"""The MCP server on the official SDK's low-level `Server`, whose tool list can differ per caller.

(`MCPServer` lists the same registered tools to everyone; run_sql must be listed only to those who
may run it.) Handlers read the caller's token from the request, or the stdio token, and do the
store work in a worker thread so a slow query never blocks the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import anyio
from mcp.server import Server, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INVALID_REQUEST,
    CallToolRequestParams,
    CallToolResult,
    ListToolsResult,
    PaginatedRequestParams,
    TextContent,
    Tool,
    ToolAnnotations,
)
from sqlalchemy.orm import sessionmaker

from datadesk import __version__
from datadesk.db import StoreSession
from datadesk.errors import Unauthorized
from datadesk.mcp import tools
from datadesk.settings import Settings

TokenSource = Callable[[ServerRequestContext[Any, Any]], str | None]


def _tool(definition: tools.ToolDef) -> Tool:
    return Tool(
        name=definition.name,
        title=definition.title,
        description=definition.description,
        input_schema=definition.input_schema,
        annotations=ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False),
    )


def _refused(exc: Unauthorized) -> MCPError:
    return MCPError(code=INVALID_REQUEST, message=exc.message)


def build_server(
    sessions: sessionmaker[StoreSession], settings: Settings, token_of: TokenSource, *, transport: str
) -> Server[Any]:
    """The datadesk MCP server; every request is authenticated with the token `token_of` finds."""

    async def list_tools(
        ctx: ServerRequestContext[Any, Any], _params: PaginatedRequestParams | None
    ) -> ListToolsResult:
        try:
            listed = await anyio.to_thread.run_sync(partial(tools.listed, sessions, token_of(ctx)))
        except Unauthorized as exc:
            raise _refused(exc) from None
        # The list depends on the caller and on the workspace's settings: never cache it.
        return ListToolsResult(tools=[_tool(d) for d in listed], ttl_ms=0, cache_scope="private")

    async def call_tool(ctx: ServerRequestContext[Any, Any], params: CallToolRequestParams) -> CallToolResult:
        work = partial(
            tools.call,
            sessions,
            settings,
            token_of(ctx),
            params.name,
            dict(params.arguments or {}),
            transport=transport,
        )
        try:
            reply = await anyio.to_thread.run_sync(work)
        except Unauthorized as exc:
            raise _refused(exc) from None
        return CallToolResult(content=[TextContent(type="text", text=reply.text)], is_error=reply.is_error)

    return Server(
        "datadesk",
        version=__version__,
        title="datadesk data catalog",
        instructions=tools.INSTRUCTIONS,
        get_tool_input_schema=tools.input_schema,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )
