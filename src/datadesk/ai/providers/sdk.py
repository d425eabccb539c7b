"""What the OpenAI and Anthropic providers share: their HTTP client, timeouts, retries within the deadline, errors.

The SDKs' own retries are off: they would sleep and resend past the question's deadline (they honour a
`retry-after` of up to two minutes). The loop here retries what they would retry, with the same backoff,
but cuts each request's timeout to the time left and never waits past the deadline.
"""

from __future__ import annotations

import email.utils
import random
import ssl
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import httpcore2
import httpx2

from datadesk.ai.providers.base import ChatRequest, ChatResponse, Deadline, WireLog
from datadesk.errors import (
    ProviderAuthFailed,
    ProviderBadResponse,
    ProviderError,
    ProviderRateLimited,
    ProviderTimedOut,
    ProviderUnreachable,
)

TIMEOUT_SECONDS = 60.0  # one HTTP request; the question's deadline may cut it shorter
CONNECT_SECONDS = 10.0
MAX_RETRIES = 3  # 408, 409, 429, 5xx, timeouts and lost connections, with backoff honouring retry-after
INITIAL_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 8.0
MAX_RETRY_AFTER_SECONDS = 60.0  # a provider asking for a longer pause is not retried
_RETRIED_STATUSES = (408, 409, 429)


def http_client(wire: WireLog, timeout: float, deadline: Deadline) -> httpx2.Client:
    """The SDKs' HTTP client: every request it sends is recorded, no socket waits past the deadline."""
    return httpx2.Client(
        transport=_DeadlineTransport(deadline),
        timeout=_timeout(timeout),
        event_hooks={"request": [wire.on_request], "response": [wire.on_response]},
        follow_redirects=False,
    )


class _DeadlineTransport(httpx2.HTTPTransport):
    """httpx's transport on a network backend that clips every socket wait to the question's deadline.

    A request's timeout bounds each wait for bytes, not the whole answer: without the clip a provider
    trickling a byte now and then would outlast any deadline.
    """

    def __init__(self, deadline: Deadline) -> None:
        super().__init__()
        self._pool = httpcore2.ConnectionPool(
            ssl_context=httpx2.create_ssl_context(), network_backend=_DeadlineBackend(deadline)
        )


def _clip(deadline: Deadline, timeout: float | None) -> float:
    left = max(deadline.remaining(), 0.001)  # past the deadline a wait fails at once, as a timeout
    return left if timeout is None else min(timeout, left)


class _DeadlineBackend(httpcore2.NetworkBackend):
    def __init__(self, deadline: Deadline) -> None:
        self.deadline = deadline
        self.inner = httpcore2.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.NetworkStream:
        stream = self.inner.connect_tcp(host, port, _clip(self.deadline, timeout), local_address, socket_options)
        return _DeadlineStream(stream, self.deadline)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore2.NetworkStream:
        stream = self.inner.connect_unix_socket(path, _clip(self.deadline, timeout), socket_options)
        return _DeadlineStream(stream, self.deadline)

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


