"""`datadesk demo`: the logins it prints work."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from datadesk.app import create_app
from datadesk.settings import Settings
from tests.cli.conftest import run
from tests.conftest import TEST_SECRET


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
