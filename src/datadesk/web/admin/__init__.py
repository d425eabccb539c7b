"""Admin pages under /admin, one module per area; each page asks access.policy, and the services check again."""

from __future__ import annotations

from fastapi import APIRouter

from datadesk.web.admin import ai, audit, integrations, members, teams

router = APIRouter()
for area in (members, teams, integrations, ai, audit):
    router.include_router(area.router, prefix="/admin")
