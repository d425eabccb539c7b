"""siblings: dbt nodes and their warehouse tables as siblings

A dbt node (and each of its columns) names its warehouse face in `sibling_id` and the warehouse
resource whose viewers alone may see it in `gate_id`; both are kept by catalog.links.

Revision ID: 20261204_0009
Revises: 20261204_0008
Create Date: 2026-12-04 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261204_0009"
down_revision: str | None = "20261204_0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN on both backends: a batch rebuild of `resource` would drop SQLite's FTS triggers.
    op.add_column("resource", sa.Column("sibling_id", sa.String(length=32), nullable=True))
    op.add_column("resource", sa.Column("gate_id", sa.String(length=32), nullable=True))
    # Partial: most resources have none, and SQLite's statistics would judge a full index useless.
    for column in ("sibling_id", "gate_id"):
        present = sa.text(f"{column} IS NOT NULL")
        op.create_index(f"ix_resource_{column}", "resource", [column], sqlite_where=present, postgresql_where=present)
    # Catalogs synced before this revision: their dbt_link edges say who is whose sibling until the next sync.
    op.execute(
        "UPDATE resource SET sibling_id = (SELECT min(CASE WHEN l.upstream_id = resource.id THEN l.downstream_id"
        " ELSE l.upstream_id END) FROM lineage l WHERE l.origin = 'dbt_link'"
        " AND (l.upstream_id = resource.id OR l.downstream_id = resource.id))"
        " WHERE type IN ('table', 'view') AND deleted_at IS NULL"
        " AND integration_id IN (SELECT id FROM integration WHERE type = 'dbt')"
    )
    op.execute("UPDATE resource SET gate_id = sibling_id WHERE sibling_id IS NOT NULL")
    linked_column = (
        "c.type = 'column' AND c.parent_id IN (SELECT n.id FROM resource n WHERE n.sibling_id IS NOT NULL"
        " AND n.type IN ('table', 'view'))"
    )
    # The same-named warehouse column: spelt exactly alike, else the only one alike ignoring case.
    warehouse_column = (
        "SELECT min(w.id) FROM resource n JOIN resource w ON w.parent_id = n.sibling_id"
        " WHERE n.id = c.parent_id AND w.type = 'column' AND w.deleted_at IS NULL AND {match}"
    )
    op.execute(
        f"UPDATE resource AS c SET sibling_id = ({warehouse_column.format(match='w.name = c.name')})"
        f" WHERE {linked_column}"
    )
    alike = warehouse_column.format(match="lower(w.name) = lower(c.name)") + " HAVING count(*) = 1"
    op.execute(f"UPDATE resource AS c SET sibling_id = ({alike}) WHERE c.sibling_id IS NULL AND {linked_column}")
    op.execute(
        "UPDATE resource AS c SET gate_id = coalesce(c.sibling_id, (SELECT n.sibling_id FROM resource n"
        f" WHERE n.id = c.parent_id)) WHERE {linked_column}"
    )


def downgrade() -> None:
    op.drop_index("ix_resource_gate_id", table_name="resource")
    op.drop_index("ix_resource_sibling_id", table_name="resource")
    op.drop_column("resource", "gate_id")
    op.drop_column("resource", "sibling_id")
