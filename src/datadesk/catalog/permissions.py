"""Reading and setting who holds query and sensitive access on an integration (admins only, audited)."""

from __future__ import annotations

import re

from sqlalchemy import delete, select

from datadesk.access.caller import Caller
from datadesk.access.models import GRANT_KINDS, IntegrationGrant
from datadesk.access.policy import Action, require
from datadesk.catalog.integrations import get_integration
from datadesk.db import StoreSession
from datadesk.errors import Invalid
from datadesk.identity import audit
from datadesk.identity.models import Membership, Role, Team

PRINCIPAL = re.compile(r"^(user|team|role):([A-Za-z0-9_-]{1,64})$")


def read(*, session: StoreSession, caller: Caller, integration_id: str) -> dict[str, list[str]]:
    require(caller, Action.manage_integrations)
    get_integration(session=session, caller=caller, integration_id=integration_id)
    return _current(session, integration_id)


def _current(session: StoreSession, integration_id: str) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {kind: [] for kind in GRANT_KINDS}
    for kind, principal in session.execute(
        select(IntegrationGrant.kind, IntegrationGrant.principal)
        .where(IntegrationGrant.integration_id == integration_id)
        .order_by(IntegrationGrant.principal)
    ):
        result[kind].append(principal)
    return result


def _check(session: StoreSession, principals: list[str]) -> list[str]:
    clean = sorted(set(principals))
    for principal in clean:
        match = PRINCIPAL.match(principal)
        if match is None:
            raise Invalid(f"'{principal}' is not user:<id>, team:<id> or role:<role>.", code="invalid_principal")
        kind, value = match.groups()
        known = {
            "user": lambda v: session.scalar(select(Membership.id).where(Membership.user_id == v)) is not None,
            "team": lambda v: session.scalar(select(Team.id).where(Team.id == v)) is not None,
            "role": lambda v: v in {r.value for r in Role},
        }[kind](value)
        if not known:
            raise Invalid(f"'{principal}' is not a member, Team or role of this workspace.", code="invalid_principal")
    return clean


def replace(
    *, session: StoreSession, caller: Caller, integration_id: str, grants: dict[str, list[str]]
) -> dict[str, list[str]]:
    """Set the principals of each kind given (kinds left out keep theirs)."""
    require(caller, Action.manage_integrations)
    integration = get_integration(session=session, caller=caller, integration_id=integration_id)
    if integration.type == "dbt":
        raise Invalid("dbt integrations hold no data to query.", code="not_queryable")
    before = _current(session, integration_id)
    for kind, principals in grants.items():
        clean = _check(session, principals)
        session.execute(
            delete(IntegrationGrant).where(
                IntegrationGrant.integration_id == integration_id, IntegrationGrant.kind == kind
            )
        )
        for principal in clean:
            session.add(
                IntegrationGrant(
                    workspace_id=caller.workspace_id, integration_id=integration_id, kind=kind, principal=principal
                )
            )
    session.flush()
    after = _current(session, integration_id)
    audit.record(session, caller, "integration.permissions", integration_id, before=before, after=after)
    return after


def grant_admins_query(*, session: StoreSession, caller: Caller, integration_id: str) -> bool:
    """Add role:admin to an integration's query access, audited as any change; dbt holds no data, so False and none."""
    require(caller, Action.manage_integrations)
    integration = get_integration(session=session, caller=caller, integration_id=integration_id)
    if integration.type == "dbt":
        return False
    query = _current(session, integration_id)["query_access"]
    replace(
        session=session, caller=caller, integration_id=integration_id, grants={"query_access": [*query, "role:admin"]}
    )
    return True
