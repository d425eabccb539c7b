"""The assistant's tools: fixed descriptions, run with the caller's own identity and permissions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from datadesk.access import grants
from datadesk.access.caller import Caller
from datadesk.ai import cards, egress
from datadesk.ai.providers.base import ToolCall, ToolSpec
from datadesk.catalog import lineage_graph
from datadesk.catalog import search as catalog_search
from datadesk.catalog import service as catalog
from datadesk.catalog.models import RESOURCE_TYPES, Resource
from datadesk.db import StoreSession
from datadesk.errors import DomainError, Invalid, NotFound
from datadesk.identity import service as identity
from datadesk.settings import Settings
from datadesk.sql import service as sql_service

SEARCH_CATALOG = ToolSpec(
    "search_catalog",
    "Search the data catalog (tables, views, columns, glossary terms, documents, dashboards) by words. "
    "Returns matching resources with their metadata.",
    {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "Words to look for."},
            "type": {"type": "string", "enum": list(RESOURCE_TYPES), "description": "Only this type."},
        },
        "required": ["query"],
        "additionalProperties": False,
    },
)
GET_RESOURCE = ToolSpec(
    "get_resource",
    "Get one catalog resource by id: its description, columns, owners, tags and lineage.",
    {
        "type": "object",
        "properties": {"resource_id": {"type": "string"}},
        "required": ["resource_id"],
        "additionalProperties": False,
    },
)
LIST_RESOURCES = ToolSpec(
    "list_resources",
    "List catalog resources by tag, owner (a person's email or a Team's name) or Team, optionally most popular first.",
    {
        "type": "object",
        "properties": {
            "type": {"type": "string", "enum": list(RESOURCE_TYPES)},
            "tag": {"type": "string"},
            "owner": {"type": "string", "description": "An owner's email or a Team's name."},
            "team": {"type": "string", "description": "Only resources this Team sees."},
            "order_by": {"type": "string", "enum": ["name", "popularity"]},
            "limit": {"type": "integer", "minimum": 1, "maximum": 25},
        },
        "additionalProperties": False,
    },
)
GET_LINEAGE = ToolSpec(
    "get_lineage",
    "Get what a table, view, dbt model, dashboard or column is built or computed from (upstream) and what is "
    "built from it (downstream), hop by hop up to `depth` hops. Edges say how: `value` (read or computed from) "
    "or `filter` (a column deciding which rows a table holds); `row_filters` names the columns that filter the "
    "rows of the tables upstream. Steps the person may not see are nodes marked hidden, with no name.",
    {
        "type": "object",
        "properties": {
            "resource_id": {"type": "string", "description": "A resource id (a column's, or its table's)."},
            "column": {"type": "string", "description": "A column of that table to start from, by name."},
            "depth": {"type": "integer", "minimum": 1, "maximum": lineage_graph.MAX_DEPTH},
        },
        "required": ["resource_id"],
        "additionalProperties": False,
    },
)
RUN_SQL = ToolSpec(
    "run_sql",
    "Run one read-only SQL SELECT on an integration (use the integration_id shown on tables). The rows are shown "
    "to the person, not to you: you get the status, the column names and types, whether any rows came back "
    "and whether the result was cut.",
    {
        "type": "object",
        "properties": {"integration_id": {"type": "string"}, "sql": {"type": "string"}},
        "required": ["integration_id", "sql"],
        "additionalProperties": False,
    },
)


MAX_FILTERED_TABLES = 20  # tables whose row filters get_lineage looks up
MAX_FILTERS = 20  # filter columns named per table


@dataclass
class SqlRun:
    """A run_sql call's full result, for the person only (never handed to egress)."""

    integration_id: str
    sql: str
    status: str
    columns: list[dict[str, str]] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    row_count: int = 0
    truncated: bool = False
    error: dict[str, str] | None = None


