"""Opening the two SQLite databases: WAL, foreign keys, migrations to the current schema.

``open_index(settings)`` / ``open_training(settings)`` return a SQLAlchemy
``Engine``. Every open brings an older database up to the current schema with
Alembic (a database made by an older fsorg keeps working); a database newer than
this fsorg is refused with a message instead of being damaged.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError

from engine.core.jobs import UserError
from engine.core.settings import StorageSettings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The newest revision of each database; bump together with a new migration file.
HEADS = {"index": "0001_index_initial", "training": "0003_eval_runs_folder_set"}


def _on_connect(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(path: Path) -> Engine:
    eng = create_engine(f"sqlite:///{path}", future=True)
    event.listen(eng, "connect", _on_connect)
    return eng


def _current_revision(path: Path) -> str | None:
    if not path.exists():
        return None
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = con.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name='alembic_version'"
        ).fetchone()
        if not row:
            return None
        row = con.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None
    except sqlite3.DatabaseError as e:
        raise UserError(
            f"{path} is not a readable fsorg database ({e}). Move it aside and scan again."
        ) from None
    finally:
        con.close()


def _known_revisions(which: str) -> set[str]:
    return {p.stem for p in (MIGRATIONS / which / "versions").glob("*.py") if p.stem != "__init__"}


def migrate(eng: Engine, path: Path, which: str) -> None:
    """Bring the database at ``path`` to the newest schema (no-op when already there)."""
    current = _current_revision(path)
    if current == HEADS[which]:
        return
    if current is not None and current not in _known_revisions(which):
        raise UserError(
            f"{path} was written by a newer fsorg (schema {current}). "
            "Update fsorg, or point --storage at another folder."
        )
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS / which))
    with eng.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def _open(path: Path, which: str) -> Engine:
    path.parent.mkdir(parents=True, exist_ok=True)
    eng = make_engine(path)
    migrate(eng, path, which)
    return eng


def open_index(settings: StorageSettings) -> Engine:
    return _open(settings.ensure().index_db, "index")


def open_training(settings: StorageSettings) -> Engine:
    return _open(settings.ensure().training_db, "training")


@dataclass
class Databases:
    """Both databases of one data folder."""

    settings: StorageSettings
    index: Engine
    training: Engine

    @classmethod
    def open(cls, settings: StorageSettings) -> "Databases":
        return cls(settings, open_index(settings), open_training(settings))

    def dispose(self) -> None:
        self.index.dispose()
        self.training.dispose()

    def integrity_ok(self) -> bool:
        for eng in (self.index, self.training):
            with eng.connect() as c:
                if c.execute(text("PRAGMA integrity_check")).scalar() != "ok":
                    return False
        return True


def database_busy_error(e: OperationalError, path) -> Exception:
    """A UserError for "database is locked" (another fsorg job writing); other errors unchanged."""
    if "locked" in str(e.orig).lower() or "busy" in str(e.orig).lower():
        return UserError(
            f"{path} is busy: another fsorg job is writing to it. Wait for it to finish and run again."
        )
    return e
