"""Shortcuts for the job tests: a shop integration, the runs of a workspace, a defer that records."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from datadesk.catalog import sync
from datadesk.catalog.models import SyncRun
from datadesk.db import StoreSession, transaction
from tests.catalog.helpers import add_integration
from tests.catalog.sources import build_shop
from tests.world import World

Sessions = sessionmaker[StoreSession]


def shop_integration(client: TestClient, world: World, tmp_path: Path) -> str:
    shop = build_shop(tmp_path / "shop.db")
    return str(add_integration(client, world.a.admin, "shop", "sqlite", {"url": f"sqlite:///{shop}"})["id"])


def runs(sessions: Sessions, workspace_id: str) -> list[SyncRun]:
    with transaction(sessions, workspace_id) as session:
        return list(session.scalars(select(SyncRun).order_by(SyncRun.created_at)))


def recorder() -> tuple[list[str], sync.Defer]:
    """A defer that only records the run ids it was given."""
    seen: list[str] = []
    return seen, lambda _session, run: seen.append(run.id)
