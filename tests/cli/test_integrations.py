"""`datadesk integrations` and `sync`, on both stores."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import run


def test_integrations_and_sync_from_the_command_line(env: dict[str, str], tmp_path: Path) -> None:
    from tests.catalog.sources import build_shop, execute

    run(env, "init", "--workspace", "acme", "--admin-email", "ada@acme.com", "--admin-password", "pw-12345678")
    run(env, "teams", "create", "-w", "acme", "Finance")
    shop = build_shop(tmp_path / "shop.db")
    code, out, err = run(
        env,
        "integrations",
        "add",
        "-w",
        "acme",
        "--name",
        "shop",
        "--type",
        "sqlite",
        "--url",
        f"sqlite:///{shop}",
        "--team",
        "Finance",
    )
    assert code == 0, err
    code, out, err = run(env, "sync", "shop", "-w", "acme")
    assert code == 0, err
    assert "19 created, 0 updated, 0 deleted" in out
    code, out, _ = run(env, "sync", "shop", "-w", "acme")
    assert "0 created, 0 updated, 0 deleted, 0 refreshed, 19 unchanged" in out
    assert "column lineage" not in out  # its one view reads
    execute(shop, "CREATE VIEW odd AS SELECT CAST(id AS weird type name) AS id FROM orders;")
    code, out, _ = run(env, "sync", "shop", "-w", "acme")
    assert code == 0 and "1 view or model SQL could not be read for column lineage" in out
    listed = json.loads(run(env, "integrations", "list", "-w", "acme", "--json")[1])
    assert listed[0]["name"] == "shop" and listed[0]["last_synced_at"] and len(listed[0]["team_ids"]) == 1
    code, _, err = run(env, "sync", "nope", "-w", "acme")
    assert code == 1 and "No integration named 'nope'" in err
    code, _, err = run(
        env,
        "integrations",
        "add",
        "-w",
        "acme",
        "--name",
        "bad",
        "--type",
        "sqlite",
        "--url",
        f"sqlite:///{tmp_path}/nonexistent/x.db",
    )
    assert code == 1 and "does not exist" in err
    # Outside the sources folders: refused before any connection is tried.
    outside = tmp_path / "home" / "other.db"
    outside.parent.mkdir(exist_ok=True)
    build_shop(outside)
    code, _, err = run(
        env, "integrations", "add", "-w", "acme", "--name", "bad", "--type", "sqlite", "--url", f"sqlite:///{outside}"
    )
    assert code == 1 and "DATADESK_SOURCES_DIR" in err
    assert [i["name"] for i in json.loads(run(env, "integrations", "list", "-w", "acme", "--json")[1])] == ["shop"]
    # Schedules: set, shown, refused when not 5-field cron, cleared.
    code, out, err = run(env, "integrations", "schedule", "shop", "0 3 * * *", "-w", "acme")
    assert code == 0 and "syncs on '0 3 * * *' (UTC); next at" in out, err
    listed = json.loads(run(env, "integrations", "list", "-w", "acme", "--json")[1])
    assert listed[0]["schedule"] == "0 3 * * *" and "T03:00:00" in listed[0]["next_sync_at"]
    code, _, err = run(env, "integrations", "schedule", "shop", "0 3 * *", "-w", "acme")
    assert code == 1 and "has 4 fields; give 5" in err
    code, _, err = run(env, "integrations", "schedule", "shop", "-w", "acme")
    assert code == 1 and "or --clear" in err
    code, out, err = run(env, "integrations", "schedule", "shop", "--clear", "-w", "acme")
    assert code == 0 and "syncs only when asked" in out, err
    assert json.loads(run(env, "integrations", "list", "-w", "acme", "--json")[1])[0]["schedule"] is None
