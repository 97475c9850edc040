"""index_binding: the index.db (by UUID, and the roots it scanned) this training.db belongs to;
prediction_runs.owner: 'pid@host' of the process storing a run, so the next predict can remove
a run a killed one left ``running``

Revision ID: 0004_identity_and_owners
Revises: 0003_eval_runs_folder_set
Create Date: 2026-11-29 20:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_identity_and_owners"
down_revision = "0003_eval_runs_folder_set"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "index_binding",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("index_uuid", sa.String(length=36), nullable=False),
        sa.Column("roots", sa.Text(), server_default="[]", nullable=False),
        sa.Column("bound_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("prediction_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("prediction_runs", schema=None) as batch_op:
        batch_op.drop_column("owner")
    op.drop_table("index_binding")
