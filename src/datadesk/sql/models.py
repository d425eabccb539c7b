"""The Run SQL settings of each workspace, and the log of every query run."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from datadesk.db import Base, WorkspaceScoped, new_id, utcnow

DEFAULT_SENSITIVE_TAGS = ["pii", "sensitive", "restricted"]
DEFAULT_ROW_CAP = 1000
DEFAULT_BYTE_CAP = 5_000_000
DEFAULT_TIMEOUT_SECONDS = 30


class SqlSettings(Base):
    """An admin's Run SQL choices for one workspace; Run SQL starts switched off."""

    __tablename__ = "sql_settings"

    workspace_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )
    run_sql_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    row_cap: Mapped[int] = mapped_column(Integer, default=DEFAULT_ROW_CAP)
    byte_cap: Mapped[int] = mapped_column(Integer, default=DEFAULT_BYTE_CAP)
    timeout_seconds: Mapped[int] = mapped_column(Integer, default=DEFAULT_TIMEOUT_SECONDS)
    # Columns (or tables) with one of these tags need sensitive access, and never reach an external provider.
    sensitive_tags: Mapped[list[str]] = mapped_column(default=lambda: list(DEFAULT_SENSITIVE_TAGS))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class QueryRun(WorkspaceScoped, Base):
    __tablename__ = "query_run"
    __table_args__ = (Index("ix_query_run_user", "workspace_id", "user_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str | None] = mapped_column(String(32), default=None)
    integration_id: Mapped[str] = mapped_column(String(32), ForeignKey("integration.id", ondelete="CASCADE"))
    sql: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), default="api")  # api | assistant | mcp
    status: Mapped[str] = mapped_column(String(16))  # succeeded | refused | failed
    error_code: Mapped[str] = mapped_column(String(64), default="")
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    row_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
