"""urges (催办) and the deadline sweep's bookkeeping on clocks

Clocks created before this revision get no 80 % warning (their warn_at is their deadline)
and are looked at by the next sweep (next_check_at = started_at).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 15:35:00
"""
import sqlalchemy as sa
from alembic import op

import shared.types

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('clock', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sign_warn_at', shared.types.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('handle_warn_at', shared.types.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('next_check_at', shared.types.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('overdue', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index(batch_op.f('ix_clock_next_check_at'), ['next_check_at'], unique=False)
    op.execute("UPDATE clock SET sign_warn_at = sign_due, handle_warn_at = handle_due, "
               "next_check_at = started_at WHERE replied_at IS NULL")
    op.create_table('urge',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('ticket_no', sa.String(length=20), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('department_code', sa.String(length=32), nullable=False),
    sa.Column('clock', sa.String(length=8), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('issued_at', shared.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('issuer', sa.String(length=50), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('auto_key', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['ticket_no'], ['ticket_state.ticket_no'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('auto_key')
    )
    with op.batch_alter_table('urge', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_urge_assignment_id'), ['assignment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_urge_ticket_no'), ['ticket_no'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('urge', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_urge_ticket_no'))
        batch_op.drop_index(batch_op.f('ix_urge_assignment_id'))
    op.drop_table('urge')
    with op.batch_alter_table('clock', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clock_next_check_at'))
        batch_op.drop_column('overdue')
        batch_op.drop_column('next_check_at')
        batch_op.drop_column('handle_warn_at')
        batch_op.drop_column('sign_warn_at')
