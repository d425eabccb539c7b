"""Mounts each domain's routes under /api/v1 and the web app's pages under /."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from datadesk.ai.routes import router as ai_router
from datadesk.catalog.routes import router as catalog_router
from datadesk.identity.routes import router as identity_router
from datadesk.sql.routes import router as sql_router
from datadesk.web.pages import router as pages_router

API_PREFIX = "/api/v1"


def _health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return router


def mount(app: FastAPI) -> None:
    for router in (_health_router(), identity_router, catalog_router, sql_router, ai_router):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(pages_router)  # the web app, at /
