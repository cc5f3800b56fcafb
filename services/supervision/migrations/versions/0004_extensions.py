"""extensions (延期): requests and decisions, one per assignment

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 15:40:00
"""
import sqlalchemy as sa
from alembic import op

import shared.types

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('extension',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('ticket_no', sa.String(length=20), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('department_code', sa.String(length=32), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('requested_at', shared.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('requested_by', sa.String(length=50), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('decided_at', shared.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(length=50), nullable=True),
    sa.Column('decision_note', sa.String(length=500), nullable=True),
    sa.Column('old_due', shared.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('new_due', shared.types.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['ticket_no'], ['ticket_state.ticket_no'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('assignment_id')
    )
    with op.batch_alter_table('extension', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_extension_ticket_no'), ['ticket_no'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('extension', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_extension_ticket_no'))
    op.drop_table('extension')
