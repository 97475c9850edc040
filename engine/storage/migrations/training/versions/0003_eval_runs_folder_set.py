"""eval_runs.folder_set: a fingerprint of the folders a run was scored on (like with like)

Revision ID: 0003_eval_runs_folder_set
Revises: 0002_predictions_abstained
Create Date: 2026-11-29 20:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_eval_runs_folder_set"
down_revision = "0002_predictions_abstained"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("eval_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("folder_set", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("eval_runs", schema=None) as batch_op:
        batch_op.drop_column("folder_set")
