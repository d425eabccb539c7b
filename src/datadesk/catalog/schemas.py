"""Pydantic shapes of the catalog API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Tag = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_:.-]{0,49}$")
]
IntegrationType = Literal["postgres", "mysql", "sqlite", "duckdb", "dbt"]


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IntegrationIn(In):
    name: Name
    type: IntegrationType
    config: dict[str, str]
    team_ids: list[str] = []
    schedule: str | None = Field(default=None, max_length=100, description="5-field cron expression in UTC.")


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


class Lineage(BaseModel):
    upstream: list[ResourceSummary]
    downstream: list[ResourceSummary]