class _DeadlineStream(httpcore2.NetworkStream):
    def __init__(self, inner: httpcore2.NetworkStream, deadline: Deadline) -> None:
        self.inner = inner
        self.deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, _clip(self.deadline, timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, _clip(self.deadline, timeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore2.NetworkStream:
        stream = self.inner.start_tls(ssl_context, server_hostname, _clip(self.deadline, timeout))
        return _DeadlineStream(stream, self.deadline)

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


def _timeout(seconds: float) -> httpx2.Timeout:
    return httpx2.Timeout(seconds, connect=min(CONNECT_SECONDS, seconds))


class SdkProvider:
    """A provider reached through an official SDK (both name their errors alike)."""

    name = "sdk"
    sdk: ModuleType

    def __init__(
        self, *, api_key: str, base_url: str = "", timeout: float | None = None, max_retries: int | None = None
    ) -> None:
        self.api_key = api_key
        self.base_url = base_url or None
        self.timeout = timeout or TIMEOUT_SECONDS
        self.max_retries = MAX_RETRIES if max_retries is None else max_retries

    def complete(self, request: ChatRequest, wire: WireLog, deadline: Deadline) -> ChatResponse:
        with http_client(wire, self.timeout, deadline) as http:
            client = self.client(http)
            return with_retries(
                self.sdk,
                lambda timeout: self.send(client, request, timeout),
                deadline,
                timeout=self.timeout,
                max_retries=self.max_retries,
            )

    def client(self, http: httpx2.Client) -> Any:
        """The SDK's client on our HTTP client, its own retries off."""
        raise NotImplementedError

    def send(self, client: Any, request: ChatRequest, timeout: httpx2.Timeout) -> ChatResponse:
        """One HTTP request for one model turn."""
        raise NotImplementedError


def with_retries(
    sdk: ModuleType,
    send: Callable[[httpx2.Timeout], ChatResponse],
    deadline: Deadline,
    *,
    timeout: float,
    max_retries: int,
) -> ChatResponse:
    """Send, retrying as the SDK would, every request and pause ending before the deadline."""
    attempt = 0
    while True:
        remaining = deadline.remaining()
        if remaining <= 0:
            raise deadline.passed()
        seconds = min(timeout, remaining)
        failure: Exception
        try:
            with _unreadable_answers():
                return send(_timeout(seconds))
        except sdk.APIConnectionError as exc:  # timeouts included
            if deadline.remaining() <= 0.01:  # the deadline, not the request's own timeout, cut it short
                raise deadline.passed() from exc
            failure = exc
        except sdk.APIStatusError as exc:
            failure = exc
        except sdk.APIError as exc:  # the SDK could not read the answer
            raise ProviderBadResponse("The provider's answer could not be read.") from exc
        wait = _retry_wait(failure, attempt)
        if wait is None or attempt >= max_retries or wait >= deadline.remaining():
            raise translate(sdk, failure) from failure
        time.sleep(wait)
        attempt += 1


def _retry_wait(failure: Exception, attempt: int) -> float | None:
    """Seconds to pause before the next attempt, or None when this failure is not retried."""
    response = getattr(failure, "response", None)
    if response is not None:
        hint = response.headers.get("x-should-retry")
        status = response.status_code
        if hint == "false" or (hint != "true" and status not in _RETRIED_STATUSES and status < 500):
            return None
        after = _retry_after(response.headers)
        if after is not None and after > MAX_RETRY_AFTER_SECONDS:
            return None
        if after is not None and after > 0:
            return after
    backoff = min(INITIAL_BACKOFF_SECONDS * 2.0**attempt, MAX_BACKOFF_SECONDS)
    return backoff * (1 - 0.25 * random.random())


def _retry_after(headers: Any) -> float | None:
    """`retry-after-ms`, then `retry-after` in seconds or as an HTTP date, as both SDKs read them."""
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return float(value) / divisor
        except ValueError:
            continue
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp() - time.time()
    except (TypeError, ValueError, IndexError):
        return None


def translate(sdk: ModuleType, exc: Exception) -> ProviderError:
    """An SDK's exception as the provider error the assistant reports."""
    if isinstance(exc, sdk.AuthenticationError):
        return ProviderAuthFailed("The provider refused the API key.")
    if isinstance(exc, sdk.PermissionDeniedError):
        return ProviderAuthFailed("The provider refused access for this key or model.")
    if isinstance(exc, sdk.RateLimitError):
        return ProviderRateLimited("The provider is rate limiting requests; try again shortly.")
    if isinstance(exc, sdk.APITimeoutError):
        return ProviderTimedOut("The provider did not answer in time.")
    if isinstance(exc, sdk.APIConnectionError):
        return ProviderUnreachable("The provider could not be reached.")
    if isinstance(exc, sdk.APIStatusError):
        return ProviderError(f"The provider answered with an error (HTTP {exc.status_code}).")
    return ProviderBadResponse("The provider's answer could not be read.")


@contextmanager
def _unreadable_answers() -> Iterator[None]:
    try:
        yield
    except (ValueError, TypeError, AttributeError) as exc:
        raise ProviderBadResponse("The provider's answer could not be read.") from exc
