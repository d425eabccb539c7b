"""MCP over streamable HTTP at /mcp: a request without a valid bearer token is refused before the SDK sees it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import anyio
from mcp.server import ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from sqlalchemy.orm import sessionmaker
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from datadesk.db import StoreSession
from datadesk.errors import Unauthorized
from datadesk.http_errors import error_response
from datadesk.mcp import tools
from datadesk.mcp.server import build_server
from datadesk.settings import Settings

PATH = "/mcp"


def bearer(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value."""
    scheme, _, token = (authorization or "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def _request_token(ctx: ServerRequestContext[Any, Any]) -> str | None:
    request = ctx.request
    return bearer(request.headers.get("authorization")) if isinstance(request, Request) else None


class McpHttp:
    """The ASGI endpoint at /mcp; `running()` must be entered by the app's lifespan."""

    def __init__(self, sessions: sessionmaker[StoreSession], settings: Settings) -> None:
        self._sessions = sessions
        self._server = build_server(sessions, settings, _request_token, transport="http")
        self._manager: StreamableHTTPSessionManager | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the SDK's request handling for one lifespan of the app (a new manager each time)."""
        manager = StreamableHTTPSessionManager(
            app=self._server,
            # Stateless JSON: every request stands alone, so any of several server processes can answer it.
            stateless=True,
            json_response=True,
            # Host/Origin checks guard token-less local servers from DNS rebinding; here every request
            # carries a bearer token a rebinding page cannot know, and datadesk may sit behind any host name.
            security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        async with manager.run():
            self._manager = manager
            try:
                yield
            finally:
                self._manager = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = bearer(Headers(scope=scope).get("authorization"))
        try:
            await anyio.to_thread.run_sync(partial(tools.check_token, self._sessions, token))
        except Unauthorized as exc:
            response = error_response(401, exc.code, exc.message, {"WWW-Authenticate": "Bearer"})
            await response(scope, receive, send)
            return
        if self._manager is None:
            await error_response(503, "unavailable", "The MCP endpoint is not running.")(scope, receive, send)
            return
        await self._manager.handle_request(scope, receive, send)
