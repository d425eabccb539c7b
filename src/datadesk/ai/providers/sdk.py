"""What the OpenAI and Anthropic providers share: their HTTP client, timeouts, retries and error mapping."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

import httpx2

from datadesk.ai.providers.base import (
    ProviderAuthFailed,
    ProviderBadResponse,
    ProviderError,
    ProviderRateLimited,
    ProviderTimedOut,
    ProviderUnreachable,
    WireLog,
)

TIMEOUT_SECONDS = 60.0
MAX_RETRIES = 3  # the SDKs retry 429 and 5xx with backoff, honouring retry-after


def http_client(wire: WireLog, timeout: float) -> httpx2.Client:
    """The SDKs' HTTP client: every request it sends is recorded for the audit log."""
    return httpx2.Client(
        timeout=httpx2.Timeout(timeout, connect=min(10.0, timeout)),
        event_hooks={"request": [wire.on_request], "response": [wire.on_response]},
        follow_redirects=False,
    )


class SdkProvider:
    """A provider reached through an official SDK (both name their errors alike)."""

    name = "sdk"

    def __init__(
        self, *, api_key: str, base_url: str = "", timeout: float | None = None, max_retries: int | None = None
    ) -> None:
        self.api_key = api_key
        self.base_url = base_url or None
        self.timeout = timeout or TIMEOUT_SECONDS
        self.max_retries = MAX_RETRIES if max_retries is None else max_retries


@contextmanager
def translated_errors(sdk: ModuleType) -> Iterator[None]:
    """Turn an SDK's exceptions into the provider errors the assistant reports."""
    try:
        yield
    except sdk.AuthenticationError as exc:
        raise ProviderAuthFailed("The provider refused the API key.") from exc
    except sdk.PermissionDeniedError as exc:
        raise ProviderAuthFailed("The provider refused access for this key or model.") from exc
    except sdk.RateLimitError as exc:
        raise ProviderRateLimited("The provider is rate limiting requests; try again shortly.") from exc
    except sdk.APITimeoutError as exc:
        raise ProviderTimedOut("The provider did not answer in time.") from exc
    except sdk.APIConnectionError as exc:
        raise ProviderUnreachable("The provider could not be reached.") from exc
    except sdk.APIStatusError as exc:
        raise ProviderError(f"The provider answered with an error (HTTP {exc.status_code}).") from exc
    except (ValueError, TypeError, AttributeError) as exc:
        raise ProviderBadResponse("The provider's answer could not be read.") from exc
