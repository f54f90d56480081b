"""web push subscriptions of logged-in users

A push subscription now belongs to a resident's subscription or to a user (exactly one), so it
gets an id of its own: rows made before keep their subscription id as their id.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 07:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = 'webpush_subscriptions'


def upgrade() -> None:
    op.add_column(TABLE, sa.Column('id', sa.String(length=36), nullable=True))
    op.execute(f"UPDATE {TABLE} SET id = subscription_id")
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.alter_column('id', existing_type=sa.String(length=36), nullable=False)
        batch_op.drop_constraint(op.f('pk_webpush_subscriptions'), type_='primary')
        batch_op.create_primary_key(op.f('pk_webpush_subscriptions'), ['id'])
        batch_op.alter_column(
            'subscription_id', existing_type=sa.String(length=36), nullable=True
        )
        batch_op.add_column(sa.Column('user_id', sa.String(length=36), nullable=True))
        batch_op.create_foreign_key(
            op.f('fk_webpush_subscriptions_user_id_users'),
            'users',
            ['user_id'],
            ['id'],
            ondelete='CASCADE',
        )
        batch_op.create_unique_constraint(
            op.f('uq_webpush_subscriptions_subscription_id'), ['subscription_id']
        )
        batch_op.create_unique_constraint(op.f('uq_webpush_subscriptions_user_id'), ['user_id'])
        batch_op.create_check_constraint(
            op.f('ck_webpush_subscriptions_one_owner'),
            '(subscription_id IS NULL) <> (user_id IS NULL)',
        )


def downgrade() -> None:
    # Users' push subscriptions have no place in the old table.
    op.execute(f"DELETE FROM {TABLE} WHERE user_id IS NOT NULL")
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_webpush_subscriptions_one_owner'), type_='check')
        batch_op.drop_constraint(op.f('uq_webpush_subscriptions_user_id'), type_='unique')
        batch_op.drop_constraint(
            op.f('uq_webpush_subscriptions_subscription_id'), type_='unique'
        )
        batch_op.drop_constraint(op.f('fk_webpush_subscriptions_user_id_users'), type_='foreignkey')
        batch_op.drop_column('user_id')
        batch_op.drop_constraint(op.f('pk_webpush_subscriptions'), type_='primary')
        batch_op.alter_column(
            'subscription_id', existing_type=sa.String(length=36), nullable=False
        )
        batch_op.create_primary_key(op.f('pk_webpush_subscriptions'), ['subscription_id'])
        batch_op.drop_column('id')
