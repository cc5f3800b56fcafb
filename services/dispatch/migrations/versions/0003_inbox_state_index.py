"""index for a department's inbox filtered by state (待签收 / 已签收 lists)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 14:50:00
"""
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_assignment_dept_state_id', 'assignment',
                    ['department_code', 'state', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_assignment_dept_state_id', table_name='assignment')
