"""Request dependencies: the store session, the settings and the authenticated caller."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from datadesk.access.caller import Caller
from datadesk.db import WRITE_LOCK_FIRST, StoreSession
from datadesk.errors import Unauthorized
from datadesk.identity import service as identity
from datadesk.settings import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Writing routes that do slow work before they write (a provider's answer, a query on a source, a connection
# test, a password hash) do not take SQLite's write lock up front: they take it at their first write, at the end.
SLOW_WRITES = frozenset(
    {
        "datadesk.ai.routes:ask",
        "datadesk.web.ai_pages:ask",
        "datadesk.sql.routes:run_sql",
        "datadesk.catalog.routes:create_integration",
        "datadesk.catalog.routes:update_integration",
        "datadesk.web.admin.integrations:create_integration",
        "datadesk.identity.routes:login",
    }
)


def endpoint_name(request: Request) -> str:
    endpoint = getattr(request.scope.get("route"), "endpoint", None)
    return f"{endpoint.__module__}:{endpoint.__qualname__}" if endpoint is not None else ""


def get_session(request: Request) -> Iterator[StoreSession]:
    """One session per request, committed before the response is sent, rolled back on error.

    A request that writes takes SQLite's write lock with its first statement (see db._take_write_lock),
    unless its route is one of SLOW_WRITES.
    """
    session: StoreSession = request.app.state.sessions()
    if request.method in WRITE_METHODS and endpoint_name(request) not in SLOW_WRITES:
        session.info[WRITE_LOCK_FIRST] = True
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


_bearer = HTTPBearer(auto_error=False, description="An API token from POST /auth/login or /auth/tokens.")


def get_caller(
    session: Annotated[StoreSession, Depends(get_session, scope="function")],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """Authenticate the bearer token and seal the request's session to its workspace."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Send Authorization: Bearer <token>.", code="missing_token")
    caller = identity.authenticate(session=session, token=credentials.credentials)
    session.seal(caller.workspace_id)
    return caller


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[StoreSession, Depends(get_session, scope="function")]
CallerDep = Annotated[Caller, Depends(get_caller)]
