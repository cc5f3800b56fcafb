"""idempotency records of the inbound API (Idempotency-Key per principal)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 23:50:00
"""
import sqlalchemy as sa
from alembic import op

import shared.types  # noqa: F401  (column types used below)

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('idempotency_record',
    sa.Column('principal', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('path', sa.String(length=300), nullable=False),
    sa.Column('status', sa.Integer(), nullable=True),
    sa.Column('response', sa.JSON(), nullable=True),
    sa.Column('created_at', shared.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('principal', 'key')
    )
    with op.batch_alter_table('idempotency_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_idempotency_record_created_at'), ['created_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('idempotency_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_idempotency_record_created_at'))
    op.drop_table('idempotency_record')
