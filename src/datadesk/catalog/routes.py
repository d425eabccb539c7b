"""HTTP routes for integrations, syncs, resources, search and lineage."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from datadesk.catalog import integrations, lineage_graph, permissions, schemas, service, sync, usage
from datadesk.catalog import search as catalog_search
from datadesk.catalog.models import Integration, Resource, SyncRun
from datadesk.deps import CallerDep, SessionDep, SettingsDep

router = APIRouter()


def _integration_out(integration: Integration, team_ids: list[str], secret_key: str) -> schemas.IntegrationOut:
    return schemas.IntegrationOut(
        id=integration.id,
        name=integration.name,
        type=integration.type,
        team_ids=team_ids,
        config=integrations.masked_config(secret_key, integration),
        created_at=integration.created_at,
        last_synced_at=integration.last_synced_at,
        schedule=integration.schedule,
        next_sync_at=integration.next_sync_at,
    )


@router.get("/integrations", tags=["integrations"])
def list_integrations(session: SessionDep, caller: CallerDep, settings: SettingsDep) -> schemas.IntegrationList:
    rows = integrations.list_integrations(session=session, caller=caller)
    return schemas.IntegrationList(integrations=[_integration_out(i, t, settings.secret_key) for i, t in rows])


@router.post("/integrations", status_code=status.HTTP_201_CREATED, tags=["integrations"])
def create_integration(
    body: schemas.IntegrationIn, session: SessionDep, caller: CallerDep, settings: SettingsDep
) -> schemas.IntegrationOut:
    integration = integrations.create_integration(
        session=session,
        caller=caller,
        settings=settings,
        name=body.name,
        type=body.type,
        config=body.config,
        team_ids=body.team_ids,
        schedule=body.schedule,
    )
    if body.grant_admins:  # through the permissions service, so audited as PUT /permissions is, in this transaction
        permissions.grant_admins_query(session=session, caller=caller, integration_id=integration.id)
    return _integration_out(integration, integrations.team_ids_of(session, integration.id), settings.secret_key)


@router.get("/integrations/{integration_id}", tags=["integrations"])
def get_integration(
    integration_id: str, session: SessionDep, caller: CallerDep, settings: SettingsDep
) -> schemas.IntegrationOut:
    integration = integrations.get_integration(session=session, caller=caller, integration_id=integration_id)
    return _integration_out(integration, integrations.team_ids_of(session, integration.id), settings.secret_key)


@router.patch("/integrations/{integration_id}", tags=["integrations"])
def update_integration(
    integration_id: str, body: schemas.IntegrationPatch, session: SessionDep, caller: CallerDep, settings: SettingsDep
) -> schemas.IntegrationOut:
    integration = integrations.update_integration(
        session=session,
        caller=caller,
        settings=settings,
        integration_id=integration_id,
        name=body.name,
        config=body.config,
        team_ids=body.team_ids,
        schedule=body.schedule if "schedule" in body.model_fields_set else integrations.Keep.KEEP,
    )
    return _integration_out(integration, integrations.team_ids_of(session, integration.id), settings.secret_key)


@router.delete("/integrations/{integration_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["integrations"])
def delete_integration(integration_id: str, session: SessionDep, caller: CallerDep, settings: SettingsDep) -> Response:
    integrations.delete_integration(
        session=session, caller=caller, secret_key=settings.secret_key, integration_id=integration_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _run_out(run: SyncRun) -> schemas.SyncRunOut:
    return schemas.SyncRunOut.model_validate(run, from_attributes=True)


@router.post("/integrations/{integration_id}/sync", status_code=status.HTTP_202_ACCEPTED, tags=["integrations"])
def start_sync(integration_id: str, request: Request, session: SessionDep, caller: CallerDep) -> schemas.SyncRunOut:
    run, _ = sync.queue_sync(session, caller, integration_id, trigger="api", defer=request.app.state.defer_sync)
    return _run_out(run)


@router.get("/integrations/{integration_id}/syncs", tags=["integrations"])
def list_syncs(integration_id: str, session: SessionDep, caller: CallerDep) -> schemas.SyncRunList:
    runs = sync.list_runs(session=session, caller=caller, integration_id=integration_id)
    return schemas.SyncRunList(runs=[_run_out(r) for r in runs])


@router.get("/integrations/{integration_id}/syncs/{run_id}", tags=["integrations"])
def get_sync(integration_id: str, run_id: str, session: SessionDep, caller: CallerDep) -> schemas.SyncRunOut:
    return _run_out(sync.get_run(session=session, caller=caller, integration_id=integration_id, run_id=run_id))


def _summary(resource: Resource) -> schemas.ResourceSummary:
    return schemas.ResourceSummary(
        id=resource.id, type=resource.type, name=resource.name, qualified_name=resource.qualified_name
    )


def resource_out(detail: service.Detail) -> schemas.ResourceOut:
    r = detail.resource
    columns = None
    if detail.columns is not None:
        columns = [
            schemas.ColumnOut(
                id=c.id,
                name=c.name,
                data_type=c.data_type,
                description=detail.column_description(c),
                tags=tags,
                is_primary_key=c.is_primary_key,
                references=(c.properties or {}).get("references"),
            )
            for c, tags in detail.columns
        ]
    return schemas.ResourceOut(
        id=r.id,
        type=r.type,
        name=r.name,
        qualified_name=r.qualified_name,
        description=detail.description,
        definition=r.definition,
        owners=[schemas.OwnerOut(kind=o.kind, id=o.id, name=o.name) for o in detail.all_owners],
        tags=detail.asset_tags,
        popularity=r.popularity,
        team_ids=detail.team_ids,
        integration_id=r.integration_id,
        parent_id=r.parent_id,
        updated_at=r.updated_at,
        kind=r.kind,
        source_description=r.source_description,
        data_type=r.data_type,
        row_estimate=r.row_estimate,
        properties={**detail.facts, **(r.properties or {})},
        columns=columns,
        links=[_summary(x) for x in detail.links],
        linked_from=[_summary(x) for x in detail.linked_from],
        siblings=[_summary(x) for x in detail.siblings],
    )


@router.get("/resources", tags=["catalog"])
def list_resources(
    session: SessionDep,
    caller: CallerDep,
    type: str | None = None,
    tag: str | None = None,
    team_id: str | None = None,
    integration_id: str | None = None,
    parent_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> schemas.ResourcePage:
    rows, next_cursor = service.list_resources(
        session=session,
        caller=caller,
        type=type,
        tag=tag,
        team_id=team_id,
        integration_id=integration_id,
        parent_id=parent_id,
        limit=limit,
        cursor=cursor,
    )
    return schemas.ResourcePage(resources=[resource_out(d) for d in rows], next_cursor=next_cursor)


@router.post("/resources", status_code=status.HTTP_201_CREATED, tags=["catalog"])
def create_resource(body: schemas.ResourceIn, session: SessionDep, caller: CallerDep) -> schemas.ResourceOut:
    detail = service.create(
        session=session,
        caller=caller,
        type=body.type,
        name=body.name,
        description=body.description,
        definition=body.definition,
        team_ids=body.team_ids,
        tags=list(body.tags),
        links=body.links,
    )
    return resource_out(detail)


@router.get("/resources/{resource_id}", tags=["catalog"])
def get_resource(resource_id: str, session: SessionDep, caller: CallerDep) -> schemas.ResourceOut:
    detail = service.get_detail(session=session, caller=caller, resource_id=resource_id)
    out = resource_out(detail)
    used = usage.shown(session=session, resource=detail.resource)
    out.usage = schemas.UsageOut(**used.as_dict()) if used is not None else None
    return out


@router.patch("/resources/{resource_id}", tags=["catalog"])
def update_resource(
    resource_id: str, body: schemas.ResourcePatch, session: SessionDep, caller: CallerDep
) -> schemas.ResourceOut:
    changes = service.Changes(
        description=body.description,
        definition=body.definition,
        owners=[(o.kind, o.id) for o in body.owners] if body.owners is not None else None,
        tags=list(body.tags) if body.tags is not None else None,
        team_ids=body.team_ids,
        links=body.links,
    )
    return resource_out(service.update(session=session, caller=caller, resource_id=resource_id, changes=changes))


@router.get("/resources/{resource_id}/lineage", tags=["catalog"])
def get_lineage(
    resource_id: str, session: SessionDep, caller: CallerDep, depth: Annotated[int, Query(ge=1, le=5)] = 1
) -> schemas.Lineage:
    found = lineage_graph.graph(session=session, caller=caller, resource_id=resource_id, depth=depth)
    return schemas.Lineage(
        resource=_summary(found.start),
        upstream=[_node(n) for n in found.upstream],
        downstream=[_node(n) for n in found.downstream],
        edges=[schemas.LineageEdge(from_=e.source, to=e.target, kind=e.kind, depth=e.depth) for e in found.edges],
    )


def _node(node: lineage_graph.Node) -> schemas.LineageNode:
    r = node.resource
    if r is None:
        return schemas.LineageNode(
            id=node.key, type="hidden", name="", qualified_name="", depth=node.depth, hidden=True
        )
    return schemas.LineageNode(id=r.id, type=r.type, name=r.name, qualified_name=r.qualified_name, depth=node.depth)


@router.get("/search", tags=["catalog"])
def search(
    session: SessionDep,
    caller: CallerDep,
    q: Annotated[str, Query(min_length=1, max_length=200)],
    type: str | None = None,
    tag: str | None = None,
    team_id: str | None = None,
    integration_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> schemas.SearchResults:
    hits = catalog_search.search(
        session=session,
        caller=caller,
        q=q,
        type=type,
        tag=tag,
        team_id=team_id,
        integration_id=integration_id,
        limit=limit,
    )
    return schemas.SearchResults(
        results=[
            schemas.SearchHit(
                id=h.id,
                type=h.type,
                name=h.name,
                qualified_name=h.qualified_name,
                description=h.description,
                score=h.score,
                siblings=[
                    schemas.ResourceSummary(id=s.id, type=s.type, name=s.name, qualified_name=s.qualified_name)
                    for s in h.siblings
                ],
            )
            for h in hits
        ]
    )
