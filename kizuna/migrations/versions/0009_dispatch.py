"""dispatch: responder roster, incidents, dispatches, offers and the incident timeline

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 07:16:29.297920
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kizuna.db

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # ### responder_profiles, incidents, dispatches, dispatch_offers, incident_timeline ###
    op.create_table('incidents',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('municipality_code', sa.String(length=6), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('description', sa.String(length=2000), nullable=False),
    sa.Column('lon', sa.Double(), nullable=False),
    sa.Column('lat', sa.Double(), nullable=False),
    sa.Column('created_by', sa.String(length=36), nullable=False),
    sa.Column('created_at', kizuna.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_incidents_created_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incidents'))
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incidents_municipality_code'), ['municipality_code'], unique=False)

    op.create_table('responder_profiles',
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('unit', sa.String(length=100), nullable=True),
    sa.Column('municipality_code', sa.String(length=6), nullable=False),
    sa.Column('skills', sa.JSON(), nullable=False),
    sa.Column('phone', sa.String(length=50), nullable=True),
    sa.Column('availability', sa.String(length=10), nullable=False),
    sa.Column('availability_until', kizuna.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('lon', sa.Double(), nullable=True),
    sa.Column('lat', sa.Double(), nullable=True),
    sa.Column('located_at', kizuna.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', kizuna.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_responder_profiles_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_responder_profiles'))
    )
    with op.batch_alter_table('responder_profiles', schema=None) as batch_op:
        batch_op.create_index('ix_responder_profiles_lon_lat', ['lon', 'lat'], unique=False)
        batch_op.create_index(batch_op.f('ix_responder_profiles_municipality_code'), ['municipality_code'], unique=False)

    op.create_table('dispatches',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('incident_id', sa.String(length=36), nullable=False),
    sa.Column('needed', sa.Integer(), nullable=False),
    sa.Column('filled', sa.Integer(), nullable=False),
    sa.Column('skills', sa.JSON(), nullable=False),
    sa.Column('responder_kind', sa.String(length=20), nullable=True),
    sa.Column('radius_m', sa.Double(), nullable=False),
    sa.Column('respond_within_s', sa.Integer(), nullable=False),
    sa.Column('escalate_after_s', sa.Integer(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('next_escalation_at', kizuna.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('officer_alerted', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=36), nullable=False),
    sa.Column('created_at', kizuna.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('filled >= 0 AND filled <= needed', name=op.f('ck_dispatches_filled_within_needed')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_dispatches_created_by_users')),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_dispatches_incident_id_incidents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispatches'))
    )
    with op.batch_alter_table('dispatches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dispatches_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index('ix_dispatches_state_next_escalation_at', ['state', 'next_escalation_at'], unique=False)

    op.create_table('incident_timeline',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('incident_id', sa.String(length=36), nullable=False),
    sa.Column('dispatch_id', sa.String(length=36), nullable=True),
    sa.Column('at', kizuna.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=True),
    sa.Column('event', sa.String(length=40), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_timeline_incident_id_incidents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_timeline'))
    )
    with op.batch_alter_table('incident_timeline', schema=None) as batch_op:
        batch_op.create_index('ix_incident_timeline_incident_at', ['incident_id', 'at'], unique=False)

    op.create_table('dispatch_offers',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('dispatch_id', sa.String(length=36), nullable=False),
    sa.Column('responder_id', sa.String(length=36), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('distance_m', sa.Double(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('offered_at', kizuna.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', kizuna.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('responded_at', kizuna.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('eta_min', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=True),
    sa.Column('status_at', kizuna.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['dispatch_id'], ['dispatches.id'], name=op.f('fk_dispatch_offers_dispatch_id_dispatches'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['responder_id'], ['users.id'], name=op.f('fk_dispatch_offers_responder_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispatch_offers')),
    sa.UniqueConstraint('dispatch_id', 'responder_id', name=op.f('uq_dispatch_offers_dispatch_id_responder_id'))
    )
    with op.batch_alter_table('dispatch_offers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dispatch_offers_responder_id'), ['responder_id'], unique=False)
        batch_op.create_index('ix_dispatch_offers_state_expires_at', ['state', 'expires_at'], unique=False)

    # ### end Alembic commands ###


def downgrade() -> None:
    # ### responder_profiles, incidents, dispatches, dispatch_offers, incident_timeline ###
    with op.batch_alter_table('dispatch_offers', schema=None) as batch_op:
        batch_op.drop_index('ix_dispatch_offers_state_expires_at')
        batch_op.drop_index(batch_op.f('ix_dispatch_offers_responder_id'))

    op.drop_table('dispatch_offers')
    with op.batch_alter_table('incident_timeline', schema=None) as batch_op:
        batch_op.drop_index('ix_incident_timeline_incident_at')

    op.drop_table('incident_timeline')
    with op.batch_alter_table('dispatches', schema=None) as batch_op:
        batch_op.drop_index('ix_dispatches_state_next_escalation_at')
        batch_op.drop_index(batch_op.f('ix_dispatches_incident_id'))

    op.drop_table('dispatches')
    with op.batch_alter_table('responder_profiles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_responder_profiles_municipality_code'))
        batch_op.drop_index('ix_responder_profiles_lon_lat')

    op.drop_table('responder_profiles')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incidents_municipality_code'))

    op.drop_table('incidents')
    # ### end Alembic commands ###
