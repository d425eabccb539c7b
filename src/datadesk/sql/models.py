"""Who may query an integration, and the log of every query run."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from datadesk.db import Base, WorkspaceScoped, new_id, utcnow

GRANT_KINDS = ("query_access", "sensitive_access")


class IntegrationGrant(WorkspaceScoped, Base):
    """One principal (user:<id>, team:<id> or role:<role>) holding one kind of access on one integration."""

    __tablename__ = "integration_grant"

    integration_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("integration.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    principal: Mapped[str] = mapped_column(String(80), primary_key=True)


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
