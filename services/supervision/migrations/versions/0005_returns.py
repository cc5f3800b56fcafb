"""returns (退单): requests and the center's adjudication; the return window on clocks

Clocks created before this revision get a closed return window (return_due = started_at).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 15:45:00
"""
import sqlalchemy as sa
from alembic import op

import shared.types

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('clock', schema=None) as batch_op:
        batch_op.add_column(sa.Column('return_due', shared.types.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('stopped_at', shared.types.UtcDateTime(timezone=True), nullable=True))
    op.execute("UPDATE clock SET return_due = started_at")
    op.create_table('return_request',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('ticket_no', sa.String(length=20), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('department_code', sa.String(length=32), nullable=False),
    sa.Column('reason_code', sa.String(length=24), nullable=False),
    sa.Column('basis', sa.String(length=1000), nullable=False),
    sa.Column('requested_at', shared.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('requested_by', sa.String(length=50), nullable=False),
    sa.Column('status_before', sa.String(length=24), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('decided_at', shared.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(length=50), nullable=True),
    sa.Column('decision_note', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['ticket_no'], ['ticket_state.ticket_no'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('return_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_return_request_assignment_id'), ['assignment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_return_request_ticket_no'), ['ticket_no'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('return_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_return_request_ticket_no'))
        batch_op.drop_index(batch_op.f('ix_return_request_assignment_id'))
    op.drop_table('return_request')
    with op.batch_alter_table('clock', schema=None) as batch_op:
        batch_op.drop_column('stopped_at')
        batch_op.drop_column('return_due')
