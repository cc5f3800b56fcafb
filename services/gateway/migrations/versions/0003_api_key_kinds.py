"""API key kinds and scopes: department systems and Open311 clients

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 23:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scopes', sa.JSON(), nullable=True))
        batch_op.alter_column('department_code', existing_type=sa.String(length=32),
                              nullable=True)
    # keys issued before scopes existed were department systems' keys: all department scopes
    op.execute(sa.text("UPDATE api_key SET scopes = '[\"assignments\", \"open311\"]' "
                       "WHERE scopes IS NULL"))
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.alter_column('scopes', existing_type=sa.JSON(), nullable=False)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM api_key WHERE department_code IS NULL"))
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.alter_column('department_code', existing_type=sa.String(length=32),
                              nullable=False)
        batch_op.drop_column('scopes')
