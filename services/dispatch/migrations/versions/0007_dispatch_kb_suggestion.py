"""dispatch step 4: a held decision remembers who suggested its lead — the catalogue (派单目录)
or the knowledge base's routing help (派单辅助) — and knowledge's scores and alternatives

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 07:20:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('dispatch_decision', schema=None) as batch_op:
        batch_op.add_column(sa.Column('suggestion_source', sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column('suggestion_detail', sa.JSON(), nullable=True))
    # rounds suggested before Step 4 were the catalogue's
    op.execute("UPDATE dispatch_decision SET suggestion_source = 'catalogue' "
               "WHERE suggested_lead IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('dispatch_decision', schema=None) as batch_op:
        batch_op.drop_column('suggestion_detail')
        batch_op.drop_column('suggestion_source')
