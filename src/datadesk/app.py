"""create_app(settings) builds the whole application; nothing happens at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.routing import Route

from datadesk import __version__, api_docs, http_errors
from datadesk.api import mount
from datadesk.body_limit import BodyLimit
from datadesk.catalog import sync
from datadesk.db import engine_for, make_sessionmaker, transaction
from datadesk.jobs.embedded import EmbeddedJobs
from datadesk.mcp.http import PATH as MCP_PATH
from datadesk.mcp.http import McpHttp
from datadesk.settings import Settings
from datadesk.web.errors import page_error
from datadesk.web.render import STATIC_DIR, make_templates
from datadesk.web.security import SecurityHeaders

log = logging.getLogger("datadesk")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    engine = engine_for(settings)
    sessions = make_sessionmaker(engine)
    jobs = EmbeddedJobs(sessions, settings)
    mcp_http = McpHttp(sessions, settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Requests (sync endpoints) run on anyio's thread pool; on few cores fewer threads fight less for the GIL.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.request_threads
        with transaction(sessions) as session:
            sync.reap_stale(session, at_start=True)
        await jobs.start()
        async with mcp_http.running():
            yield
        await jobs.stop()

    app = FastAPI(
        title="datadesk",
        version=__version__,
        openapi_url=api_docs.OPENAPI_PATH,
        docs_url=None,  # api_docs serves it from our static folder, under our CSP
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.jobs = jobs
    app.state.defer_sync = jobs.defer
    app.state.templates = make_templates()
    http_errors.install(app, page_error)
    app.router.routes.append(Route(MCP_PATH, endpoint=mcp_http, include_in_schema=False))
    mount(app)
    api_docs.install(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for uvicorn workers: settings come from the environment."""
    return create_app(Settings())
