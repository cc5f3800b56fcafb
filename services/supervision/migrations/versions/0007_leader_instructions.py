"""leader instructions (领导批示件): instructions, units' shares, feedback, history, urges,
the yearly number sequence

Follows 0006 (督办单, 回头看, linked callers).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 20:30:00
"""
import sqlalchemy as sa
from alembic import op

import shared.types

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

_dt = shared.types.UtcDateTime


def upgrade() -> None:
    op.create_table('instruction_sequence',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('year')
    )
    op.create_table('instruction',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('leader_name', sa.String(length=50), nullable=False),
    sa.Column('leader_level', sa.String(length=20), nullable=False),
    sa.Column('words', sa.Text(), nullable=False),
    sa.Column('source_title', sa.String(length=200), nullable=False),
    sa.Column('source_doc_no', sa.String(length=100), nullable=True),
    sa.Column('received_at', _dt(timezone=True), nullable=False),
    sa.Column('registered_at', _dt(timezone=True), nullable=False),
    sa.Column('registered_by', sa.String(length=50), nullable=False),
    sa.Column('urgent', sa.Boolean(), nullable=False),
    sa.Column('confidential', sa.Boolean(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('classified_kind', sa.String(length=8), nullable=False),
    sa.Column('kind_reason', sa.String(length=500), nullable=True),
    sa.Column('deadline_rule', sa.String(length=64), nullable=False),
    sa.Column('due_override', _dt(timezone=True), nullable=True),
    sa.Column('dispatch_due', _dt(timezone=True), nullable=True),
    sa.Column('dispatched_late', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('completed_at', _dt(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number'),
    sa.UniqueConstraint('year', 'seq', name='uq_instruction_year_seq')
    )
    with op.batch_alter_table('instruction', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_instruction_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_instruction_registered_at'), ['registered_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_instruction_status'), ['status'], unique=False)
    op.create_table('instruction_unit',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('instruction_id', sa.Integer(), nullable=False),
    sa.Column('department_code', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('feedback_due', _dt(timezone=True), nullable=True),
    sa.Column('dispatched_at', _dt(timezone=True), nullable=False),
    sa.Column('submissions', sa.Integer(), nullable=False),
    sa.Column('read_at', _dt(timezone=True), nullable=True),
    sa.Column('approved_at', _dt(timezone=True), nullable=True),
    sa.Column('overdue', sa.Boolean(), nullable=False),
    sa.Column('next_check_at', _dt(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['instruction_id'], ['instruction.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('instruction_id', 'department_code', name='uq_instruction_unit')
    )
    with op.batch_alter_table('instruction_unit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_instruction_unit_department_code'), ['department_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_instruction_unit_instruction_id'), ['instruction_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_instruction_unit_next_check_at'), ['next_check_at'], unique=False)
    op.create_table('instruction_ticket',
    sa.Column('instruction_id', sa.Integer(), nullable=False),
    sa.Column('ticket_no', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['instruction_id'], ['instruction.id'], ),
    sa.PrimaryKeyConstraint('instruction_id', 'ticket_no')
    )
    op.create_table('instruction_feedback',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('instruction_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('department_code', sa.String(length=32), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('submitted_at', _dt(timezone=True), nullable=False),
    sa.Column('submitted_by', sa.String(length=50), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('decided_at', _dt(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(length=50), nullable=True),
    sa.Column('decision_reason', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['instruction_id'], ['instruction.id'], ),
    sa.ForeignKeyConstraint(['unit_id'], ['instruction_unit.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('instruction_feedback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_instruction_feedback_instruction_id'), ['instruction_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_instruction_feedback_unit_id'), ['unit_id'], unique=False)
    op.create_table('instruction_action',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('instruction_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=24), nullable=False),
    sa.Column('at', _dt(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=50), nullable=False),
    sa.Column('department_code', sa.String(length=32), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['instruction_id'], ['instruction.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('instruction_action', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_instruction_action_instruction_id'), ['instruction_id'], unique=False)
    op.create_table('instruction_urge',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('instruction_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('department_code', sa.String(length=32), nullable=False),
    sa.Column('due', _dt(timezone=True), nullable=False),
    sa.Column('issued_at', _dt(timezone=True), nullable=False),
    sa.Column('issuer', sa.String(length=50), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('claim_key', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['instruction_id'], ['instruction.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('claim_key')
    )
    with op.batch_alter_table('instruction_urge', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_instruction_urge_instruction_id'), ['instruction_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('instruction_urge', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_instruction_urge_instruction_id'))
    op.drop_table('instruction_urge')
    with op.batch_alter_table('instruction_action', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_instruction_action_instruction_id'))
    op.drop_table('instruction_action')
    with op.batch_alter_table('instruction_feedback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_instruction_feedback_unit_id'))
        batch_op.drop_index(batch_op.f('ix_instruction_feedback_instruction_id'))
    op.drop_table('instruction_feedback')
    op.drop_table('instruction_ticket')
    with op.batch_alter_table('instruction_unit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_instruction_unit_next_check_at'))
        batch_op.drop_index(batch_op.f('ix_instruction_unit_instruction_id'))
        batch_op.drop_index(batch_op.f('ix_instruction_unit_department_code'))
    op.drop_table('instruction_unit')
    with op.batch_alter_table('instruction', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_instruction_status'))
        batch_op.drop_index(batch_op.f('ix_instruction_registered_at'))
        batch_op.drop_index(batch_op.f('ix_instruction_kind'))
    op.drop_table('instruction')
    op.drop_table('instruction_sequence')
