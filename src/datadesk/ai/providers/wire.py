"""The HTTP client every SDK provider uses: timeouts, and a record of each request for the audit log."""

from __future__ import annotations

import httpx2

from datadesk.ai.providers.base import WireLog

TIMEOUT_SECONDS = 60.0
MAX_RETRIES = 3  # the SDKs retry 429 and 5xx with backoff, honouring retry-after


def http_client(wire: WireLog, timeout: float = TIMEOUT_SECONDS) -> httpx2.Client:
    return httpx2.Client(
        timeout=httpx2.Timeout(timeout, connect=min(10.0, timeout)),
        event_hooks={"request": [wire.on_request], "response": [wire.on_response]},
        follow_redirects=False,
    )
