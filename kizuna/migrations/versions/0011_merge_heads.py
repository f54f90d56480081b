"""Join dispatch and mutual aid into one line of history

Revision ID: 0011
Revises: 0009, 0010
"""

from collections.abc import Sequence

revision: str = "0011"
down_revision: str | Sequence[str] | None = ("0009", "0010")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
