"""Questions waiting on a provider hold no request thread: with two request threads and four questions in flight,
pages and API reads still answer at once (datadesk.waiting)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from datadesk.app import create_app
from datadesk.settings import Settings
from tests.ai.conftest import use
from tests.fakes.llm_server import FakeLLMServer, delay
from tests.world import World

REQUEST_THREADS = 2
PROVIDER_SECONDS = 6.0


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings.model_copy(update={"request_threads": REQUEST_THREADS}))
    yield application
    application.state.engine.dispose()


def test_questions_waiting_on_the_provider_leave_the_request_threads_free(
    client: TestClient, world: World, fake_llm: FakeLLMServer
) -> None:
    use(client, world.a.admin, fake_llm, "openai")
    fake_llm.script(*[delay(PROVIDER_SECONDS)] * 4)
    answers: list[Any] = []

    def ask(streamed: bool) -> None:
        headers = {**world.a.editor.headers, **({"Accept": "text/event-stream"} if streamed else {})}
        answers.append(client.post("/api/v1/ai/ask", json={"question": "Where are orders?"}, headers=headers))

    askers = [threading.Thread(target=ask, args=(i % 2 == 0,)) for i in range(2 * REQUEST_THREADS)]
    for asker in askers:
        asker.start()
    waited = time.monotonic() + PROVIDER_SECONDS - 2
    while len(fake_llm.completion_requests) < len(askers) and time.monotonic() < waited:
        time.sleep(0.05)
    assert len(fake_llm.completion_requests) == len(askers), "questions waited for a request thread"
    started = time.monotonic()
    assert client.get("/api/v1/resources", headers=world.a.viewer.headers).status_code == 200
    assert client.get("/", headers=world.a.viewer.headers).status_code in (200, 303)
    assert time.monotonic() - started < PROVIDER_SECONDS / 2 and all(a.is_alive() for a in askers)
    for asker in askers:
        asker.join(30)
    assert sorted(a.status_code for a in answers) == [200] * len(askers)
    assert all('"answer":' in a.text or "event: done" in a.text for a in answers)
