"""`datadesk demo`: the logins it prints work, from the link it prints; `make demo` passes HOST and PORT on."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from datadesk.app import create_app
from datadesk.demo import login_url
from datadesk.settings import Settings
from tests.cli.conftest import run
from tests.conftest import TEST_SECRET

ROOT = Path(__file__).resolve().parents[2]


def test_demo_prints_logins_that_work(env: dict[str, str]) -> None:
    code, out, _ = run(env, "demo", "--no-serve")
    assert code == 0, out
    assert "log in at http://127.0.0.1:8000/login?workspace=demo\n" in out
    code, again, _ = run(env, "demo", "--no-serve", "--host", "10.1.2.3", "--port", "8123")
    assert code == 0 and "log in at http://10.1.2.3:8123/login?workspace=demo\n" in again  # kept as it is
    settings = Settings(
        home=Path(env["DATADESK_HOME"]), database_url=env["DATADESK_DATABASE_URL"], secret_key=TEST_SECRET
    )
    app = create_app(settings)
    from datadesk.demo import LOGINS

    with TestClient(app) as client:
        page = client.get("/login?workspace=demo").text  # the link's path, as printed
        assert 'name="workspace" value="demo"' in page
        for login in LOGINS:
            assert login.email in out and login.password in out
            response = client.post(
                "/api/v1/auth/login", json={"email": login.email, "password": login.password, "workspace": "demo"}
            )
            assert response.status_code == 200 and response.json()["role"] == login.role
    app.state.engine.dispose()


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8000/login?workspace=demo"),
        ("demo.internal", "http://demo.internal:8000/login?workspace=demo"),
        ("0.0.0.0", "http://127.0.0.1:8000/login?workspace=demo"),  # every interface: reached through loopback
        ("::", "http://[::1]:8000/login?workspace=demo"),
        ("fe80::1", "http://[fe80::1]:8000/login?workspace=demo"),
    ],
)
def test_login_url(host: str, url: str) -> None:
    assert login_url(host, 8000) == url


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_demo_passes_host_and_port_on() -> None:
    def dry_run(*args: str, **environ: str) -> str:
        done = subprocess.run(
            ["make", "-n", "demo", *args],
            cwd=ROOT,
            env={**os.environ, **environ},
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    assert "datadesk demo --host '0.0.0.0' --port '8123'" in dry_run("PORT=8123", "HOST=0.0.0.0")
    # A HOST or PORT the shell exports is not make's to use.
    assert "datadesk demo --host '127.0.0.1' --port '8000'" in dry_run(HOST="example.com", PORT="1")
