"""SQLite storage: ``index.db`` (what is on disk) and ``training.db`` (what was learned)."""

from engine.storage.db import Databases, open_index, open_training  # noqa: F401
