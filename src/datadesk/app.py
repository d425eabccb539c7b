"""create_app(settings) builds the whole application; nothing happens at import time."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.routing import Route

from datadesk import __version__, api_docs, http_errors
from datadesk.ai import history
from datadesk.api import mount
from datadesk.body_limit import BodyLimit
from datadesk.catalog import sync
from datadesk.catalog.workers import SyncWorkers
from datadesk.db import engine_for, make_sessionmaker, transaction
from datadesk.mcp.http import PATH as MCP_PATH
from datadesk.mcp.http import McpHttp
from datadesk.settings import Settings
from datadesk.web.render import STATIC_DIR, make_templates
from datadesk.web.security import SecurityHeaders

log = logging.getLogger("datadesk")
PURGE_EVERY_SECONDS = 24 * 3600


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    engine = engine_for(settings)
    sessions = make_sessionmaker(engine)
    workers = SyncWorkers(sessions, settings)
    mcp_http = McpHttp(sessions, settings)
    stop = threading.Event()

    def purge_daily() -> None:
        while not stop.wait(PURGE_EVERY_SECONDS):
            try:
                history.purge_expired(sessions)
            except Exception:  # the next round retries; a purge must never take the server down
                log.exception("prompt purge failed")

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Requests (sync endpoints) run on anyio's thread pool; on few cores fewer threads fight less for the GIL.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.request_threads
        with transaction(sessions) as session:
            sync.reap_stale(session, at_start=True)
        history.purge_expired(sessions)
        purger = threading.Thread(target=purge_daily, name="datadesk-purge", daemon=True)
        purger.start()
        async with mcp_http.running():
            yield
        stop.set()
        await asyncio.to_thread(workers.shutdown)  # off the event loop: it waits for running syncs

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
    app.state.start_sync = workers.submit
    app.state.templates = make_templates()
    http_errors.install(app)
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
