import anyio.to_thread
from fastapi.testclient import TestClient

from datadesk.app import create_app
from datadesk.settings import Settings


def test_health(client: TestClient) -> None:
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_openapi_served(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/auth/login" in spec["paths"]
    assert "/api/v1/teams/{team_id}/members/{user_id}" in spec["paths"]


def test_requests_run_on_as_many_threads_as_the_settings_say(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"request_threads": 3}))
    with TestClient(app) as client:
        limiter = client.portal.call(anyio.to_thread.current_default_thread_limiter)  # type: ignore[union-attr]
        assert limiter.total_tokens == 3
        assert client.get("/api/v1/health").status_code == 200
    app.state.engine.dispose()
