"""Domain errors: raised by services, turned into HTTP, HTML or CLI answers in one place."""

from __future__ import annotations


class DomainError(Exception):
    """An expected failure with a stable snake_case code and a human sentence."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    """The contract's error JSON; every door that answers an error in JSON builds it here."""
    return {"error": {"code": code, "message": message}}


class Invalid(DomainError):
    status = 400
    code = "invalid"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    """Not found, or not visible to the caller: the two are never told apart."""

    status = 404
    code = "not_found"

    def __init__(self, message: str = "Not found.", *, code: str | None = None) -> None:
        super().__init__(message, code=code)


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Unprocessable(DomainError):
    status = 422
    code = "validation_error"


class TooLarge(DomainError):
    status = 413
    code = "body_too_large"


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"


class ProviderError(DomainError):
    """The AI provider failed; the subclasses say how."""

    status = 502
    code = "provider_error"


class ProviderAuthFailed(ProviderError):
    code = "provider_auth_failed"


class ProviderRateLimited(ProviderError):
    status = 429
    code = "provider_rate_limited"


class ProviderTimedOut(ProviderError):
    status = 504
    code = "provider_timeout"


class ProviderBadResponse(ProviderError):
    code = "provider_bad_response"


class ProviderUnreachable(ProviderError):
    code = "provider_unreachable"


class InternalError(DomainError):
    """A fault of ours: logged on the server, never described to the client."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str = "Something went wrong on the server; it has been logged.") -> None:
        super().__init__(message)


class StoreBusy(DomainError):
    """The catalog store stayed busy past its bounds (a write lock, the connection pool): worth a retry."""

    status = 503
    code = "store_busy"
    retry_after = 2

    def __init__(
        self, message: str = "The catalog store is busy with other requests; try again in a few seconds."
    ) -> None:
        super().__init__(message)