@dataclass
class ToolContext:
    session: StoreSession
    caller: Caller
    settings: Settings
    policy: egress.Policy
    run_sql_allowed: bool
    sql_runs: list[SqlRun] = field(default_factory=list)


def offered(session: StoreSession, caller: Caller, run_sql_enabled: bool) -> tuple[list[ToolSpec], bool]:
    """The tools offered to the model; run_sql only with Run SQL on and query access somewhere."""
    allowed = grants.run_sql_offered(session, caller, run_sql_enabled=run_sql_enabled)
    base = [SEARCH_CATALOG, GET_RESOURCE, LIST_RESOURCES, GET_LINEAGE]
    return ([*base, RUN_SQL] if allowed else base), allowed


def execute(ctx: ToolContext, call: ToolCall) -> egress.ToolOutput:
    """Run one tool call for the caller; unknown tools and bad arguments become errors the model sees."""
    handler = _HANDLERS.get(call.name)
    if handler is None or (call.name == "run_sql" and not ctx.run_sql_allowed):
        return egress.error_output(f"There is no tool named {call.name!r}.")
    if call.arguments is None:
        return egress.error_output("The arguments were not a JSON object.")
    try:
        return handler(ctx, call.arguments)
    except NotFound:
        return egress.not_found_output()
    except DomainError as exc:
        return egress.error_output(exc.message)
    except (KeyError, TypeError, ValueError):
        return egress.error_output("The arguments do not match the tool's parameters.")


def cards_for(ctx: ToolContext, resources: list[Any], *, with_lineage: bool) -> list[dict[str, Any]]:
    """Allow-listed cards of visible resources (sensitive ones left out for external providers)."""
    return cards.cards(ctx.session, ctx.caller, ctx.policy, resources, lineage=with_lineage)


def _search(ctx: ToolContext, args: dict[str, Any]) -> egress.ToolOutput:
    query = str(args["query"])[:200]
    type_ = args.get("type") or None
    hits = catalog_search.search(session=ctx.session, caller=ctx.caller, q=query, type=type_, limit=10, any_words=True)
    resources = [h.resource for h in hits]
    return egress.cards_output(cards_for(ctx, resources, with_lineage=False), f"search results for {query!r}")


def _get(ctx: ToolContext, args: dict[str, Any]) -> egress.ToolOutput:
    resource = catalog.get_visible(ctx.session, ctx.caller, str(args["resource_id"]))
    cards = cards_for(ctx, [resource], with_lineage=True)
    return egress.cards_output(cards) if cards else egress.not_found_output()


def _lineage(ctx: ToolContext, args: dict[str, Any]) -> egress.ToolOutput:
    depth = args.get("depth", 1)
    if depth is None:
        depth = 1
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= lineage_graph.MAX_DEPTH:
        raise Invalid("depth must be a whole number from one to five.")  # digits would be stripped as literals
    start = catalog.get_visible(ctx.session, ctx.caller, str(args["resource_id"]))
    if args.get("column"):
        start = _column(ctx, start, str(args["column"]))
    found = lineage_graph.graph(session=ctx.session, caller=ctx.caller, resource_id=start.id, depth=depth)
    # Which rows a table holds is decided by filter columns, which no upstream walk reaches (a filter edge
    # ends at a table): they are looked up here and named apart.
    upstream = [found.start, *(n.resource for n in found.upstream if n.resource is not None)]
    # A table's own filters; a column's table's, and those of the tables its value passes through.
    tables = _tables_of(ctx, [r for r in upstream if r is found.start or r.type == "column"])
    filters = _row_filters(ctx, tables)
    named = [r for rs in filters.values() for r in rs if r is not None]
    downstream = [n.resource for n in found.downstream if n.resource is not None]
    resources = list({r.id: r for r in [*upstream, *downstream, *tables, *named]}.values())
    details = catalog.details(ctx.session, ctx.caller, resources, with_columns=False)
    return egress.lineage_output(found, details, ctx.policy, depth, [(t, filters.get(t.id, [])) for t in tables])


