"""Tables' use: samples of the sources' statement counts, the usage they give, and what datadesk's own runs read."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from datadesk.db import Base, WorkspaceScoped, utcnow


class UsageSample(WorkspaceScoped, Base):
    """A table's cumulative count of statements in the source's history, per source user, at one sync.

    The history's counts carry no time (pg_stat_statements counts since its last reset): these samples
    let catalog.usage tell how much a count grew over the last 30 days. At most one a day is kept per
    table and user, and none older than needed (see catalog.usage).
    """

    __tablename__ = "usage_sample"

    resource_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("resource.id", ondelete="CASCADE"), primary_key=True
    )
    user_key: Mapped[str] = mapped_column(String(64), primary_key=True)  # the source's user id; "" when not said
    taken_at: Mapped[datetime] = mapped_column(primary_key=True)
    calls: Mapped[int] = mapped_column(BigInteger)


class ResourceUsage(WorkspaceScoped, Base):
    """A table's use as the source's history told it at the last sync (catalog.usage); no statement text."""

    __tablename__ = "resource_usage"

    resource_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("resource.id", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[str] = mapped_column(String(32))  # pg_stat_statements | performance_schema
    queries: Mapped[int] = mapped_column(BigInteger, default=0)  # statements run from `since` to computed_at
    users: Mapped[int | None] = mapped_column(Integer, default=None)  # distinct users among them; None: not said
    since: Mapped[datetime] = mapped_column()  # what `queries` counts from: 30 days back, or when history begins
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class QueryRunResource(WorkspaceScoped, Base):
    """A table or view a succeeded datadesk query run read: datadesk's own usage counts per table (catalog.usage).

    Datadesk's SQL service writes the rows with each run, copying the run's time and member, so usage is
    counted from this table alone; deleting the run deletes its rows (the foreign key cascades).
    """

    __tablename__ = "query_run_resource"

    query_run_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("query_run.id", ondelete="CASCADE"), primary_key=True
    )
    resource_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("resource.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column()  # the run's
    user_id: Mapped[str | None] = mapped_column(String(32), default=None)  # the run's; None: the server's operator
