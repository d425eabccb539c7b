"""What the admin areas share: who may open each one, common form fields, and refusals shown on the form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Form

from datadesk.access.caller import Caller
from datadesk.access.policy import Action, require
from datadesk.db import StoreSession
from datadesk.errors import DomainError
from datadesk.identity.models import Role
from datadesk.web.session import PageCaller

ROLES = [r.value for r in Role]
FORM_ERRORS = (400, 409, 422)


def allowed(action: Action) -> Callable[[Caller], Caller]:
    """A dependency: the signed-in caller, if access.policy lets them do `action`; the 403 page otherwise."""

    def check(caller: PageCaller) -> Caller:
        require(caller, action)
        return caller

    return check


MembersAdmin = Annotated[Caller, Depends(allowed(Action.manage_members))]
TeamsAdmin = Annotated[Caller, Depends(allowed(Action.manage_teams))]
IntegrationsAdmin = Annotated[Caller, Depends(allowed(Action.manage_integrations))]
SettingsAdmin = Annotated[Caller, Depends(allowed(Action.manage_settings))]
AuditReader = Annotated[Caller, Depends(allowed(Action.read_audit))]
Id = Annotated[str, Form(max_length=64)]
Ids = Annotated[list[str] | None, Form()]


def attempt(session: StoreSession, change: Callable[[], Any]) -> str:
    """Run a change; a refusal of the input (not of the person) becomes a message for the form."""
    try:
        with session.begin_nested():
            change()
    except DomainError as exc:
        if exc.status not in FORM_ERRORS:
            raise
        return exc.message
    return ""
