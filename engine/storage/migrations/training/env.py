"""Alembic environment for training.db: fsorg runs migrations in-process on an open connection."""

from alembic import context

from engine.storage.schema import training_metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=training_metadata,
    render_as_batch=True,  # SQLite alters tables by copying them
)
with context.begin_transaction():
    context.run_migrations()
