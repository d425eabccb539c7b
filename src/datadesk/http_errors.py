"""Every failure as the contract's error JSON (an HTML page on the web app): one place maps errors to HTTP."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from datadesk.db import is_busy
from datadesk.errors import DomainError, InternalError, StoreBusy, error_body

# The web app's HTML answer for an error on one of its pages, None where the error JSON answers instead.
PageError = Callable[[Request, int, str, str], Response | None]

log = logging.getLogger("datadesk")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


def _describe(errors: list[dict[str, object]]) -> str:
    parts = []
    for error in errors[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")  # type: ignore[attr-defined]
        parts.append(f"{where or 'body'}: {error.get('msg')}")
    return "; ".join(parts) + "."


def _answer(request: Request, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """The web app's HTML error page on its pages, the contract's error JSON everywhere else."""
    page_error: PageError | None = getattr(request.app.state, "page_error", None)
    page = page_error(request, status, code, message) if page_error else None
    if page is None:
        return error_response(status, code, message, headers)
    if headers and page.status_code == status:
        page.headers.update(headers)
    return page


def _store_busy(request: Request, exc: Exception) -> Response:
    """503 with Retry-After: the store stayed busy past its bounds (a write lock, the connection pool)."""
    log.warning("store busy on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    busy = StoreBusy()
    return _answer(request, busy.status, busy.code, busy.message, {"Retry-After": str(busy.retry_after)})


def install(app: FastAPI, page_error: PageError | None = None) -> None:
    """Map every failure to an answer; `page_error` (the web app's) answers those on its pages."""
    app.state.page_error = page_error

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            headers = {"Retry-After": str(retry_after)}
        return _answer(request, exc.status, exc.code, exc.message, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = list(exc.errors())
        if any(e.get("type") == "json_invalid" for e in errors):
            return _answer(request, 400, "invalid_json", "The request body is not valid JSON.")
        return _answer(request, 422, "validation_error", _describe(errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ").capitalize() + "."
        if exc.status_code == 404:
            message = "Not found."
        return _answer(request, exc.status_code, code, message, getattr(exc, "headers", None))

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> Response:
        # PostgreSQL text cannot hold U+0000 (psycopg refuses it before sending): bad input, not a fault.
        if "NUL (0x00)" in str(exc.orig):
            return _answer(request, 400, "invalid_text", "Text may not contain the NUL character (U+0000).")
        return await _unexpected(request, exc)

    @app.exception_handler(OperationalError)
    async def _operational(request: Request, exc: OperationalError) -> Response:
        if is_busy(exc):
            return _store_busy(request, exc)
        return await _unexpected(request, exc)

    @app.exception_handler(PoolTimeout)
    async def _pool_timeout(request: Request, exc: PoolTimeout) -> Response:
        return _store_busy(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        fault = InternalError()
        return _answer(request, fault.status, fault.code, fault.message)
