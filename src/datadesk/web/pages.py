"""The web app's routes, mounted at / by api.py; every unsafe request must carry the session's CSRF token."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from datadesk.web import admin, ai_pages, auth_pages, catalog_pages, teams_pages
from datadesk.web.session import verify_csrf

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])
for area in (auth_pages, catalog_pages, ai_pages, teams_pages, admin):
    router.include_router(area.router)
