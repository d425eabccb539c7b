"""Sync semantics: idempotent, changes applied, vanished marked deleted, curated text kept, failures atomic."""

from __future__ import annotations

import socket
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from datadesk.catalog import apply as catalog_apply
from datadesk.catalog import sync as sync_service
from datadesk.catalog.models import Lineage, Resource, SyncRun
from datadesk.db import transaction, utcnow
from tests.catalog.helpers import add_integration, by_name, search, sync
from tests.catalog.sources import build_shop, execute
from tests.world import World


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return build_shop(tmp_path / "shop.db")


@pytest.fixture
def integration(client: TestClient, world: World, shop: Path) -> str:
    return add_integration(client, world.a.admin, "shop", "sqlite", {"url": f"sqlite:///{shop}"})["id"]


def count_resources(sessions, workspace_id: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with transaction(sessions, workspace_id) as session:
        total = session.scalar(select(func.count()).select_from(Resource))
        edges = session.scalar(select(func.count()).select_from(Lineage))
    return total, edges


def test_first_sync_then_a_second_changes_nothing(client: TestClient, world: World, integration: str) -> None:
    first = sync(client, world.a.admin, integration)
    assert first["status"] == "succeeded" and first["error"] is None
    # database, schema, 3 tables + 1 view, 4 + 4 + 3 + 2 columns
    assert first["stats"]["created"] == 1 + 1 + 4 + 13
    second = sync(client, world.a.admin, integration)
    assert second["stats"]["created"] == second["stats"]["updated"] == second["stats"]["deleted"] == 0
    resources = by_name(client, world.a.viewer)
    assert resources["shop.main.big_orders"]["type"] == "view"
    lineage = client.get(
        f"/api/v1/resources/{resources['shop.main.big_orders']['id']}/lineage", headers=world.a.viewer.headers
    ).json()
    assert {r["name"] for r in lineage["upstream"]} == {"orders", "customers"}
    orders = client.get(f"/api/v1/resources/{resources['shop.main.orders']['id']}", headers=world.a.viewer.headers)
    columns = {c["name"]: c for c in orders.json()["columns"]}
    assert list(columns) == ["id", "customer_id", "amount_cents", "ordered_at"]
    assert columns["id"]["is_primary_key"] and columns["customer_id"]["references"] == "main.customers.id"


def test_resync_after_tables_added_altered_and_dropped(
    client: TestClient, world: World, integration: str, shop: Path, sessions
) -> None:  # type: ignore[no-untyped-def]
    sync(client, world.a.admin, integration)
    dropped_id = by_name(client, world.a.admin)["shop.main.order_items"]["id"]
    execute(
        shop,
        """
        CREATE TABLE refunds (id INTEGER PRIMARY KEY, order_id INTEGER, reason TEXT);
        ALTER TABLE customers ADD COLUMN country TEXT;
        DROP TABLE order_items;
        """,
    )
    run = sync(client, world.a.admin, integration)
    stats = run["stats"]
    # refunds + its 3 columns; customers.country
    assert stats["created"] == 5
    # customers changed (a new column); order_items and its 3 columns vanished
    assert stats["updated"] == 1 and stats["deleted"] == 4
    resources = by_name(client, world.a.admin)
    assert "shop.main.refunds" in resources and "shop.main.order_items" not in resources
    assert "shop.main.customers.country" in resources
    assert client.get(f"/api/v1/resources/{dropped_id}", headers=world.a.admin.headers).status_code == 404
    assert not [h for h in search(client, world.a.admin, "order items") if h["id"] == dropped_id]
    with transaction(sessions, world.a.id) as session:
        kept = session.get(Resource, dropped_id)
        assert kept is not None and kept.deleted_at is not None  # hidden, kept for history
    # a table that comes back is live again, with the same id
    execute(shop, "CREATE TABLE order_items (order_id INTEGER, sku TEXT, quantity INTEGER);")
    sync(client, world.a.admin, integration)
    assert by_name(client, world.a.admin)["shop.main.order_items"]["id"] == dropped_id


def test_curated_fields_survive_a_resync(client: TestClient, world: World, integration: str, tmp_path: Path) -> None:
    sync(client, world.a.admin, integration)
    orders = by_name(client, world.a.admin)["shop.main.orders"]
    patched = client.patch(
        f"/api/v1/resources/{orders['id']}",
        json={
            "description": "Every order placed in the shop.",
            "tags": ["Core"],
            "owners": [{"kind": "team", "id": world.a.teams["Finance"]}],
        },
        headers=world.a.editor.headers,
    )
    assert patched.status_code == 200, patched.text
    # the source changes the table, so the sync must update it, yet keep what people wrote
    execute(tmp_path / "shop.db", "ALTER TABLE orders ADD COLUMN currency TEXT;")
    run = sync(client, world.a.admin, integration)
    assert run["stats"]["updated"] == 1
    after = client.get(f"/api/v1/resources/{orders['id']}", headers=world.a.admin.headers).json()
    assert after["description"] == "Every order placed in the shop."
    assert after["tags"] == ["core"]
    assert [o["name"] for o in after["owners"]] == ["Finance"]
    assert "currency" in [c["name"] for c in after["columns"]]
    # clearing the curated text shows the source's again
    cleared = client.patch(f"/api/v1/resources/{orders['id']}", json={"description": ""}, headers=world.a.admin.headers)
    assert cleared.json()["description"] == cleared.json()["source_description"] == ""


def test_a_sync_that_fails_midway_changes_nothing(
    client: TestClient, world: World, integration: str, shop: Path, sessions, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    sync(client, world.a.admin, integration)
    before = count_resources(sessions, world.a.id)
    execute(shop, "CREATE TABLE refunds (id INTEGER PRIMARY KEY); DROP VIEW big_orders;")

    def explode(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full while writing lineage")

    monkeypatch.setattr(catalog_apply, "_write_edges", explode)  # after resources were written
    run = sync(client, world.a.admin, integration)
    assert run["status"] == "failed" and "disk full" in run["error"]
    assert count_resources(sessions, world.a.id) == before
    assert "shop.main.refunds" not in by_name(client, world.a.admin)
    assert "shop.main.big_orders" in by_name(client, world.a.admin)
    # the failed bulk write left no connection with search indexing switched off
    monkeypatch.undo()
    for _ in range(3):
        created = client.post(
            "/api/v1/resources", json={"type": "glossary_term", "name": "Zebra metric"}, headers=world.a.editor.headers
        )
        assert created.status_code == 201
    assert [h["name"] for h in search(client, world.a.admin, "zebra")] == ["Zebra metric"] * 3
    assert sync(client, world.a.admin, integration)["status"] == "succeeded"
    assert search(client, world.a.admin, "refunds")


def test_unreadable_source_fails_the_run_cleanly(
    client: TestClient, world: World, integration: str, shop: Path
) -> None:
    shop.unlink()
    run = sync(client, world.a.admin, integration)
    assert run["status"] == "failed" and run["error"].startswith("Could not read the source")


def test_a_sync_asked_for_twice_runs_once(client: TestClient, world: World, integration: str, sessions) -> None:  # type: ignore[no-untyped-def]
    caller = world.a.caller("admin")
    results = []
    barrier = threading.Barrier(4)

    def ask() -> None:
        barrier.wait()
        with transaction(sessions, world.a.id) as session:
            run, created = sync_service.request_sync(session=session, caller=caller, integration_id=integration)
            results.append((run.id, created))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({run_id for run_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    # through the API too: a second request while queued returns the same run
    with transaction(sessions, world.a.id) as session:
        queued = session.scalar(select(SyncRun.id).where(SyncRun.status == "queued"))
    again = client.post(f"/api/v1/integrations/{integration}/sync", headers=world.a.admin.headers).json()
    assert again["id"] == queued


def test_a_run_whose_process_died_is_marked_failed(
    client: TestClient, world: World, integration: str, sessions
) -> None:  # type: ignore[no-untyped-def]
    with transaction(sessions, world.a.id) as session:
        dead = SyncRun(
            integration_id=integration,
            status="running",
            worker=f"{socket.gethostname()}:999999999",
            heartbeat_at=utcnow(),
            stats={},
        )
        session.add(dead)
        session.flush()
        dead_id = dead.id
    run = client.get(f"/api/v1/integrations/{integration}/syncs/{dead_id}", headers=world.a.admin.headers).json()
    assert run["status"] == "failed" and "stopped" in run["error"]
    # a run on another host is failed once its heartbeat is stale
    with transaction(sessions, world.a.id) as session:
        remote = SyncRun(
            integration_id=integration,
            status="running",
            worker="elsewhere:1",
            heartbeat_at=utcnow() - timedelta(minutes=5),
            stats={},
        )
        session.add(remote)
        session.flush()
        remote_id = remote.id
    run = client.get(f"/api/v1/integrations/{integration}/syncs/{remote_id}", headers=world.a.admin.headers).json()
    assert run["status"] == "failed"
    # and a fresh sync can start afterwards
    assert sync(client, world.a.admin, integration)["status"] == "succeeded"


def test_a_restarted_process_with_the_same_host_and_pid_reaps_its_predecessors_runs(
    client: TestClient, world: World, integration: str, sessions
) -> None:  # type: ignore[no-untyped-def]
    """A container restarts as pid 1 on the same hostname: the old process's runs must not look alive."""
    with transaction(sessions, world.a.id) as session:
        session.add(
            SyncRun(
                integration_id=integration, status="running", worker=sync_service.this_worker(), heartbeat_at=utcnow()
            )
        )
    with transaction(sessions) as session:
        assert sync_service.reap_stale(session) == 0  # while serving, a run of this very process is alive
        assert sync_service.reap_stale(session, at_start=True) == 1
    # a running run whose process lives but whose heartbeat stopped long ago is reaped too
    with transaction(sessions, world.a.id) as session:
        hung = SyncRun(
            integration_id=integration,
            status="running",
            worker=sync_service.this_worker(),
            heartbeat_at=utcnow() - timedelta(minutes=5),
        )
        session.add(hung)
    with transaction(sessions) as session:
        assert sync_service.reap_stale(session) == 1
    assert sync(client, world.a.admin, integration)["status"] == "succeeded"


def test_sync_history_and_admin_only(client: TestClient, world: World, integration: str) -> None:
    sync(client, world.a.admin, integration)
    sync(client, world.a.admin, integration)
    runs = client.get(f"/api/v1/integrations/{integration}/syncs", headers=world.a.admin.headers).json()["runs"]
    assert [r["status"] for r in runs] == ["succeeded", "succeeded"]
    assert client.post(f"/api/v1/integrations/{integration}/sync", headers=world.a.editor.headers).status_code == 403
    assert client.post(f"/api/v1/integrations/{integration}/sync", headers=world.b.admin.headers).status_code == 404
