"""Schedules: checked cron in the API and CLI, and a tick fired once across workers, with a clock the test moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from datadesk.catalog.models import Integration
from datadesk.catalog.schedule import InvalidSchedule, check, next_tick
from datadesk.db import StoreSession, transaction
from datadesk.jobs import tasks
from tests.catalog.sources import build_shop
from tests.jobs.helpers import recorder, runs, shop_integration
from tests.world import World

Sessions = sessionmaker[StoreSession]
T0 = datetime(2099, 12, 7, 2, 59, 30, tzinfo=UTC)  # far ahead: the test app's own worker never finds it due


@pytest.fixture
def integration(client: TestClient, world: World, tmp_path: Path) -> str:
    return shop_integration(client, world, tmp_path)


def _schedule(sessions: Sessions, integration_id: str, cron: str | None, next_at: datetime | None) -> None:
    with transaction(sessions) as session:
        row = session.scalars(
            select(Integration).where(Integration.id == integration_id).execution_options(all_workspaces=True)
        ).one()
        row.schedule, row.next_sync_at = cron, next_at


def test_check_keeps_five_field_cron_and_refuses_the_rest() -> None:
    assert check("  0   3 * * * ") == "0 3 * * *"
    assert check(None) is None and check("   ") is None
    for bad, says in (
        ("0 3 * * * *", "has 6 fields"),
        ("61 * * * *", "not a valid cron"),
        ("daily", "has 1 fields"),
        ("0 0 31 2 *", "never fires"),
    ):
        with pytest.raises(InvalidSchedule, match=says):
            check(bad)
    assert next_tick("0 3 * * *", T0) == datetime(2099, 12, 7, 3, 0, tzinfo=UTC)
    assert next_tick("0 3 * * *", datetime(2099, 12, 7, 3, 0, tzinfo=UTC)) == datetime(2099, 12, 8, 3, 0, tzinfo=UTC)


def test_the_api_sets_shows_and_clears_a_schedule(client: TestClient, world: World, integration: str) -> None:
    headers = world.a.admin.headers
    url = f"/api/v1/integrations/{integration}"
    assert client.get(url, headers=headers).json()["schedule"] is None
    patched = client.patch(url, json={"schedule": "*/15 * * * *"}, headers=headers)
    assert patched.status_code == 200, patched.text
    body = client.get(url, headers=headers).json()
    assert body["schedule"] == "*/15 * * * *"
    next_at = datetime.fromisoformat(body["next_sync_at"])
    assert next_at.minute % 15 == 0 and next_at - datetime.now(UTC) <= timedelta(minutes=15)
    kept = client.patch(url, json={"name": "shop2"}, headers=headers).json()  # absent: kept
    assert kept["schedule"] == "*/15 * * * *"
    bad = client.patch(url, json={"schedule": "every day"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_schedule"
    assert "5 (minute hour day-of-month month day-of-week, in UTC)" in bad.json()["error"]["message"]
    assert client.patch(url, json={"schedule": "0 3 * * *"}, headers=world.a.editor.headers).status_code == 403
    cleared = client.patch(url, json={"schedule": None}, headers=headers).json()
    assert cleared["schedule"] is None and cleared["next_sync_at"] is None


def test_a_new_integration_may_come_with_a_schedule(client: TestClient, world: World, tmp_path: Path) -> None:
    shop = build_shop(tmp_path / "other.db")
    body = {"name": "nightly", "type": "sqlite", "config": {"url": f"sqlite:///{shop}"}, "schedule": "0 3 * * *"}
    created = client.post("/api/v1/integrations", json=body, headers=world.a.admin.headers)
    assert created.status_code == 201, created.text
    assert created.json()["schedule"] == "0 3 * * *"
    assert datetime.fromisoformat(created.json()["next_sync_at"]).hour == 3
    refused = client.post(
        "/api/v1/integrations", json={**body, "name": "x", "schedule": "0 25 * * *"}, headers=world.a.admin.headers
    )
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_schedule"


def test_a_tick_fires_once_however_many_workers_look(sessions: Sessions, world: World, integration: str) -> None:
    _schedule(sessions, integration, "* * * * *", T0 + timedelta(seconds=30))
    seen, defer = recorder()
    assert tasks.tick(sessions, defer, now=T0) == []  # not yet due
    at = T0 + timedelta(seconds=30, milliseconds=40)
    first = tasks.tick(sessions, defer, now=at)
    second = tasks.tick(sessions, defer, now=at)  # a second worker looking at the same tick
    assert len(first) == 1 and second == []
    queued = runs(sessions, world.a.id)
    assert [(r.id, r.trigger, r.status) for r in queued] == [(first[0], "schedule", "queued")] and seen == first
    with transaction(sessions, world.a.id) as session:
        assert session.get_one(Integration, integration).next_sync_at == datetime(2099, 12, 7, 3, 1, tzinfo=UTC)


def test_ticks_missed_while_no_worker_ran_fire_once(sessions: Sessions, world: World, integration: str) -> None:
    _schedule(sessions, integration, "* * * * *", T0 - timedelta(hours=5))  # five hours of minutes missed
    seen, defer = recorder()
    assert len(tasks.tick(sessions, defer, now=T0)) == 1
    assert tasks.tick(sessions, defer, now=T0 + timedelta(seconds=5)) == []
    with transaction(sessions, world.a.id) as session:
        assert session.get_one(Integration, integration).next_sync_at == datetime(2099, 12, 7, 3, 0, tzinfo=UTC)
    assert len(seen) == 1


def test_a_tick_while_a_sync_is_active_queues_no_second_one(sessions: Sessions, world: World, integration: str) -> None:
    _schedule(sessions, integration, "* * * * *", T0)
    seen, defer = recorder()
    assert len(tasks.tick(sessions, defer, now=T0)) == 1
    _schedule(sessions, integration, "* * * * *", T0 + timedelta(minutes=1))
    assert tasks.tick(sessions, defer, now=T0 + timedelta(minutes=1)) == []  # the first is still queued
    assert len(runs(sessions, world.a.id)) == 1 and len(seen) == 1
