"""mutual aid: aid_requests, aid_volunteers, aid_rate_windows

Revision ID: 0010
Revises: 0008
Create Date: 2026-11-29 07:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kizuna.db

revision: str = '0010'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('aid_requests',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('description', sa.String(length=2000), nullable=True),
    sa.Column('lon', sa.Double(), nullable=True),
    sa.Column('lat', sa.Double(), nullable=True),
    sa.Column('grid_lon', sa.Double(), nullable=False),
    sa.Column('grid_lat', sa.Double(), nullable=False),
    sa.Column('municipality_code', sa.String(length=6), nullable=True),
    sa.Column('people', sa.Integer(), nullable=False),
    sa.Column('special_care', sa.Boolean(), nullable=False),
    sa.Column('skills', sa.JSON(), nullable=False),
    sa.Column('needed_by', kizuna.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('contact', sa.String(length=300), nullable=True),
    sa.Column('subscription_id', sa.String(length=36), nullable=True),
    sa.Column('created_by', sa.String(length=36), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('hidden', sa.Boolean(), nullable=False),
    sa.Column('volunteer_id', sa.String(length=36), nullable=True),
    sa.Column('claimed_at', kizuna.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('started_at', kizuna.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', kizuna.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('purged_at', kizuna.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', kizuna.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', kizuna.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('people >= 1', name=op.f('ck_aid_requests_people_positive')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_aid_requests_created_by_users')),
    sa.ForeignKeyConstraint(['volunteer_id'], ['users.id'], name=op.f('fk_aid_requests_volunteer_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_aid_requests'))
    )
    with op.batch_alter_table('aid_requests', schema=None) as batch_op:
        batch_op.create_index('ix_aid_requests_state_claimed_at', ['state', 'claimed_at'], unique=False)
        batch_op.create_index('ix_aid_requests_state_grid', ['state', 'grid_lon', 'grid_lat'], unique=False)
        batch_op.create_index(batch_op.f('ix_aid_requests_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_aid_requests_municipality_code'), ['municipality_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_aid_requests_subscription_id'), ['subscription_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_aid_requests_volunteer_id'), ['volunteer_id'], unique=False)

    op.create_table('aid_volunteers',
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('skills', sa.JSON(), nullable=False),
    sa.Column('vehicle', sa.String(length=20), nullable=False),
    sa.Column('lon', sa.Double(), nullable=False),
    sa.Column('lat', sa.Double(), nullable=False),
    sa.Column('radius_m', sa.Double(), nullable=False),
    sa.Column('availability', sa.JSON(), nullable=False),
    sa.Column('max_active', sa.Integer(), nullable=False),
    sa.Column('active', sa.Integer(), nullable=False),
    sa.Column('updated_at', kizuna.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('active >= 0', name=op.f('ck_aid_volunteers_active_not_negative')),
    sa.CheckConstraint('max_active >= 1', name=op.f('ck_aid_volunteers_max_active_positive')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_aid_volunteers_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_aid_volunteers'))
    )

    op.create_table('aid_rate_windows',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('requester_key', sa.String(length=80), nullable=False),
    sa.Column('window_start', kizuna.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_aid_rate_windows')),
    sa.UniqueConstraint('requester_key', 'window_start', name=op.f('uq_aid_rate_windows_requester_key_window_start'))
    )


def downgrade() -> None:
    op.drop_table('aid_rate_windows')
    op.drop_table('aid_volunteers')
    with op.batch_alter_table('aid_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_aid_requests_volunteer_id'))
        batch_op.drop_index(batch_op.f('ix_aid_requests_subscription_id'))
        batch_op.drop_index(batch_op.f('ix_aid_requests_municipality_code'))
        batch_op.drop_index(batch_op.f('ix_aid_requests_created_at'))
        batch_op.drop_index('ix_aid_requests_state_grid')
        batch_op.drop_index('ix_aid_requests_state_claimed_at')
    op.drop_table('aid_requests')
