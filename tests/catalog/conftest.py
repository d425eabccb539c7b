"""A synced shop in workspace A, visible to Finance only, and one in workspace B."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.catalog.helpers import add_integration, by_name, sync
from tests.catalog.sources import build_shop
from tests.world import World


@pytest.fixture
def shops(client: TestClient, world: World, tmp_path: Path) -> dict[str, Any]:
    """Workspace A: 'shop' seen by Finance, 'open' seen by everyone; workspace B: 'shop'."""
    a = add_integration(
        client,
        world.a.admin,
        "shop",
        "sqlite",
        {"url": f"sqlite:///{build_shop(_dir(tmp_path, 'a') / 'shop.db')}"},
        [world.a.teams["Finance"]],
    )
    open_ = add_integration(
        client, world.a.admin, "open", "sqlite", {"url": f"sqlite:///{build_shop(tmp_path / 'open.db')}"}
    )
    b = add_integration(
        client, world.b.admin, "shop", "sqlite", {"url": f"sqlite:///{build_shop(_dir(tmp_path, 'b') / 'shop.db')}"}
    )
    for person, integration in ((world.a.admin, a), (world.a.admin, open_), (world.b.admin, b)):
        assert sync(client, person, integration["id"])["status"] == "succeeded"
    return {
        "a": a,
        "open": open_,
        "b": b,
        "a_resources": by_name(client, world.a.admin, integration_id=a["id"]),
        "open_resources": by_name(client, world.a.admin, integration_id=open_["id"]),
        "b_resources": by_name(client, world.b.admin),
    }


def _dir(root: Path, name: str) -> Path:
    (root / name).mkdir()
    return root / name