def _column(ctx: ToolContext, table: Resource, name: str) -> Resource:
    """The visible column of that name in a table or view (its exact name first, then any case)."""
    if table.type == "column" and table.name.lower() == name.strip().lower():
        return table
    [detail] = catalog.details(ctx.session, ctx.caller, [table])
    columns = [c for c, _ in detail.columns or []]
    found = next((c for c in columns if c.name == name.strip()), None)
    found = found or next((c for c in columns if c.name.lower() == name.strip().lower()), None)
    if found is None:
        raise NotFound("No such column.")
    return found


def _tables_of(ctx: ToolContext, resources: Sequence[Resource]) -> list[Resource]:
    """The tables and views among the resources and the tables of its columns, each once, in order."""
    ids = [r.id if r.type in ("table", "view") else r.parent_id for r in resources if r.type != "dashboard"]
    wanted = list(dict.fromkeys(i for i in ids if i))[:MAX_FILTERED_TABLES]
    return [r for r in catalog.visible_many(ctx.session, ctx.caller, wanted) if r.type in ("table", "view")]


def _row_filters(ctx: ToolContext, tables: Sequence[Resource]) -> dict[str, list[Resource | None]]:
    """Per table, the columns deciding its rows (None: one the caller sees no face of, counted not named)."""
    return lineage_graph.row_filters(ctx.session, ctx.caller, tables, MAX_FILTERS)


def _list(ctx: ToolContext, args: dict[str, Any]) -> egress.ToolOutput:
    owner_ids = None
    if args.get("owner"):
        owner_ids = _principal_ids(ctx, str(args["owner"]))
    team_id = _principal_ids(ctx, str(args["team"]), teams_only=True) if args.get("team") else None
    if team_id == []:
        return egress.cards_output([])
    details, _ = catalog.list_resources(
        session=ctx.session,
        caller=ctx.caller,
        type=args.get("type") or None,
        tag=args.get("tag") or None,
        team_id=team_id[0] if team_id else None,
        owner_ids=owner_ids,
        order_by="popularity" if args.get("order_by") == "popularity" else "name",
        limit=max(1, min(int(args.get("limit") or 25), 25)),
    )
    return egress.cards_output(cards_for(ctx, [d.resource for d in details], with_lineage=False))


def _principal_ids(ctx: ToolContext, text: str, *, teams_only: bool = False) -> list[str]:
    """Members whose email contains the text and Teams named like it."""
    needle = text.strip().lower()
    ids = [t.id for t, _ in identity.list_teams(session=ctx.session, caller=ctx.caller) if needle in t.name.lower()]
    if not teams_only:
        ids += [
            u.id
            for _, u, _ in identity.list_members(session=ctx.session, caller=ctx.caller)
            if needle in u.email.lower()
        ]
    return ids


def _run_sql(ctx: ToolContext, args: dict[str, Any]) -> egress.ToolOutput:
    outcome = sql_service.run(
        session=ctx.session,
        caller=ctx.caller,
        settings=ctx.settings,
        integration_id=str(args["integration_id"]),
        sql=str(args["sql"]),
        source="assistant",
    )
    error = {"code": outcome.error.code, "message": outcome.error.message} if outcome.error else None
    ctx.sql_runs.append(
        SqlRun(
            outcome.integration_id,
            outcome.sql,
            outcome.status,
            outcome.columns,
            outcome.rows,
            outcome.row_count,
            outcome.truncated,
            error,
        )
    )
    return egress.sql_output(
        outcome.status,
        outcome.columns,
        outcome.row_count > 0,
        outcome.truncated,
        outcome.error.code if outcome.error else "",
        types_known=outcome.types_known,
    )


_HANDLERS: dict[str, Callable[[ToolContext, dict[str, Any]], egress.ToolOutput]] = {
    "search_catalog": _search,
    "get_resource": _get,
    "list_resources": _list,
    "get_lineage": _lineage,
    "run_sql": _run_sql,
}
