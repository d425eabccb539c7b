"""create_app(settings) builds the whole application; nothing happens at import time."""

from __future__ import annotations

from fastapi import FastAPI

from datadesk import __version__, http_errors
from datadesk.api import mount
from datadesk.body_limit import BodyLimit
from datadesk.db import make_engine, make_sessionmaker
from datadesk.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    engine = make_engine(settings.database_url)
    app = FastAPI(
        title="datadesk",
        version=__version__,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = make_sessionmaker(engine)
    http_errors.install(app)
    mount(app)
    app.add_middleware(BodyLimit)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for uvicorn workers: settings come from the environment."""
    return create_app(Settings())
