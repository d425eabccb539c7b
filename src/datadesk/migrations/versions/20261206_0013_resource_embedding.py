"""resource embedding: a vector per resource card, for semantic retrieval

One row per embedded resource (tables, views, glossary terms, documents, dashboards and described
columns): the model that made it, the hash of the text embedded (so an unchanged card is not embedded
again) and the vector as float16 bytes. Rows go with their resource. Nothing is computed here: the next
sync or edit fills the table, and until then retrieval uses full-text search alone.

Revision ID: 20261206_0013
Revises: 20261205_0012
Create Date: 2026-12-06 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from datadesk.db import UTCDateTime

revision: str = "20261206_0013"
down_revision: str | None = "20261205_0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "resource_embedding",
        sa.Column("resource_id", sa.String(length=32), nullable=False),
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["resource.id"],
            name=op.f("fk_resource_embedding_resource_id_resource"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_resource_embedding_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("resource_id", name=op.f("pk_resource_embedding")),
    )
    op.create_index(op.f("ix_resource_embedding_workspace_id"), "resource_embedding", ["workspace_id"])
    op.create_index("ix_resource_embedding_ws_updated", "resource_embedding", ["workspace_id", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_resource_embedding_ws_updated", table_name="resource_embedding")
    op.drop_index(op.f("ix_resource_embedding_workspace_id"), table_name="resource_embedding")
    op.drop_table("resource_embedding")
