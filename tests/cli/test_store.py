"""`datadesk init`, on both stores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from datadesk.app import create_app
from datadesk.settings import Settings
from tests.cli.conftest import run
from tests.conftest import TEST_SECRET


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


def test_init_with_a_secret_key_creates_a_new_home_for_the_embedded_store(tmp_path: Path) -> None:
    home = tmp_path / "new" / "home"  # does not exist; the key comes from the environment, so no key file
    env = {"DATADESK_HOME": str(home), "DATADESK_SECRET_KEY": TEST_SECRET}
    code, out, err = run(
        env, "init", "--workspace", "w", "--admin-email", "a@b.example", "--admin-password", "pw-123456"
    )
    assert code == 0, out + err
    assert (home / "datadesk.db").is_file()
