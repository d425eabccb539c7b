"""Pydantic shapes of the catalog API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Tag = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_:.-]{0,49}$")
]
IntegrationType = Literal["postgres", "mysql", "sqlite", "duckdb", "dbt"]  # connectors.registry.TYPES, tested


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IntegrationIn(In):
    name: Name
    type: IntegrationType
    config: dict[str, str]
    team_ids: list[str] = []
    schedule: str | None = Field(default=None, max_length=100, description="5-field cron expression in UTC.")
    grant_admins: bool = Field(
        default=False,
        description="Give role:admin query access on the new integration (not on dbt, which holds no data to query).",
    )


class IntegrationPatch(In):
    name: Name | None = None
    config: dict[str, str] | None = None
    team_ids: list[str] | None = None
    schedule: str | None = Field(
        default=None, max_length=100, description="5-field cron expression in UTC; null clears it; absent keeps it."
    )


class IntegrationOut(BaseModel):
    id: str
    name: str
    type: str
    team_ids: list[str]
    config: dict[str, str] = {}
    created_at: datetime | None = None
    last_synced_at: datetime | None = None
    schedule: str | None = None
    next_sync_at: datetime | None = None


class IntegrationList(BaseModel):
    integrations: list[IntegrationOut]


class SyncRunOut(BaseModel):
    id: str
    integration_id: str
    status: Literal["queued", "running", "succeeded", "failed"]
    stats: dict[str, Any]
    error: str | None
    trigger: Literal["manual", "schedule", "api"]
    worker: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class SyncRunList(BaseModel):
    runs: list[SyncRunOut]


class OwnerRef(In):
    kind: Literal["user", "team"]
    id: str


class OwnerOut(BaseModel):
    kind: Literal["user", "team"]
    id: str
    name: str


class ColumnOut(BaseModel):
    id: str
    name: str
    data_type: str
    description: str
    tags: list[str]
    is_primary_key: bool = False
    references: str | None = None


class ResourceSummary(BaseModel):
    id: str
    type: str
    name: str
    qualified_name: str


class UsageOut(BaseModel):
    """A table's use in the last 30 days: counts only (catalog.usage)."""

    source: str | None  # pg_stat_statements | performance_schema; None when the source's history is not read
    queries_30d: int | None
    users_30d: int | None
    since: datetime | None
    window: str
    datadesk_queries_30d: int
    datadesk_users_30d: int
    note: str = ""


class ResourceOut(BaseModel):
    id: str
    type: str
    name: str
    qualified_name: str
    description: str
    definition: str
    owners: list[OwnerOut]
    tags: list[str]
    popularity: float
    team_ids: list[str]
    integration_id: str | None
    parent_id: str | None
    updated_at: datetime
    kind: str = ""
    source_description: str = ""
    data_type: str = ""
    row_estimate: int | None = None
    properties: dict[str, Any] = {}
    columns: list[ColumnOut] | None = None
    links: list[ResourceSummary] = []
    linked_from: list[ResourceSummary] = []
    # The other faces of this asset: a warehouse table's dbt model/seed/snapshot/source, or a node's table.
    siblings: list[ResourceSummary] = []
    usage: UsageOut | None = None  # tables and views, in GET /resources/{id} only


class ResourcePage(BaseModel):
    resources: list[ResourceOut]
    next_cursor: str | None


class ResourcePatch(In):
    description: Annotated[str, StringConstraints(max_length=100_000)] | None = None
    definition: Annotated[str, StringConstraints(max_length=100_000)] | None = None
    owners: list[OwnerRef] | None = Field(default=None, max_length=50)
    tags: list[Tag] | None = Field(default=None, max_length=50)
    team_ids: list[str] | None = Field(default=None, max_length=50)
    links: list[str] | None = Field(default=None, max_length=200)


class ResourceIn(In):
    type: Literal["document", "glossary_term"]
    name: Name
    description: Annotated[str, StringConstraints(max_length=100_000)] = ""
    definition: Annotated[str, StringConstraints(max_length=100_000)] = ""
    team_ids: list[str] = Field(default=[], max_length=50)
    tags: list[Tag] = Field(default=[], max_length=50)
    links: list[str] = Field(default=[], max_length=200)


class SearchHit(BaseModel):
    id: str
    type: str
    name: str
    qualified_name: str
    description: str
    score: float
    siblings: list[ResourceSummary] = []


class SearchResults(BaseModel):
    results: list[SearchHit]


class LineageNode(BaseModel):
    """A node of a lineage graph; `hidden`: the caller sees none of it (id "hidden-N", no name or type)."""

    id: str
    type: str
    name: str
    qualified_name: str
    depth: int
    hidden: bool = False


class LineageEdge(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    from_: str = Field(alias="from")
    to: str
    kind: str  # value | filter
    depth: int


class Lineage(BaseModel):
    resource: ResourceSummary
    upstream: list[LineageNode]
    downstream: list[LineageNode]
    edges: list[LineageEdge]
