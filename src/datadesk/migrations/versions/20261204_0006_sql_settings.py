"""sql settings: the Run SQL switch, caps, time limit and sensitive tags move from ai_settings to sql_settings

Revision ID: 20261204_0006
Revises: 20261127_0005
Create Date: 2026-12-04 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import datadesk.db

revision: str = "20261204_0006"
down_revision: str | None = "20261127_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MOVED = ("run_sql_enabled", "sql_row_cap", "sql_timeout_seconds", "sensitive_tags")


def upgrade() -> None:
    op.create_table(
        "sql_settings",
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("run_sql_enabled", sa.Boolean(), nullable=False),
        sa.Column("row_cap", sa.Integer(), nullable=False),
        sa.Column("byte_cap", sa.Integer(), nullable=False),
        sa.Column("timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("sensitive_tags", sa.JSON(), nullable=False),
        sa.Column("updated_at", datadesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspace.id"], name=op.f("fk_sql_settings_workspace_id_workspace"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_sql_settings")),
    )
    op.execute(
        "INSERT INTO sql_settings (workspace_id, run_sql_enabled, row_cap, byte_cap, timeout_seconds, sensitive_tags,"
        " updated_at) SELECT workspace_id, run_sql_enabled, sql_row_cap, 5000000, sql_timeout_seconds, sensitive_tags,"
        " updated_at FROM ai_settings"
    )
    with op.batch_alter_table("ai_settings") as batch:
        for name in MOVED:
            batch.drop_column(name)


def downgrade() -> None:
    with op.batch_alter_table("ai_settings") as batch:
        batch.add_column(sa.Column("run_sql_enabled", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("sql_row_cap", sa.Integer(), nullable=False, server_default="1000"))
        batch.add_column(sa.Column("sql_timeout_seconds", sa.Integer(), nullable=False, server_default="30"))
        batch.add_column(sa.Column("sensitive_tags", sa.JSON(), nullable=False, server_default='["pii", "sensitive", "restricted"]'))
    op.execute(
        "UPDATE ai_settings SET run_sql_enabled = (SELECT s.run_sql_enabled FROM sql_settings s"
        " WHERE s.workspace_id = ai_settings.workspace_id), sql_row_cap = (SELECT s.row_cap FROM sql_settings s"
        " WHERE s.workspace_id = ai_settings.workspace_id), sql_timeout_seconds = (SELECT s.timeout_seconds FROM"
        " sql_settings s WHERE s.workspace_id = ai_settings.workspace_id), sensitive_tags = (SELECT s.sensitive_tags"
        " FROM sql_settings s WHERE s.workspace_id = ai_settings.workspace_id)"
        " WHERE EXISTS (SELECT 1 FROM sql_settings s WHERE s.workspace_id = ai_settings.workspace_id)"
    )
    op.drop_table("sql_settings")
