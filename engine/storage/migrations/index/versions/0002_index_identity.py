"""index identity: a UUID for this index.db and one for each snapshot

training.db records the UUID of the index.db its labels belong to, so labels never attach to
the folders of another library gathered into a recreated index.db (issue 15).

Revision ID: 0002_index_identity
Revises: 0001_index_initial
Create Date: 2026-11-29 20:30:00
"""

import time
import uuid

import sqlalchemy as sa
from alembic import op

revision = "0002_index_identity"
down_revision = "0001_index_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "index_identity",
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("uuid"),
    )
    op.bulk_insert(table, [{"uuid": str(uuid.uuid4()), "created_at": time.time()}])
    with op.batch_alter_table("snapshots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("uuid", sa.String(length=36), nullable=True))
    op.execute("UPDATE snapshots SET uuid = lower(hex(randomblob(16))) WHERE uuid IS NULL")


def downgrade() -> None:
    with op.batch_alter_table("snapshots", schema=None) as batch_op:
        batch_op.drop_column("uuid")
    op.drop_table("index_identity")
