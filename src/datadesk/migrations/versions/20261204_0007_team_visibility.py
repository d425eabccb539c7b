"""team visibility: Teams are public or private

Revision ID: 20261204_0007
Revises: 20261204_0006
Create Date: 2026-12-04 19:30:00
"""

from collections.abc import Sequence

revision: str = "20261204_0007"
down_revision: str | None = "20261204_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
