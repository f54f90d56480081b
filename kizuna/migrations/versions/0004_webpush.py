"""web push subscriptions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kizuna.db

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('webpush_subscriptions',
    sa.Column('subscription_id', sa.String(length=36), nullable=False),
    sa.Column('endpoint', sa.String(length=2048), nullable=False),
    sa.Column('p256dh', sa.String(length=100), nullable=False),
    sa.Column('auth', sa.String(length=32), nullable=False),
    sa.Column('expires_at', kizuna.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', kizuna.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', kizuna.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_webpush_subscriptions_subscription_id_subscriptions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('subscription_id', name=op.f('pk_webpush_subscriptions'))
    )


def downgrade() -> None:
    op.drop_table('webpush_subscriptions')
