"""jma threads and feed memory

Revision ID: 0006
Revises: 0003
Create Date: 2026-11-29 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kizuna.db

revision: str = '0006'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('jma_threads',
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('event_key', sa.String(length=250), nullable=False),
    sa.Column('municipality_code', sa.String(length=6), nullable=False),
    sa.Column('sender', sa.String(length=200), nullable=False),
    sa.Column('identifier', sa.String(length=200), nullable=False),
    sa.Column('sent', kizuna.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('open', sa.Boolean(), nullable=False),
    sa.Column('alert_id', sa.String(length=36), nullable=False),
    sa.Column('updated_at', kizuna.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_jma_threads_alert_id_alerts')),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_jma_threads'))
    )
    with op.batch_alter_table('jma_threads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_jma_threads_event_key'), ['event_key'], unique=False)

    op.create_table('jma_feed_entries',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('entry_id', sa.String(length=500), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('url', sa.String(length=1000), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('seen_at', kizuna.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jma_feed_entries')),
    sa.UniqueConstraint('entry_id', name=op.f('uq_jma_feed_entries_entry_id'))
    )
    op.create_table('jma_feed_state',
    sa.Column('url', sa.String(length=1000), nullable=False),
    sa.Column('etag', sa.String(length=500), nullable=True),
    sa.Column('last_modified', sa.String(length=100), nullable=True),
    sa.Column('checked_at', kizuna.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('url', name=op.f('pk_jma_feed_state'))
    )


def downgrade() -> None:
    op.drop_table('jma_feed_state')
    op.drop_table('jma_feed_entries')
    with op.batch_alter_table('jma_threads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jma_threads_event_key'))

    op.drop_table('jma_threads')
