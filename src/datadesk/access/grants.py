"""Integration grants: whether a caller holds query or sensitive access, directly, by Team or by role."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from datadesk.access.caller import Caller
from datadesk.db import StoreSession
from datadesk.sql.models import IntegrationGrant


def principals(caller: Caller) -> set[str]:
    """Every principal string the caller answers to."""
    found = {f"role:{caller.role}"} | {f"team:{t}" for t in caller.team_ids}
    if caller.user_id:
        found.add(f"user:{caller.user_id}")
    return found


def holds(session: StoreSession, caller: Caller, integration_id: str, kind: str) -> bool:
    return (
        session.scalar(
            select(IntegrationGrant.principal)
            .where(
                IntegrationGrant.integration_id == integration_id,
                IntegrationGrant.kind == kind,
                IntegrationGrant.principal.in_(sorted(principals(caller))),
            )
            .limit(1)
        )
        is not None
    )


def can_query(session: StoreSession, caller: Caller, integration_id: str) -> bool:
    return holds(session, caller, integration_id, "query_access")


def can_read_sensitive(session: StoreSession, caller: Caller, integration_id: str) -> bool:
    return holds(session, caller, integration_id, "sensitive_access")


def queryable_integrations(session: StoreSession, caller: Caller) -> list[str]:
    """Ids of the integrations the caller holds query access on."""
    return sorted(
        set(
            session.scalars(
                select(IntegrationGrant.integration_id).where(
                    IntegrationGrant.kind == "query_access",
                    IntegrationGrant.principal.in_(sorted(principals(caller))),
                )
            )
        )
    )


def is_sensitive(tags: Iterable[str], sensitive_tags: Iterable[str]) -> bool:
    """Whether any of a resource's tags is one the workspace calls sensitive."""
    return bool({t.lower() for t in tags} & {t.lower() for t in sensitive_tags})
