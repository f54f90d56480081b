"""drop aid_rate_windows: mutual aid counts its requests in the shared rate_windows

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29 09:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kizuna.db

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Counters of the current hour only: nothing worth carrying over.
    op.drop_table("aid_rate_windows")


def downgrade() -> None:
    op.create_table(
        "aid_rate_windows",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("requester_key", sa.String(length=80), nullable=False),
        sa.Column("window_start", kizuna.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aid_rate_windows")),
        sa.UniqueConstraint(
            "requester_key",
            "window_start",
            name=op.f("uq_aid_rate_windows_requester_key_window_start"),
        ),
    )
