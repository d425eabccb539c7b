"""The catalog: search and browse, a resource's page with inline editing, the glossary and documents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from datadesk.access.caller import Caller
from datadesk.access.policy import Action, require
from datadesk.catalog import integrations, lineage_graph, service, usage
from datadesk.catalog import search as catalog_search
from datadesk.catalog.models import RESOURCE_TYPES
from datadesk.db import StoreSession
from datadesk.deps import SessionDep
from datadesk.errors import DomainError, NotFound
from datadesk.identity import service as identity
from datadesk.web import dbt_tests, lineage_columns, lineage_impact, lineage_svg
from datadesk.web.render import is_htmx, render, see_other, split_words
from datadesk.web.session import PageCaller

router = APIRouter()

TYPE_LABELS = {
    "database": "Database",
    "schema": "Schema",
    "table": "Table",
    "view": "View",
    "column": "Column",
    "dashboard": "Dashboard",
    "metric": "Metric",
    "semantic_model": "Semantic model",
    "document": "Document",
    "glossary_term": "Glossary term",
}
EDITABLE = ("description", "definition", "owners", "tags")
PAGE_SIZE = 50
LINEAGE_DEPTHS = 3  # the graph's depth links; the impact view goes further


@dataclass(frozen=True)
class Row:
    """One line of a result list, from a search hit or a listed resource."""

    id: str
    type: str
    name: str
    qualified_name: str
    description: str
    tags: tuple[str, ...] = ()
    popularity: float | None = None
    siblings: tuple[tuple[str, str, str], ...] = ()  # (id, type, qualified name) of the asset's other faces


def _row(detail: service.Detail) -> Row:
    r = detail.resource
    return Row(
        r.id,
        r.type,
        r.name,
        r.qualified_name,
        detail.description or r.definition,
        tuple(detail.asset_tags),
        r.popularity,
        tuple((s.id, s.type, s.qualified_name) for s in detail.siblings),
    )


def _blank(value: str | None) -> str | None:
    return value.strip() or None if value else None


@router.get("/")
def home(
    request: Request,
    session: SessionDep,
    caller: PageCaller,
    q: str = "",
    type: str = "",
    tag: str = "",
    team_id: str = "",
    integration_id: str = "",
    cursor: str = "",
) -> Response:
    kind, tag_, team, source = _blank(type), _blank(tag), _blank(team_id), _blank(integration_id)
    filters = {"type": kind, "tag": tag_, "team_id": team, "integration_id": source}
    query = q.strip()[:200]
    rows: list[Row] = []
    next_cursor = None
    mode = "popular"
    if query:
        mode = "search"
        hits = catalog_search.search(
            session=session,
            caller=caller,
            q=query,
            type=kind,
            tag=tag_,
            team_id=team,
            integration_id=source,
            limit=PAGE_SIZE,
        )
        rows = [
            Row(
                h.id,
                h.type,
                h.name,
                h.qualified_name,
                h.description,
                siblings=tuple((s.id, s.type, s.qualified_name) for s in h.siblings),
            )
            for h in hits
        ]
    elif any(filters.values()):
        mode = "list"
        details, next_cursor = service.list_resources(
            session=session,
            caller=caller,
            type=kind,
            tag=tag_,
            team_id=team,
            integration_id=source,
            limit=PAGE_SIZE,
            cursor=_blank(cursor),
        )
        rows = [_row(d) for d in details]
    else:
        details, _ = service.list_resources(
            session=session, caller=caller, type="table", order_by="popularity", limit=15
        )
        rows = [_row(d) for d in details]
    context = {
        "q": query,
        "filters": filters,
        "rows": rows,
        "mode": mode,
        "next_url": "/?" + urlencode({**{k: v for k, v in filters.items() if v}, "cursor": next_cursor})
        if next_cursor
        else "",
        "types": [(t, TYPE_LABELS[t]) for t in RESOURCE_TYPES],
        "type_labels": TYPE_LABELS,
    }
    if is_htmx(request) and request.headers.get("hx-target") == "results":
        return render(request, "catalog/_results.html", context)
    context["teams"] = [t for t, _ in identity.list_teams(session=session, caller=caller)]
    context["integrations"] = [i for i, _ in integrations.list_integrations(session=session, caller=caller)]
    return render(request, "catalog/home.html", context)


def _lineage_context(session: StoreSession, caller: Caller, resource_id: str, depth: int = 1) -> dict[str, object]:
    """What the lineage section (catalog/_lineage.html) draws: the graph around a resource, `depth` hops each way."""
    depth = max(1, min(depth, LINEAGE_DEPTHS))
    found = lineage_graph.graph(session=session, caller=caller, resource_id=resource_id, depth=depth)
    plan = lineage_svg.layout(found)
    return {
        "lineage": found,
        "lineage_svg": lineage_svg.render(found, plan=plan),
        "lineage_wide": plan.width > lineage_svg.FITS,
        "lineage_depth": depth,
        "lineage_for": resource_id,
        "upstream": [n.resource for n in found.upstream if n.resource is not None],
        "downstream": [n.resource for n in found.downstream if n.resource is not None],
        "type_labels": TYPE_LABELS,
    }


def _resource_context(
    session: StoreSession, caller: Caller, resource_id: str, lineage_depth: int = 1
) -> dict[str, object]:
    detail = service.get_detail(session=session, caller=caller, resource_id=resource_id)
    resource = detail.resource
    lineage = _lineage_context(session, caller, resource.id, lineage_depth)
    team_names = {t.id: t.name for t, _ in identity.list_teams(session=session, caller=caller)}
    parents = service.visible_many(session, caller, [resource.parent_id]) if resource.parent_id else []
    children: list[service.Detail] = []
    if resource.type in ("database", "schema"):
        children, _ = service.list_resources(session=session, caller=caller, parent_id=resource.id, limit=200)
    integration = None
    if resource.integration_id:
        integration = integrations.get_integration(
            session=session, caller=caller, integration_id=resource.integration_id
        )
    return {
        "d": detail,
        "r": resource,
        "parent": parents[0] if parents else None,
        "integration": integration,
        "children": children,
        **lineage,
        "team_names": team_names,
        "usage": usage.shown(session=session, resource=resource),
        "type_labels": TYPE_LABELS,
        "section": {"glossary_term": "glossary", "document": "documents"}.get(resource.type, "catalog"),
        "test_groups": dbt_tests.groups(detail),
        "glossary": [x for x in detail.linked_from if x.type == "glossary_term"],
        "documents": [x for x in detail.linked_from if x.type != "glossary_term"],
    }


def _editor_context(session: StoreSession, caller: Caller, field: str) -> dict[str, object]:
    if field != "owners":
        return {}
    members = [(u.id, u.email) for _, u, _ in identity.list_members(session=session, caller=caller)]
    teams = [(t.id, t.name) for t, _ in identity.list_teams(session=session, caller=caller)]
    return {"members": members, "teams": teams}


def _check_field(field: str, resource_type: str) -> None:
    if field not in EDITABLE or (field == "definition" and resource_type != "glossary_term"):
        raise NotFound()


@router.get("/resources/{resource_id}")
def resource_page(
    request: Request, resource_id: str, session: SessionDep, caller: PageCaller, edit: str = "", lineage_depth: int = 1
) -> Response:
    context = _resource_context(session, caller, resource_id, lineage_depth)
    if edit:
        require(caller, Action.edit_catalog)
        _check_field(edit, context["r"].type)  # type: ignore[attr-defined]
        context.update(_editor_context(session, caller, edit), editing=edit)
    return render(request, "catalog/resource.html", context)


@router.get("/resources/{resource_id}/edit/{field}")
def edit_form(request: Request, resource_id: str, field: str, session: SessionDep, caller: PageCaller) -> Response:
    """The inline editor of one field (htmx), or the resource page with it open."""
    require(caller, Action.edit_catalog)
    if not is_htmx(request):
        return see_other(request, f"/resources/{resource_id}?edit={field}#f-{field}")
    context = _resource_context(session, caller, resource_id)
    _check_field(field, context["r"].type)  # type: ignore[attr-defined]
    context.update(_editor_context(session, caller, field), editing=field, field=field)
    return render(request, "catalog/_field.html", context)


@router.get("/resources/{resource_id}/field/{field}")
def field_view(request: Request, resource_id: str, field: str, session: SessionDep, caller: PageCaller) -> Response:
    """One field as shown (htmx: the editor's Cancel)."""
    context = _resource_context(session, caller, resource_id)
    _check_field(field, context["r"].type)  # type: ignore[attr-defined]
    context.update(field=field)
    return render(request, "catalog/_field.html", context)


@router.post("/resources/{resource_id}/edit/{field}")
def save_field(
    request: Request,
    resource_id: str,
    field: str,
    session: SessionDep,
    caller: PageCaller,
    text: Annotated[str, Form(max_length=100_000)] = "",
    owner: Annotated[list[str] | None, Form()] = None,
) -> Response:
    if field not in EDITABLE:
        raise NotFound()
    changes = service.Changes()
    if field == "description":
        changes.description = text
    elif field == "definition":
        changes.definition = text
    elif field == "tags":
        changes.tags = split_words(text)
    else:
        picked = [tuple(o.split(":", 1)) for o in owner or [] if ":" in o]
        changes.owners = [(kind, owner_id) for kind, owner_id in picked]
    service.update(session=session, caller=caller, resource_id=resource_id, changes=changes)
    if not is_htmx(request):
        return see_other(request, f"/resources/{resource_id}#f-{field}")
    context = _resource_context(session, caller, resource_id)
    context.update(field=field, saved=True)
    return render(request, "catalog/_field.html", context)


# --- lineage: the graph's depth, column lineage, impact ---------------------------------------


@router.get("/resources/{resource_id}/lineage")
def lineage_section(
    request: Request, resource_id: str, session: SessionDep, caller: PageCaller, depth: int = 1
) -> Response:
    """The lineage section at another depth (htmx), or the resource page showing it."""
    if not is_htmx(request):
        return see_other(request, f"/resources/{resource_id}?lineage_depth={depth}#lineage")
    return render(request, "catalog/_lineage.html", _lineage_context(session, caller, resource_id, depth))


@router.get("/resources/{resource_id}/lineage/columns")
def lineage_columns_view(request: Request, resource_id: str, session: SessionDep, caller: PageCaller) -> Response:
    """Where each column of a table comes from (htmx, when the section's Columns opens), or a page of it."""
    cols = lineage_columns.table_columns(session=session, caller=caller, resource_id=resource_id)
    context = {"cols": cols, "lineage_for": resource_id, "node_label": lineage_svg.label}
    template = "catalog/_lineage_columns.html" if is_htmx(request) else "catalog/lineage_columns.html"
    return render(request, template, context)


@router.get("/resources/{resource_id}/impact")
def impact_page(request: Request, resource_id: str, session: SessionDep, caller: PageCaller) -> Response:
    """What depends on a resource, hop by hop, up to lineage_impact.DEPTH hops downstream."""
    found = lineage_impact.impact(session=session, caller=caller, resource_id=resource_id)
    context = {
        "impact": found,
        "depth": lineage_impact.DEPTH,
        "lineage_for": resource_id,
        "node_label": lineage_svg.label,
        "type_labels": TYPE_LABELS,
    }
    return render(request, "catalog/impact.html", context)


# --- glossary and documents -------------------------------------------------------------------


KINDS = {
    "glossary": ("glossary_term", "Glossary", "catalog/glossary.html"),
    "documents": ("document", "Documents", "catalog/documents.html"),
}


def _listing(
    request: Request, session: StoreSession, caller: Caller, kind: str, error: str = "", status: int = 200, **form: str
) -> Response:
    type_, title, template = KINDS[kind]
    details, _ = service.list_resources(session=session, caller=caller, type=type_, limit=500)
    teams = [t for t, _ in identity.list_teams(session=session, caller=caller)]
    context = {
        "title": title,
        "items": details,
        "teams": teams,
        "error": error,
        "form": form,
        "type_labels": TYPE_LABELS,
    }
    return render(request, template, context, status=status)


@router.get("/glossary")
def glossary(request: Request, session: SessionDep, caller: PageCaller) -> Response:
    return _listing(request, session, caller, "glossary")


@router.get("/documents")
def documents(request: Request, session: SessionDep, caller: PageCaller) -> Response:
    return _listing(request, session, caller, "documents")


def _create(
    request: Request,
    session: StoreSession,
    caller: Caller,
    kind: str,
    name: str,
    text: str,
    tags: str,
    team_ids: list[str] | None,
) -> Response:
    type_ = KINDS[kind][0]
    term = type_ == "glossary_term"
    try:
        with session.begin_nested():
            detail = service.create(
                session=session,
                caller=caller,
                type=type_,
                name=name.strip(),
                definition=text if term else "",
                description="" if term else text,
                tags=split_words(tags),
                team_ids=team_ids or [],
            )
    except DomainError as exc:
        if exc.status not in (400, 409, 422):
            raise
        return _listing(
            request, session, caller, kind, error=exc.message, status=exc.status, name=name, text=text, tags=tags
        )
    return see_other(request, f"/resources/{detail.resource.id}")


Name = Annotated[str, Form(min_length=1, max_length=500)]
Text = Annotated[str, Form(max_length=100_000)]


@router.post("/glossary")
def create_term(
    request: Request,
    session: SessionDep,
    caller: PageCaller,
    name: Name,
    text: Text = "",
    tags: Text = "",
    team_id: Annotated[list[str] | None, Form()] = None,
) -> Response:
    return _create(request, session, caller, "glossary", name, text, tags, team_id)


@router.post("/documents")
def create_document(
    request: Request,
    session: SessionDep,
    caller: PageCaller,
    name: Name,
    text: Text = "",
    tags: Text = "",
    team_id: Annotated[list[str] | None, Form()] = None,
) -> Response:
    return _create(request, session, caller, "documents", name, text, tags, team_id)
