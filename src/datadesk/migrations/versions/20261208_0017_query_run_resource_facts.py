"""query_run_resource carries its run's time and member: usage counts without reading the query log

`query_run_resource` is a catalog usage table now (catalog.usage_models): datadesk's SQL service copies
the run's `created_at` and `user_id` into each row it writes, so catalog.usage never joins `query_run`.
Existing rows take them from their run. The foreign key to `query_run` stays: deleting a run deletes its
rows. SQLite adds the columns in place and rebuilds the table once, to make `created_at` NOT NULL.

Revision ID: 20261208_0017
Revises: 20261208_0016
Create Date: 2026-12-08 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from datadesk.db import UTCDateTime

revision: str = "20261208_0017"
down_revision: str | None = "20261208_0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("query_run_resource") as batch:
        batch.add_column(sa.Column("created_at", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("user_id", sa.String(length=32), nullable=True))
    run = "FROM query_run WHERE query_run.id = query_run_resource.query_run_id"
    op.execute(
        "UPDATE query_run_resource SET"
        f" created_at = (SELECT query_run.created_at {run}), user_id = (SELECT query_run.user_id {run})"
    )
    with op.batch_alter_table("query_run_resource") as batch:
        batch.alter_column("created_at", existing_type=UTCDateTime(timezone=True), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("query_run_resource") as batch:
        batch.drop_column("user_id")
        batch.drop_column("created_at")
