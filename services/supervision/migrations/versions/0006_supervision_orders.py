"""督办单 (supervision orders), 回头看 (rechecks), linked callers' callback targets, 问题工单
flags, and the urged department's answer on urges

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 20:18:34
"""
import sqlalchemy as sa
from alembic import op

import shared.types


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('caller_link',
    sa.Column('link_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('ticket_no', sa.String(length=20), nullable=False),
    sa.Column('linked_at', shared.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('caller_name', sa.String(length=50), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=24), nullable=False),
    sa.Column('callback_status', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('reached', sa.Boolean(), nullable=True),
    sa.Column('solved', sa.Boolean(), nullable=True),
    sa.Column('satisfaction', sa.String(length=24), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('called_back_at', shared.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('called_back_by', sa.String(length=50), nullable=True),
    sa.ForeignKeyConstraint(['ticket_no'], ['ticket_state.ticket_no'], ),
    sa.PrimaryKeyConstraint('link_id')
    )
    with op.batch_alter_table('caller_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_caller_link_ticket_no'), ['ticket_no'], unique=False)

    op.create_table('problem_flag',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('ticket_no', sa.String(length=20), nullable=False),
    sa.Column('at', shared.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('transfers', sa.Integer(), nullable=False),
    sa.Column('reopens', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['ticket_no'], ['ticket_state.ticket_no'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('problem_flag', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_problem_flag_ticket_no'), ['ticket_no'], unique=False)

    op.create_table('recheck',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('ticket_no', sa.String(length=20), nullable=False),
    sa.Column('picked_at', shared.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('picked_by', sa.String(length=50), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('finding', sa.String(length=16), nullable=True),
    sa.Column('result_note', sa.String(length=2000), nullable=True),
    sa.Column('recorded_at', shared.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('recorded_by', sa.String(length=50), nullable=True),
    sa.ForeignKeyConstraint(['ticket_no'], ['ticket_state.ticket_no'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('recheck', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recheck_ticket_no'), ['ticket_no'], unique=False)

    op.create_table('supervision_order',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('ticket_no', sa.String(length=20), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=True),
    sa.Column('department_code', sa.String(length=32), nullable=True),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('opened_at', shared.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('opened_by', sa.String(length=50), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('explanation_due', shared.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('escalate_at', shared.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('explanation', sa.String(length=2000), nullable=True),
    sa.Column('explained_at', shared.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('explained_by', sa.String(length=50), nullable=True),
    sa.Column('escalated_at', shared.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', shared.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('auto_key', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['ticket_no'], ['ticket_state.ticket_no'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('auto_key')
    )
    with op.batch_alter_table('supervision_order', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_supervision_order_assignment_id'), ['assignment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_supervision_order_escalate_at'), ['escalate_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_supervision_order_ticket_no'), ['ticket_no'], unique=False)

    with op.batch_alter_table('urge', schema=None) as batch_op:
        batch_op.add_column(sa.Column('answer', sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column('answered_at', shared.types.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('answered_by', sa.String(length=50), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('urge', schema=None) as batch_op:
        batch_op.drop_column('answered_by')
        batch_op.drop_column('answered_at')
        batch_op.drop_column('answer')

    with op.batch_alter_table('supervision_order', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_supervision_order_ticket_no'))
        batch_op.drop_index(batch_op.f('ix_supervision_order_escalate_at'))
        batch_op.drop_index(batch_op.f('ix_supervision_order_assignment_id'))

    op.drop_table('supervision_order')
    with op.batch_alter_table('recheck', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recheck_ticket_no'))

    op.drop_table('recheck')
    with op.batch_alter_table('problem_flag', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_problem_flag_ticket_no'))

    op.drop_table('problem_flag')
    with op.batch_alter_table('caller_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_caller_link_ticket_no'))

    op.drop_table('caller_link')
