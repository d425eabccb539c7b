"""Integrations, their sync runs, and the catalog's resources with owners, tags, Teams, lineage and links."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from datadesk.connectors import registry
from datadesk.db import Base, WorkspaceScoped, new_id, utcnow

RESOURCE_TYPES = (
    "database",
    "schema",
    "table",
    "view",
    "column",
    "dashboard",
    "metric",  # a dbt metric (its kind: simple, ratio, derived, cumulative, conversion)
    "semantic_model",  # a dbt semantic model: entities, measures and dimensions on one model
    "document",
    "glossary_term",
)
INTEGRATION_TYPES = registry.TYPES


class Integration(WorkspaceScoped, Base):
    __tablename__ = "integration"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(16))
    config_encrypted: Mapped[str] = mapped_column(Text)  # Fernet token of the JSON config
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    last_synced_at: Mapped[datetime | None] = mapped_column(default=None)
    schedule: Mapped[str | None] = mapped_column(String(100), default=None)  # 5-field cron, UTC (jobs.schedules)
    next_sync_at: Mapped[datetime | None] = mapped_column(default=None, index=True)


class IntegrationTeam(WorkspaceScoped, Base):
    __tablename__ = "integration_team"

    integration_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("integration.id", ondelete="CASCADE"), primary_key=True
    )
    # RESTRICT: a Team that still holds integrations cannot vanish and leave them without one.
    team_id: Mapped[str] = mapped_column(String(32), ForeignKey("team.id", ondelete="RESTRICT"), primary_key=True)


class SyncRun(WorkspaceScoped, Base):
    __tablename__ = "sync_run"
    __table_args__ = (
        # At most one queued or running sync per integration, across every process sharing the store.
        Index(
            "uq_sync_run_active",
            "integration_id",
            unique=True,
            sqlite_where=text("status IN ('queued', 'running')"),
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    integration_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("integration.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="queued")
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    requested_by: Mapped[str | None] = mapped_column(String(32), default=None)
    worker: Mapped[str] = mapped_column(String(300), default="")  # host:pid of the process that runs it
    trigger: Mapped[str] = mapped_column(String(16), default="manual", server_default="manual")  # manual, schedule, api
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)


# Live warehouse faces: what a list shows (catalog.service.list_resources), not dbt faces of a listed table.
LISTED = text("sibling_id IS NULL AND deleted_at IS NULL")


class Resource(WorkspaceScoped, Base):
    """One catalog object. Curated fields win over what a sync brings; the source's text is kept apart."""

    __tablename__ = "resource"
    __table_args__ = (
        UniqueConstraint("integration_id", "external_id"),
        # Lists walk these in the order they show and stop at the page's end, instead of sorting the workspace;
        # the partial ones hold only what lists show unless one integration or parent is browsed (see LISTED).
        Index(
            "ix_resource_ws_name", "workspace_id", "qualified_name", "id", sqlite_where=LISTED, postgresql_where=LISTED
        ),
        Index("ix_resource_ws_type_name", "workspace_id", "type", "qualified_name", "id"),
        # A member's page is walked one Team set at a time (catalog.search_index.walkable_scope_keys).
        Index(
            "ix_resource_ws_scope_name",
            "workspace_id",
            "scope_key",
            "qualified_name",
            "id",
            sqlite_where=LISTED,
            postgresql_where=LISTED,
        ),
        Index(
            "ix_resource_ws_scope_type_name",
            "workspace_id",
            "scope_key",
            "type",
            "qualified_name",
            "id",
            sqlite_where=LISTED,
            postgresql_where=LISTED,
        ),
        Index(
            "ix_resource_ws_type_popularity",
            "workspace_id",
            "type",
            text("(source_popularity + query_count) DESC"),
            "qualified_name",
            sqlite_where=LISTED,
            postgresql_where=LISTED,
        ),
        Index("ix_resource_parent", "parent_id"),
        # Partial: most resources have no sibling, and SQLite's statistics would count all the NULLs as one
        # value and judge a full index useless.
        Index(
            "ix_resource_sibling_id",
            "sibling_id",
            sqlite_where=text("sibling_id IS NOT NULL"),
            postgresql_where=text("sibling_id IS NOT NULL"),
        ),
        Index(
            "ix_resource_gate_id",
            "gate_id",
            sqlite_where=text("gate_id IS NOT NULL"),
            postgresql_where=text("gate_id IS NOT NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    type: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(500))
    qualified_name: Mapped[str] = mapped_column(String(1000))
    integration_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("integration.id", ondelete="CASCADE"), default=None
    )
    parent_id: Mapped[str | None] = mapped_column(String(32), default=None)
    external_id: Mapped[str | None] = mapped_column(String(1000), default=None)  # stable key within a source
    kind: Mapped[str] = mapped_column(String(32), default="")  # table/view/materialized_view/model/source/...
    description: Mapped[str] = mapped_column(Text, default="")  # what is shown: curated text, else the source's
    source_description: Mapped[str] = mapped_column(Text, default="")
    description_curated: Mapped[bool] = mapped_column(Boolean, default=False)
    definition: Mapped[str] = mapped_column(Text, default="")
    data_type: Mapped[str] = mapped_column(String(200), default="")
    ordinal: Mapped[int] = mapped_column(Integer, default=0)
    is_primary_key: Mapped[bool] = mapped_column(Boolean, default=False)
    row_estimate: Mapped[int | None] = mapped_column(Integer, default=None)
    source_popularity: Mapped[float] = mapped_column(Float, default=0.0)
    query_count: Mapped[int] = mapped_column(Integer, default=0)
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source_tags: Mapped[list[str]] = mapped_column(default=list)
    source_owner: Mapped[str] = mapped_column(String(320), default="")
    tags_curated: Mapped[bool] = mapped_column(Boolean, default=False)
    owners_curated: Mapped[bool] = mapped_column(Boolean, default=False)
    teams_curated: Mapped[bool] = mapped_column(Boolean, default=False)
    # Siblings (catalog.links): a dbt node's warehouse table, a node column's same-named warehouse column.
    sibling_id: Mapped[str | None] = mapped_column(String(32), default=None)
    # Who may see this dbt node or node column must also see this warehouse resource (access.visibility).
    gate_id: Mapped[str | None] = mapped_column(String(32), default=None)
    content_hash: Mapped[str] = mapped_column(String(64), default="")  # of the synced fields, for idempotence
    # Indexed by SQLite FTS5 / a PostgreSQL tsvector (see the migrations): words of the name, the rest of
    # the text, and the Teams that see it, so search narrows by visibility inside the index.
    search_name: Mapped[str] = mapped_column(Text, default="")
    search_body: Mapped[str] = mapped_column(Text, default="")
    search_scope: Mapped[str] = mapped_column(Text, default="")
    scope_key: Mapped[str] = mapped_column(String(16), default="")  # catalog.search_index.scope_key(search_scope)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)

    @property
    def popularity(self) -> float:
        return self.source_popularity + self.query_count


class ResourceTeam(WorkspaceScoped, Base):
    """The Teams that see a resource: its own, else its integration's, else Everyone (kept materialised)."""

    __tablename__ = "resource_team"
    __table_args__ = (Index("ix_resource_team_team", "team_id", "resource_id"),)

    resource_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("resource.id", ondelete="CASCADE"), primary_key=True
    )
    team_id: Mapped[str] = mapped_column(String(32), ForeignKey("team.id", ondelete="RESTRICT"), primary_key=True)


class ResourceTag(WorkspaceScoped, Base):
    __tablename__ = "resource_tag"
    __table_args__ = (Index("ix_resource_tag_tag", "workspace_id", "tag"),)

    resource_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("resource.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(100), primary_key=True)


class ResourceOwner(WorkspaceScoped, Base):
    __tablename__ = "resource_owner"

    resource_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("resource.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # user | team
    owner_id: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)


class Lineage(WorkspaceScoped, Base):
    """upstream feeds downstream."""

    __tablename__ = "lineage"

    upstream_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("resource.id", ondelete="CASCADE"), primary_key=True
    )
    downstream_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("resource.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    origin: Mapped[str] = mapped_column(String(16), default="sync")  # sync | dbt_link | curated
    # value: an asset reads another, or a column is computed from another | filter: a column deciding which
    # rows a table holds (its downstream is that table); see connectors.lineage.
    kind: Mapped[str] = mapped_column(String(8), default="value", server_default="value")


class SearchTerm(WorkspaceScoped, Base):
    """Words seen in a workspace's index, to correct typos in queries."""

    __tablename__ = "search_term"

    term: Mapped[str] = mapped_column(String(100), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )


class ResourceLink(WorkspaceScoped, Base):
    """A glossary term or document pointing at the resources it is about."""

    __tablename__ = "resource_link"

    source_id: Mapped[str] = mapped_column(String(32), ForeignKey("resource.id", ondelete="CASCADE"), primary_key=True)
    target_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("resource.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ResourceEmbedding(WorkspaceScoped, Base):
    """A resource's card text as a vector, for semantic retrieval (catalog.semantic); metadata only."""

    __tablename__ = "resource_embedding"
    # count(*) and max(updated_at) of a workspace from the index alone: the stamp of its cached matrix.
    __table_args__ = (Index("ix_resource_embedding_ws_updated", "workspace_id", "updated_at"),)

    resource_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("resource.id", ondelete="CASCADE"), primary_key=True
    )
    model_id: Mapped[str] = mapped_column(String(64))
    text_sha256: Mapped[str] = mapped_column(String(64))  # of the text embedded: unchanged cards are not redone
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float16, little-endian
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
