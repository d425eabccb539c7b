"""indexes: lists walk the catalog in the order they show it

A page of resources by name, by type and name, or by popularity within a type reads an index in that
order and stops at the page's end, instead of reading and sorting every resource of the workspace; by
name and by popularity, only what lists show is indexed (not the dbt faces of a warehouse table).
(workspace_id, type) is a prefix of the second, so its own index goes. The store is then analysed once,
so a store that grew before this revision plans with statistics from the start.

Revision ID: 20261204_0010
Revises: 20261204_0009
Create Date: 2026-12-04 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261204_0010"
down_revision: str | None = "20261204_0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POPULARITY = sa.text("(source_popularity + query_count) DESC")
LISTED = sa.text("sibling_id IS NULL AND deleted_at IS NULL")  # what lists show: live warehouse faces


def upgrade() -> None:
    op.create_index(
        "ix_resource_ws_name",
        "resource",
        ["workspace_id", "qualified_name", "id"],
        sqlite_where=LISTED,
        postgresql_where=LISTED,
    )
    op.create_index("ix_resource_ws_type_name", "resource", ["workspace_id", "type", "qualified_name", "id"])
    op.create_index(
        "ix_resource_ws_type_popularity",
        "resource",
        ["workspace_id", "type", POPULARITY, "qualified_name"],
        sqlite_where=LISTED,
        postgresql_where=LISTED,
    )
    op.drop_index("ix_resource_ws_type", table_name="resource")
    if op.get_bind().dialect.name == "sqlite":
        # Every row, not a sample: sampled, a workspace counts about as many rows as the sample holds, and
        # walking it then looks cheaper than a few hundred key lookups (a tenth of a second at 100,000 resources).
        op.execute("PRAGMA analysis_limit = 0")
    op.execute("ANALYZE")


def downgrade() -> None:
    op.create_index("ix_resource_ws_type", "resource", ["workspace_id", "type"])
    op.drop_index("ix_resource_ws_type_popularity", table_name="resource")
    op.drop_index("ix_resource_ws_type_name", table_name="resource")
    op.drop_index("ix_resource_ws_name", table_name="resource")
