"""ai limits: questions per minute, per-person token budget and question deadline are admin settings

Revision ID: 20261204_0008
Revises: 20261204_0007
Create Date: 2026-12-04 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import datadesk.db

revision: str = "20261204_0008"
down_revision: str | None = "20261204_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing workspaces get what the code enforced before: 20 questions a minute, no per-person budget.
    with op.batch_alter_table("ai_settings") as batch:
        batch.add_column(sa.Column("daily_token_budget_per_person", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("questions_per_minute", sa.Integer(), nullable=False, server_default="20"))
        batch.add_column(sa.Column("question_deadline_s", sa.Integer(), nullable=False, server_default="90"))
    op.create_table(
        "question_start",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("at", datadesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_question_start_user_id_user_account"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_question_start_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_question_start")),
    )
    with op.batch_alter_table("question_start") as batch:
        batch.create_index("ix_question_start_user_at", ["workspace_id", "user_id", "at"], unique=False)
        batch.create_index(batch.f("ix_question_start_workspace_id"), ["workspace_id"], unique=False)
    with op.batch_alter_table("llm_call") as batch:
        batch.create_index("ix_llm_call_user_at", ["workspace_id", "user_id", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("llm_call") as batch:
        batch.drop_index("ix_llm_call_user_at")
    op.drop_table("question_start")
    with op.batch_alter_table("ai_settings") as batch:
        batch.drop_column("question_deadline_s")
        batch.drop_column("questions_per_minute")
        batch.drop_column("daily_token_budget_per_person")
