"""ai limits: questions per minute, per-person token budget and question deadline are admin settings

Revision ID: 20261204_0008
Revises: 20261204_0007
Create Date: 2026-12-04 19:30:00
"""

from collections.abc import Sequence

revision: str = "20261204_0008"
down_revision: str | None = "20261204_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
