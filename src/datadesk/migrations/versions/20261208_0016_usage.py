"""usage: tables' use from the sources' statement histories and from datadesk's own query log

`usage_sample` keeps, per table and source user, samples of the cumulative count of statements the
source's history holds (pg_stat_statements counts since its last reset, with no time), so that the
count of the last 30 days is their growth; `resource_usage` holds what the last sync made of them.
`query_run_resource` says which tables and views each succeeded query run read. No statement text
is stored by any of them. New tables only: nothing that others reference is recreated.

Revision ID: 20261208_0016
Revises: 20261208_0015
Create Date: 2026-12-08 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from datadesk.db import UTCDateTime

revision: str = "20261208_0016"
down_revision: str | None = "20261208_0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _scoped(table: str) -> list[sa.Column[str] | sa.ForeignKeyConstraint]:
    return [
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspace.id"], name=op.f(f"fk_{table}_workspace_id_workspace"), ondelete="CASCADE"
        ),
    ]


def _resource_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["resource_id"], ["resource.id"], name=op.f(f"fk_{table}_resource_id_resource"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "usage_sample",
        sa.Column("resource_id", sa.String(length=32), nullable=False),
        sa.Column("user_key", sa.String(length=64), nullable=False),
        sa.Column("taken_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        *_scoped("usage_sample"),
        _resource_fk("usage_sample"),
        sa.PrimaryKeyConstraint("resource_id", "user_key", "taken_at", name=op.f("pk_usage_sample")),
    )
    op.create_index(op.f("ix_usage_sample_workspace_id"), "usage_sample", ["workspace_id"])
    op.create_table(
        "resource_usage",
        sa.Column("resource_id", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("queries", sa.BigInteger(), nullable=False),
        sa.Column("users", sa.Integer(), nullable=True),
        sa.Column("since", UTCDateTime(timezone=True), nullable=False),
        sa.Column("computed_at", UTCDateTime(timezone=True), nullable=False),
        *_scoped("resource_usage"),
        _resource_fk("resource_usage"),
        sa.PrimaryKeyConstraint("resource_id", name=op.f("pk_resource_usage")),
    )
    op.create_index(op.f("ix_resource_usage_workspace_id"), "resource_usage", ["workspace_id"])
    op.create_table(
        "query_run_resource",
        sa.Column("query_run_id", sa.String(length=32), nullable=False),
        sa.Column("resource_id", sa.String(length=32), nullable=False),
        *_scoped("query_run_resource"),
        sa.ForeignKeyConstraint(
            ["query_run_id"],
            ["query_run.id"],
            name=op.f("fk_query_run_resource_query_run_id_query_run"),
            ondelete="CASCADE",
        ),
        _resource_fk("query_run_resource"),
        sa.PrimaryKeyConstraint("query_run_id", "resource_id", name=op.f("pk_query_run_resource")),
    )
    op.create_index(op.f("ix_query_run_resource_workspace_id"), "query_run_resource", ["workspace_id"])
    op.create_index(op.f("ix_query_run_resource_resource_id"), "query_run_resource", ["resource_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_query_run_resource_resource_id"), table_name="query_run_resource")
    op.drop_index(op.f("ix_query_run_resource_workspace_id"), table_name="query_run_resource")
    op.drop_table("query_run_resource")
    op.drop_index(op.f("ix_resource_usage_workspace_id"), table_name="resource_usage")
    op.drop_table("resource_usage")
    op.drop_index(op.f("ix_usage_sample_workspace_id"), table_name="usage_sample")
    op.drop_table("usage_sample")
