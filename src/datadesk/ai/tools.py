"""The assistant's tools: fixed descriptions, run with the caller's own identity and permissions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from datadesk.access import grants
from datadesk.access.caller import Caller
from datadesk.ai import cards, egress
from datadesk.ai.providers.base import ToolCall, ToolSpec
from datadesk.catalog import search as catalog_search
from datadesk.catalog import service as catalog
from datadesk.catalog.models import RESOURCE_TYPES
from datadesk.db import StoreSession
from datadesk.errors import DomainError, NotFound
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
    base = [SEARCH_CATALOG, GET_RESOURCE, LIST_RESOURCES]
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
    "run_sql": _run_sql,
}
