"""predictions.abstained: the model's confidence was below its class threshold

Revision ID: 0002_predictions_abstained
Revises: 0001_training_initial
Create Date: 2026-11-25 13:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_predictions_abstained"
down_revision = "0001_training_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("abstained", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.drop_column("abstained")
