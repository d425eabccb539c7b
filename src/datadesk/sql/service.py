"""Running SQL for a person: the two keys, the guard, visible tables, sensitive columns, then the runner.

The same checks, in the same order, serve POST /sql, the assistant's run_sql tool and MCP. Every
attempt is logged, refused ones too; the caller owns the transaction, so refusals are returned in
the Outcome rather than raised, and the log survives them.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import aliased

from datadesk.access import grants
from datadesk.access.caller import Caller
from datadesk.access.policy import Action, require
from datadesk.catalog import siblings
from datadesk.catalog.integrations import get_integration, source_config
from datadesk.catalog.models import Integration, Resource
from datadesk.catalog.service import visible_many
from datadesk.catalog.usage_models import QueryRunResource
from datadesk.connectors.registry import SQL_DIALECTS
from datadesk.db import StoreSession, apart, new_id
from datadesk.errors import DomainError, Forbidden, NotFound
from datadesk.settings import Settings
from datadesk.sql import guard, resolve, runner
from datadesk.sql import settings as sql_settings
from datadesk.sql.checked import Checked, SqlNotAllowed, TableRef
from datadesk.sql.columns import columns_read
from datadesk.sql.engines import SqlError, SqlTimeout
from datadesk.sql.models import QueryRun


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
    types_known: bool = True
    duration_ms: int = 0
    tables: list[str] = field(default_factory=list)  # resource ids read

    @property
    def status(self) -> str:
        if self.error is None:
            return "succeeded"
        return "failed" if isinstance(self.error, SqlError | SqlTimeout) else "refused"


def run(
    *,
    session: StoreSession,
    caller: Caller,
    settings: Settings,
    integration_id: str,
    sql: str,
    limit: int | None = None,
    max_bytes: int | None = None,
    source: str = "api",
) -> Outcome:
    """Check and run one statement for the caller; always logged, never raises a DomainError."""
    outcome = Outcome(integration_id=integration_id, sql=sql)
    started = time.monotonic()
    try:
        _check_and_run(session, caller, settings, outcome, limit, max_bytes)
    except DomainError as exc:
        outcome.error = exc
    outcome.duration_ms = outcome.duration_ms or int((time.monotonic() - started) * 1000)
    # Logged in a short transaction of its own: an ask that ran SQL holds no write lock while it asks on.
    with apart(session) as own:
        _log(own, caller, outcome, source)
    return outcome


def _log(session: StoreSession, caller: Caller, outcome: Outcome, source: str) -> None:
    """The run on the query log, and a count towards the popularity of what it read."""
    # Logged only against an integration of the caller's workspace: an unknown or foreign id leaves no trace.
    logged = session.get(Integration, outcome.integration_id)
    if logged is not None and logged.workspace_id == caller.workspace_id:
        run = QueryRun(
            id=new_id(),
            workspace_id=caller.workspace_id,
            user_id=caller.user_id,
            integration_id=outcome.integration_id,
            sql=outcome.sql[:20000],
            source=source,
            status=outcome.status,
            error_code=outcome.error.code if outcome.error else "",
            duration_ms=outcome.duration_ms,
            row_count=outcome.row_count,
        )
        session.add(run)
        if outcome.error is None and outcome.tables:  # what it read, for usage per table (catalog.usage)
            session.flush()
            session.add_all(
                QueryRunResource(
                    workspace_id=caller.workspace_id,
                    query_run_id=run.id,
                    resource_id=rid,
                    created_at=run.created_at,
                    user_id=run.user_id,
                )
                for rid in outcome.tables
            )
    if outcome.error is None and outcome.tables:
        session.execute(
            update(Resource)
            .where(Resource.id.in_(outcome.tables))
            .values(query_count=Resource.query_count + 1)
            .execution_options(synchronize_session=False)
        )


def _check_and_run(
    session: StoreSession,
    caller: Caller,
    settings: Settings,
    outcome: Outcome,
    limit: int | None,
    max_bytes: int | None,
) -> None:
    require(caller, Action.read_workspace)
    limits = sql_settings.get(session, caller.workspace_id)
    # An unknown integration is a 404 before its grants are asked about; with Run SQL off, nothing is.
    integration = (
        get_integration(session=session, caller=caller, integration_id=outcome.integration_id)
        if limits.run_sql_enabled
        else None
    )
    grants.require_run_sql(session, caller, outcome.integration_id, run_sql_enabled=limits.run_sql_enabled)
    assert integration is not None
    if integration.type not in SQL_DIALECTS:
        raise SqlNotAllowed("This integration holds no data to query.")
    checked = guard.check(outcome.sql, integration.type)
    url = source_config(settings, integration)["url"]  # the source is re-checked as still allowed
    checked, tables, inherited = _resolve_tables(session, caller, integration, url, checked)  # fully qualified now
    _check_columns(session, caller, limits.sensitive_tags, integration.id, checked, tables, inherited)
    outcome.tables = sorted({t.id for t in tables.values()})
    result = runner.run(
        url,
        checked.sql,
        max_rows=_lowered(limits.row_cap, limit),
        max_bytes=_lowered(limits.byte_cap, max_bytes),
        timeout_s=float(limits.timeout_seconds),
    )
    outcome.columns, outcome.rows = result.columns, result.rows
    outcome.row_count, outcome.truncated, outcome.duration_ms = result.row_count, result.truncated, result.duration_ms
    outcome.types_known = result.types_known


def _lowered(cap: int, asked: int | None) -> int:
    """A caller may lower a workspace cap, never raise it."""
    return cap if asked is None else max(1, min(asked, cap))


def _resolve_tables(
    session: StoreSession, caller: Caller, integration: Integration, url: str, checked: Checked
) -> tuple[Checked, dict[TableRef, Resource], dict[TableRef, list[Resource]]]:
    """Each table as the engine resolves it, as a catalog resource the caller can see; NotFound otherwise.

    Returns the statement rewritten to name exactly those tables, fully qualified; each of its
    tables' resource; and the tables the engine reads along with one (PostgreSQL inheritance).
    """
    located = resolve.locate(integration.type, url, checked)
    wanted = list(dict.fromkeys([*located.targets, *(t for ts in located.inherited.values() for t in ts)]))
    matched: dict[resolve.Target, tuple[Resource, str]] = {}
    if wanted:
        candidates = _catalog_tables(session, integration.id, {t.name for t in wanted}, located.fold)
        for target in wanted:
            hits = [
                (table, schema)
                for table, schema in candidates
                if located.same(table.name, target.name) and located.same(schema, target.schema)
            ]
            if len(hits) != 1:
                # Named by nothing: not even the text the caller wrote is echoed back.
                raise NotFound(resolve.NOT_FOUND)
            matched[target] = hits[0]
        ids = [table.id for table, _ in matched.values()]
        if len(visible_many(session, caller, ids)) != len(set(ids)):
            raise NotFound(resolve.NOT_FOUND)
    qualified = resolve.qualify(located, {t: (schema, table.name) for t, (table, schema) in matched.items()})
    return (
        qualified.checked,
        {ref: matched[target][0] for ref, target in qualified.targets.items()},
        {ref: [matched[t][0] for t in located.inherited.get(target, ())] for ref, target in qualified.targets.items()},
    )


def _catalog_tables(
    session: StoreSession, integration_id: str, names: set[str], fold: Callable[[str], str]
) -> list[tuple[Resource, str]]:
    """The integration's tables and views that may carry one of these names, each with its schema's name."""
    # Narrowed in SQL by every spelling the store's lower() could give (ASCII-only on SQLite); the
    # engine's own comparison is applied by the caller.
    spellings = sorted({spelling for name in names for spelling in (name, fold(name), name.lower())})
    schema = aliased(Resource)
    rows = session.execute(
        select(Resource, schema.name)
        .join(schema, schema.id == Resource.parent_id)
        .where(
            Resource.integration_id == integration_id,
            Resource.type.in_(("table", "view")),
            Resource.deleted_at.is_(None),
            schema.type == "schema",
            or_(Resource.name.in_(spellings), func.lower(Resource.name).in_(spellings)),
        )
    )
    return [(table, schema_name) for table, schema_name in rows]


def _check_columns(
    session: StoreSession,
    caller: Caller,
    sensitive_tags: list[str],
    integration_id: str,
    checked: Checked,
    tables: dict[TableRef, Resource],
    inherited: dict[TableRef, list[Resource]],
) -> None:
    """Refuse reading columns the caller cannot see, or sensitive ones without sensitive access.

    A column read from a table is read from the tables that inherit it too, under the same name.
    """
    if not tables:
        return
    family = {ref: [table, *inherited.get(ref, [])] for ref, table in tables.items()}
    table_ids = list(dict.fromkeys(member.id for members in family.values() for member in members))
    columns = session.scalars(
        select(Resource).where(
            Resource.parent_id.in_(table_ids), Resource.type == "column", Resource.deleted_at.is_(None)
        )
    ).all()
    # Keyed by the exact name: `columns_read` answers with the catalog's own spelling, and a
    # case-sensitive engine may hold "Secret" and secret side by side.
    by_table: dict[str, dict[str, Resource]] = defaultdict(dict)
    for column in columns:
        by_table[column.parent_id or ""][column.name] = column
    schema = {ref: list(by_table[t.id]) for ref, t in tables.items()}
    read = columns_read(checked, schema)
    read_columns = [
        by_table[member.id][name]
        for ref, names in read.items()
        for name in names
        for member in family[ref]
        if name in by_table[member.id]
    ]
    ids = [c.id for c in read_columns] + table_ids
    visible = {r.id for r in visible_many(session, caller, [c.id for c in read_columns])}
    if any(c.id not in visible for c in read_columns):
        raise NotFound("A column in this query is not in the catalog, or not visible to you.")
    # The asset's tags: a sensitive tag on the dbt sibling of a column (or table) counts as its own.
    tags = siblings.asset_tags(session, ids)
    sensitive = sorted(
        f"{c.qualified_name.split('.')[-2]}.{c.name}"
        for c in read_columns
        if grants.is_sensitive([*tags.get(c.id, []), *tags.get(c.parent_id or "", [])], sensitive_tags)
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
