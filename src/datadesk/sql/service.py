"""Running SQL for a person: the two keys, the guard, visible tables, sensitive columns, then the runner.

The same checks, in the same order, serve POST /sql, the assistant's run_sql tool and MCP. Every
attempt is logged, refused ones too; the caller owns the transaction, so refusals are returned in
the Outcome rather than raised, and the log survives them.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url

from datadesk.access import grants
from datadesk.access.caller import Caller
from datadesk.access.policy import Action, require
from datadesk.ai import settings as ai_settings
from datadesk.catalog.integrations import config_of, get_integration
from datadesk.catalog.models import Integration, Resource, ResourceTag
from datadesk.catalog.service import visible_many
from datadesk.db import StoreSession
from datadesk.errors import DomainError, Forbidden, Invalid, NotFound
from datadesk.sql import guard, runner
from datadesk.sql.models import QueryRun

DIALECTS = {"postgres": "postgres", "mysql": "mysql", "sqlite": "sqlite", "duckdb": "duckdb"}
DEFAULT_SCHEMA = {"postgres": "public", "sqlite": "main", "duckdb": "main"}


@dataclass
class Outcome:
    """A run's result, or the refusal or failure that ended it."""

    integration_id: str
    sql: str
    error: DomainError | None = None
    columns: list[dict[str, str]] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    row_count: int = 0
    truncated: bool = False
    duration_ms: int = 0
    tables: list[str] = field(default_factory=list)  # resource ids read

    @property
    def status(self) -> str:
        if self.error is None:
            return "succeeded"
        return "failed" if isinstance(self.error, runner.SqlError | runner.SqlTimeout) else "refused"


def run(
    *,
    session: StoreSession,
    caller: Caller,
    secret_key: str,
    integration_id: str,
    sql: str,
    limit: int | None = None,
    source: str = "api",
) -> Outcome:
    """Check and run one statement for the caller; always logged, never raises a DomainError."""
    outcome = Outcome(integration_id=integration_id, sql=sql)
    started = time.monotonic()
    try:
        _check_and_run(session, caller, secret_key, outcome, limit)
    except DomainError as exc:
        outcome.error = exc
    outcome.duration_ms = outcome.duration_ms or int((time.monotonic() - started) * 1000)
    if not isinstance(outcome.error, NotFound) or session.get(Integration, integration_id) is not None:
        session.add(
            QueryRun(
                workspace_id=caller.workspace_id,
                user_id=caller.user_id,
                integration_id=integration_id,
                sql=sql[:20000],
                source=source,
                status=outcome.status,
                error_code=outcome.error.code if outcome.error else "",
                duration_ms=outcome.duration_ms,
                row_count=outcome.row_count,
            )
        )
    if outcome.error is None and outcome.tables:
        # Runs count towards the popularity of what they read.
        session.execute(
            update(Resource)
            .where(Resource.id.in_(outcome.tables))
            .values(query_count=Resource.query_count + 1)
            .execution_options(synchronize_session=False)
        )
    session.flush()
    return outcome


def _check_and_run(session: StoreSession, caller: Caller, secret_key: str, outcome: Outcome, limit: int | None) -> None:
    require(caller, Action.read_workspace)
    settings = ai_settings.get(session, caller.workspace_id)
    if not settings.run_sql_enabled:
        raise Forbidden("Run SQL is switched off for this workspace.", code="run_sql_disabled")
    integration = get_integration(session=session, caller=caller, integration_id=outcome.integration_id)
    if not grants.can_query(session, caller, integration.id):
        raise Forbidden("You do not hold query access on this integration.", code="no_query_access")
    if integration.type not in DIALECTS:
        raise guard.SqlNotAllowed("This integration holds no data to query.")
    checked = guard.check(outcome.sql, DIALECTS[integration.type])
    url = config_of(secret_key, integration)["url"]
    tables = _resolve_tables(session, caller, integration, url, checked)
    _check_columns(session, caller, settings.sensitive_tags, integration.id, checked, tables)
    outcome.tables = sorted({t.id for t in tables.values()})
    cap = settings.sql_row_cap if limit is None else max(1, min(limit, settings.sql_row_cap))
    result = runner.run(url, checked.sql, max_rows=cap, timeout_s=float(settings.sql_timeout_seconds))
    outcome.columns, outcome.rows = result.columns, result.rows
    outcome.row_count, outcome.truncated, outcome.duration_ms = result.row_count, result.truncated, result.duration_ms


