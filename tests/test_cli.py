"""The command line, on both stores, through the same services the API uses."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from datadesk.app import create_app
from datadesk.cli import app as cli
from datadesk.settings import Settings
from tests.conftest import FIXTURES, TEST_SECRET

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    return {
        "DATADESK_HOME": str(tmp_path / "home"),
        "DATADESK_DATABASE_URL": database_url,
        "DATADESK_SECRET_KEY": TEST_SECRET,
        "DATADESK_SOURCES_DIR": os.pathsep.join([str(tmp_path), str(FIXTURES)]),
    }


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = runner.invoke(cli, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_init_creates_workspace_and_admin_who_can_log_in(env: dict[str, str]) -> None:
    code, out, _ = run(
        env,
        "init",
        "--workspace",
        "acme",
        "--name",
        "Acme",
        "--admin-email",
        "Ada@Acme.com",
        "--admin-password",
        "ada-password",
    )
    assert code == 0, out
    settings = Settings(
        home=Path(env["DATADESK_HOME"]), database_url=env["DATADESK_DATABASE_URL"], secret_key=TEST_SECRET
    )
    app = create_app(settings)
    with TestClient(app) as client:
        response = client.post(
            "/api/v1/auth/login", json={"email": "ada@acme.com", "password": "ada-password", "workspace": "acme"}
        )
        assert response.status_code == 200
        assert response.json()["workspace"]["name"] == "Acme" and response.json()["role"] == "admin"
    app.state.engine.dispose()


def test_init_twice_with_the_same_slug_fails_and_changes_nothing(env: dict[str, str]) -> None:
    assert (
        run(env, "init", "--workspace", "acme", "--admin-email", "a@acme.com", "--admin-password", "pw-12345678")[0]
        == 0
    )
    code, _, err = run(
        env, "init", "--workspace", "acme", "--admin-email", "b@acme.com", "--admin-password", "pw-12345678"
    )
    assert code == 1
    assert err.strip() == "error: Workspace 'acme' already exists."
    members = json.loads(run(env, "members", "list", "-w", "acme", "--json")[1])
    assert [m["email"] for m in members] == ["a@acme.com"]
    assert (
        run(env, "init", "--workspace", "other", "--admin-email", "b@acme.com", "--admin-password", "pw-12345678")[0]
        == 0
    )


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["--workspace", "Bad Slug!", "--admin-email", "a@b.co", "--admin-password", "pw-12345678"],
            "lowercase letters",
        ),
        (["--workspace", "ok", "--admin-email", "not-an-email", "--admin-password", "pw-12345678"], "not an email"),
        (["--workspace", "ok", "--admin-email", "a@b.co", "--admin-password", "short"], "at least 8 characters"),
    ],
)
def test_init_refuses_bad_input_in_one_line(env: dict[str, str], args: list[str], message: str) -> None:
    code, _, err = run(env, "init", *args)
    assert code != 0
    assert len(err.strip().splitlines()) == 1 and message in err


def test_members_teams_and_tokens_commands(env: dict[str, str]) -> None:
    run(env, "init", "--workspace", "acme", "--admin-email", "ada@acme.com", "--admin-password", "pw-12345678")
    assert (
        run(
            env,
            "members",
            "add",
            "-w",
            "acme",
            "--email",
            "bob@acme.com",
            "--role",
            "editor",
            "--password",
            "bob-password",
        )[0]
        == 0
    )
    assert run(env, "members", "role", "-w", "acme", "--email", "bob@acme.com", "--role", "viewer")[0] == 0
    assert run(env, "teams", "create", "-w", "acme", "Finance")[0] == 0
    assert run(env, "teams", "add", "-w", "acme", "Finance", "--email", "bob@acme.com")[0] == 0
    teams = {t["name"]: t for t in json.loads(run(env, "teams", "list", "-w", "acme", "--json")[1])}
    members = {m["email"]: m for m in json.loads(run(env, "members", "list", "-w", "acme", "--json")[1])}
    assert members["bob@acme.com"]["role"] == "viewer"
    assert members["bob@acme.com"]["id"] in teams["Finance"]["member_ids"]
    assert set(teams) == {"Everyone", "Finance"}

    code, token, _ = run(env, "tokens", "create", "-w", "acme", "--email", "bob@acme.com", "--name", "ci")
    assert code == 0 and token.strip().startswith("ddt_")
    listed = json.loads(run(env, "tokens", "list", "-w", "acme", "--email", "bob@acme.com", "--json")[1])
    assert [t["name"] for t in listed] == ["ci"]
    assert run(env, "tokens", "revoke", "-w", "acme", "--email", "bob@acme.com", listed[0]["id"])[0] == 0

    code, _, err = run(env, "members", "role", "-w", "acme", "--email", "ada@acme.com", "--role", "viewer")
    assert code == 1 and "at least one admin" in err
    assert run(env, "teams", "remove", "-w", "acme", "Finance", "--email", "bob@acme.com")[0] == 0
    assert run(env, "teams", "delete", "-w", "acme", "Finance")[0] == 0
    assert run(env, "members", "remove", "-w", "acme", "--email", "bob@acme.com")[0] == 0
    code, _, err = run(env, "members", "remove", "-w", "nowhere", "--email", "bob@acme.com")
    assert code == 1 and "No workspace 'nowhere'" in err


def test_a_fresh_store_asks_for_init(tmp_path: Path) -> None:
    env = {
        "DATADESK_HOME": str(tmp_path),
        "DATADESK_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        "DATADESK_SECRET_KEY": TEST_SECRET,
    }
    code, _, err = run(env, "members", "list", "-w", "acme")
    assert code == 1 and "datadesk init" in err


def test_placeholder_secret_is_refused_by_the_cli(tmp_path: Path) -> None:
    env = {"DATADESK_HOME": str(tmp_path), "DATADESK_SECRET_KEY": "changethis"}
    code, _, err = run(env, "members", "list", "-w", "acme")
    assert code == 1 and "placeholder" in err


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["init"],
        ["serve"],
        ["demo"],
        ["members"],
        ["members", "add"],
        ["teams"],
        ["teams", "create"],
        ["tokens"],
        ["tokens", "create"],
    ],
)
def test_help_everywhere(command: list[str]) -> None:
    result = runner.invoke(cli, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.stdout


def test_demo_prints_logins_that_work(env: dict[str, str]) -> None:
    code, out, _ = run(env, "demo", "--no-serve")
    assert code == 0, out
    assert run(env, "demo", "--no-serve")[0] == 0  # a second run keeps the demo as it is
    settings = Settings(
        home=Path(env["DATADESK_HOME"]), database_url=env["DATADESK_DATABASE_URL"], secret_key=TEST_SECRET
    )
    app = create_app(settings)
    from datadesk.demo import LOGINS

    with TestClient(app) as client:
        for login in LOGINS:
            assert login.email in out and login.password in out
            response = client.post(
                "/api/v1/auth/login", json={"email": login.email, "password": login.password, "workspace": "demo"}
            )
            assert response.status_code == 200 and response.json()["role"] == login.role
    app.state.engine.dispose()


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


def test_init_with_a_secret_key_creates_a_new_home_for_the_embedded_store(tmp_path: Path) -> None:
    home = tmp_path / "new" / "home"  # does not exist; the key comes from the environment, so no key file
    env = {"DATADESK_HOME": str(home), "DATADESK_SECRET_KEY": TEST_SECRET}
    code, out, err = run(
        env, "init", "--workspace", "w", "--admin-email", "a@b.example", "--admin-password", "pw-123456"
    )
    assert code == 0, out + err
    assert (home / "datadesk.db").is_file()
