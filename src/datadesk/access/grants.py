"""Integration grants and the two-key rule: whether a caller may run SQL, and read sensitive columns.

Every door (POST /sql, the assistant's run_sql, MCP's run_sql) asks `require_run_sql`; what tools
are offered asks `run_sql_offered`. Nothing else decides it.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from datadesk.access.caller import Caller
from datadesk.access.models import IntegrationGrant
from datadesk.db import StoreSession
from datadesk.errors import Forbidden


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


def require_run_sql(session: StoreSession, caller: Caller, integration_id: str, *, run_sql_enabled: bool) -> None:
    """The two keys: Run SQL switched on by an admin AND the caller's query access on this integration."""
    if not run_sql_enabled:
        raise Forbidden("Run SQL is switched off for this workspace.", code="run_sql_disabled")
    if not can_query(session, caller, integration_id):
        raise Forbidden("You do not hold query access on this integration.", code="no_query_access")


def run_sql_offered(session: StoreSession, caller: Caller, *, run_sql_enabled: bool) -> bool:
    """Whether a run_sql tool is offered at all: Run SQL on and query access on some integration."""
    return run_sql_enabled and bool(queryable_integrations(session, caller))