def _default_schema(integration: Integration, url: str) -> str:
    if integration.type == "mysql":
        return make_url(url).database or ""
    return DEFAULT_SCHEMA[integration.type]


def _resolve_tables(
    session: StoreSession, caller: Caller, integration: Integration, url: str, checked: guard.Checked
) -> dict[guard.TableRef, Resource]:
    """Each table the statement reads, as a catalog resource the caller can see; NotFound otherwise."""
    if not checked.tables:
        return {}
    default = _default_schema(integration, url)
    names = sorted({ref.name.lower() for ref in checked.tables})
    candidates = session.scalars(
        select(Resource).where(
            Resource.integration_id == integration.id,
            Resource.type.in_(("table", "view")),
            Resource.deleted_at.is_(None),
            func.lower(Resource.name).in_(names),
        )
    ).all()
    visible = {r.id for r in visible_many(session, caller, [c.id for c in candidates])}
    resolved: dict[guard.TableRef, Resource] = {}
    for ref in checked.tables:
        schema = (ref.schema or default).lower()
        match = next(
            (
                c
                for c in candidates
                if c.name.lower() == ref.name.lower() and c.qualified_name.split(".")[-2].lower() == schema
            ),
            None,
        )
        if match is None or match.id not in visible:
            # Named by nothing: not even the text the caller wrote is echoed back.
            raise NotFound("A table in this query is not in the catalog, or not visible to you.")
        resolved[ref] = match
    return resolved


def _check_columns(
    session: StoreSession,
    caller: Caller,
    sensitive_tags: list[str],
    integration_id: str,
    checked: guard.Checked,
    tables: dict[guard.TableRef, Resource],
) -> None:
    """Refuse reading columns the caller cannot see, or sensitive ones without sensitive access."""
    if not tables:
        return
    table_ids = [t.id for t in tables.values()]
    columns = session.scalars(
        select(Resource).where(
            Resource.parent_id.in_(table_ids), Resource.type == "column", Resource.deleted_at.is_(None)
        )
    ).all()
    by_table: dict[str, dict[str, Resource]] = defaultdict(dict)
    for column in columns:
        by_table[column.parent_id or ""][column.name.lower()] = column
    schema = {ref: [c.name for c in by_table[t.id].values()] for ref, t in tables.items()}
    read = guard.columns_read(checked, schema)
    read_columns = [
        by_table[tables[ref].id][name.lower()]
        for ref, names in read.items()
        for name in names
        if name.lower() in by_table[tables[ref].id]
    ]
    ids = [c.id for c in read_columns] + table_ids
    visible = {r.id for r in visible_many(session, caller, [c.id for c in read_columns])}
    if any(c.id not in visible for c in read_columns):
        raise NotFound("A column in this query is not in the catalog, or not visible to you.")
    tags: dict[str, set[str]] = defaultdict(set)
    for rid, tag in session.execute(
        select(ResourceTag.resource_id, ResourceTag.tag).where(ResourceTag.resource_id.in_(ids))
    ):
        tags[rid].add(tag)
    sensitive = sorted(
        f"{c.qualified_name.split('.')[-2]}.{c.name}"
        for c in read_columns
        if grants.is_sensitive(tags[c.id] | tags[c.parent_id or ""], sensitive_tags)
    )
    if sensitive and not grants.can_read_sensitive(session, caller, integration_id):
        raise Forbidden(
            f"These columns are sensitive and you do not hold sensitive access: {', '.join(sensitive)}.",
            code="sensitive_column",
        )


def list_runs(*, session: StoreSession, caller: Caller, limit: int = 100, everyone: bool = False) -> list[QueryRun]:
    """The caller's own query log; admins may ask for everyone's."""
    require(caller, Action.read_workspace)
    if everyone:
        require(caller, Action.read_audit)
    query = select(QueryRun).order_by(QueryRun.created_at.desc()).limit(max(1, min(limit, 1000)))
    if not everyone:
        query = query.where(QueryRun.user_id == caller.user_id)
    return list(session.scalars(query))


def check_limit(limit: int | None) -> int | None:
    if limit is not None and limit < 1:
        raise Invalid("limit must be at least 1.", code="invalid_limit")
    return limit
