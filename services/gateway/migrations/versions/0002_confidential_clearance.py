"""confidential clearance: a per-user flag for agents and dispatchers (涉密)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 20:55:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cleared_confidential', sa.Boolean(),
                                      server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('cleared_confidential')
