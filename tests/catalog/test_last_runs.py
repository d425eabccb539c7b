"""The latest sync run of every integration, for the integrations list: one query, this workspace only."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import sessionmaker

from datadesk.catalog import sync
from datadesk.catalog.models import SyncRun
from datadesk.db import StoreSession, transaction, utcnow
from tests.catalog.helpers import add_integration
from tests.catalog.sources import build_shop
from tests.world import World


def test_each_integrations_latest_run_in_one_query(
    app: FastAPI, client: TestClient, world: World, sessions: sessionmaker[StoreSession], tmp_path: Path
) -> None:
    ids = {}
    for space, name in ((world.a, "old"), (world.a, "never"), (world.b, "other")):
        url = f"sqlite:///{build_shop(tmp_path / f'{name}.db')}"
        ids[name] = add_integration(client, space.admin, name, "sqlite", {"url": url})["id"]
    start = utcnow()
    runs = [
        (world.a.id, "old", "succeeded", start),
        (world.a.id, "old", "failed", start + timedelta(minutes=5)),
        (world.a.id, "old", "succeeded", start - timedelta(minutes=5)),
        (world.b.id, "other", "failed", start + timedelta(minutes=9)),
    ]
    for workspace_id, name, status, at in runs:
        with transaction(sessions, workspace_id) as session:
            session.add(SyncRun(integration_id=ids[name], status=status, error=f"{name} {status}", created_at=at))
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(app.state.engine, "before_cursor_execute", count)
    try:
        with transaction(sessions, world.a.id) as session:
            latest = sync.last_runs(session=session, caller=world.a.caller("viewer"))
            found = {integration_id: (run.status, run.error) for integration_id, run in latest.items()}
    finally:
        event.remove(app.state.engine, "before_cursor_execute", count)
    assert found == {ids["old"]: ("failed", "old failed")}
    assert len([s for s in statements if "sync_run" in s]) == 1
