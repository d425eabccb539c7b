"""Who holds which access on an integration: query access, and sensitive access on top of it."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from datadesk.db import Base, WorkspaceScoped

GRANT_KINDS = ("query_access", "sensitive_access")


class IntegrationGrant(WorkspaceScoped, Base):
    """One principal (user:<id>, team:<id> or role:<role>) holding one kind of access on one integration."""

    __tablename__ = "integration_grant"

    integration_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("integration.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    principal: Mapped[str] = mapped_column(String(80), primary_key=True)
