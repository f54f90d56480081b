"""one line of history again

Revision ID: 0008
Revises: 0004, 0005, 0006, 0007
Create Date: 2026-11-29 06:52:17.645017
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kizuna.db

revision: str = '0008'
down_revision: str | None = ('0004', '0005', '0006', '0007')
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
