"""Request dependencies: the store session, the settings and the authenticated caller."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from datadesk.access.caller import Caller
from datadesk.db import StoreSession
from datadesk.errors import Unauthorized
from datadesk.identity import service as identity
from datadesk.settings import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[StoreSession]:
    """One session per request, committed before the response is sent, rolled back on error."""
    session: StoreSession = request.app.state.sessions()
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
