"""A resource page names its source with the source's type once, even when the integration's name already says it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.catalog.helpers import add_integration, by_name, sync
from tests.web.conftest import sign_in
from tests.world import World

JAFFLE = Path(__file__).resolve().parents[1] / "fixtures" / "dbt" / "jaffle-shop"


@pytest.mark.parametrize("name", ["jaffle_shop (dbt)", "jaffle_shop"])
def test_the_source_says_dbt_once(client: TestClient, world: World, name: str) -> None:
    created = add_integration(client, world.a.admin, name, "dbt", {"manifest_path": str(JAFFLE / "manifest.json")})
    assert sync(client, world.a.admin, created["id"])["status"] == "succeeded"
    resources = by_name(client, world.a.admin, integration_id=created["id"])
    model = next(r for qualified_name, r in resources.items() if qualified_name.startswith("model."))
    sign_in(client, world.a.viewer)
    page = client.get(f"/resources/{model['id']}").text
    source = re.search(r"<dt>Source</dt><dd>(.*?)</dd>", page)
    assert source and re.sub(r"<[^>]+>", "", source.group(1)) == "jaffle_shop (dbt)"
