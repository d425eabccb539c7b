"""Passwords belong to memberships; login tokens name the memberships their login opened

A password set by one workspace's admin opened every workspace of the account. Each membership now holds
its own password hash: existing memberships take their account's (so nobody is locked out). A login
token records the memberships whose password the login's password also matched: the ones it may switch to.

Revision ID: 20261208_0018
Revises: 20261208_0017
Create Date: 2026-12-08 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261208_0018"
down_revision: str | None = "20261208_0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("membership", sa.Column("password_hash", sa.String(length=200), nullable=True))
    op.create_index("ix_membership_user_id", "membership", ["user_id"])
    op.execute(
        "UPDATE membership SET password_hash ="
        " (SELECT user_account.password_hash FROM user_account WHERE user_account.id = membership.user_id)"
    )
    # ALTER TABLE, not batch mode: rebuilding user_account on SQLite would cascade-delete every membership.
    op.drop_column("user_account", "password_hash")
    op.add_column("api_token", sa.Column("login_memberships", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("api_token", "login_memberships")
    op.add_column("user_account", sa.Column("password_hash", sa.String(length=200), nullable=True))
    # An account takes the password of its oldest membership that has one.
    op.execute(
        "UPDATE user_account SET password_hash = (SELECT membership.password_hash FROM membership"
        " WHERE membership.user_id = user_account.id AND membership.password_hash IS NOT NULL"
        " ORDER BY membership.created_at LIMIT 1)"
    )
    op.drop_index("ix_membership_user_id", table_name="membership")
    op.drop_column("membership", "password_hash")
