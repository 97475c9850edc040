"""Opening the two SQLite databases: WAL, foreign keys, migrations to the current schema.

``open_index(settings)`` / ``open_training(settings)`` return a SQLAlchemy
``Engine``. Every open brings an older database up to the current schema with
Alembic (a database made by an older fsorg keeps working); a database newer than
this fsorg is refused with a message instead of being damaged.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError

from engine.core.jobs import UserError
from engine.core.settings import StorageSettings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The newest revision of each database; bump together with a new migration file.
HEADS = {"index": "0002_index_identity", "training": "0004_identity_and_owners"}


def _on_connect(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    # The busy timeout first: switching a new file to WAL needs a lock another process may hold.
    cur.execute("PRAGMA busy_timeout=30000")
    set_wal(cur)
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def set_wal(cur, deadline_s: float = 30.0) -> None:
    """WAL mode, retried: two processes opening a brand-new file at once race on the switch,
    and SQLite can answer "database is locked" at once there, without calling the busy handler
    (seen in 1 of 12 runs of two concurrent first imports)."""
    import sqlite3
    import time

    if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    end = time.monotonic() + deadline_s
    delay = 0.02
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e).lower() and "busy" not in str(e).lower() or time.monotonic() > end:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


_WRITE_LOCK = "fsorg_write_lock"


def _on_begin(conn: Connection) -> None:
    """SQLAlchemy's documented pysqlite recipe, applied only to :func:`write_transaction`:
    pysqlite's own lazy BEGIN (sent just before the first INSERT) is switched off for this
    connection and ``BEGIN IMMEDIATE`` takes SQLite's write lock before the first read."""
    if conn.get_execution_options().get(_WRITE_LOCK):
        conn.connection.dbapi_connection.isolation_level = None
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(path: Path) -> Engine:
    eng = create_engine(f"sqlite:///{path}", future=True)
    event.listen(eng, "connect", _on_connect)
    event.listen(eng, "begin", _on_begin)
    return eng


@contextmanager
def write_transaction(eng: Engine) -> Iterator[Connection]:
    """A transaction that holds SQLite's write lock from its first statement.

    Use it wherever a read decides a write (the newest label run, then a new run that carries
    it over): two processes doing that at once are serialised instead of one silently
    overwriting the other's work. Waits up to the busy timeout for another writer.
    """
    with eng.connect() as conn:
        conn.execution_options(**{_WRITE_LOCK: True})
        try:
            with conn.begin():
                yield conn
        finally:
            dbapi = conn.connection.dbapi_connection
            if dbapi is not None and not conn.invalidated:
                dbapi.isolation_level = ""  # back to pysqlite's default for the pooled connection


def _current_revision(path: Path) -> str | None:
    if not path.exists():
        return None
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = con.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name='alembic_version'"
        ).fetchone()
        if not row:
            other = con.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0]
            if other:
                raise _no_version(path)
            return None
        row = con.execute("SELECT version_num FROM alembic_version").fetchone()
        if row is None:
            raise _no_version(path)
        return row[0]
    except sqlite3.DatabaseError as e:
        raise UserError(
            f"{path} is not a readable fsorg database ({e}). Move it aside and scan again."
        ) from None
    finally:
        con.close()


def _no_version(path: Path) -> UserError:
    return UserError(
        f"{path} has tables but no schema version (its alembic_version row is gone): it was damaged or "
        "edited by hand, and fsorg will not guess and write into it. Restore it from a backup, or rename "
        "it aside to start a new one."
    )


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
    # Under SQLite's write lock: two processes opening a fresh data folder at once are serialised,
    # and the second finds the schema already there (Alembic reads the revision inside the lock).
    with write_transaction(eng) as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def _check_writable(path: Path) -> None:
    """fsorg writes to its databases on every command (and SQLite's WAL needs files beside them):
    say so plainly instead of calling a healthy database unreadable."""
    folder = path.parent
    if os.access(folder, os.W_OK) and (not path.exists() or os.access(path, os.W_OK)):
        return
    try:
        read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    why = "is on a read-only file system" if read_only else "is not writable by this user"
    raise UserError(
        f"The data folder {folder} {why}; fsorg writes to {path.name} on every command. Your data in it "
        "is fine: copy the folder somewhere writable and pass --storage there."
    )


# False inside scanned_data_only(): the CLI's model commands need a scanned data folder, and one
# that fails on an empty folder must not leave new, empty databases behind. Gather and the app create.
CREATE_INDEX = True


@contextmanager
def scanned_data_only() -> Iterator[None]:
    global CREATE_INDEX
    before, CREATE_INDEX = CREATE_INDEX, False
    try:
        yield
    finally:
        CREATE_INDEX = before


def _open(path: Path, which: str) -> Engine:
    if which == "index" and not CREATE_INDEX and not path.exists():
        raise UserError(
            f"Nothing is scanned in {path.parent} yet. Scan your library first: "
            f"python organizer.py gather PATH --storage {path.parent}"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        reason = (e.strerror or str(e)).lower()
        if path.parent.is_file() or isinstance(e, FileExistsError):
            reason = "it is a file, not a folder"
        elif isinstance(e, NotADirectoryError):
            reason = "a part of that path is a file, not a folder"
        raise UserError(
            f"Cannot use {path.parent} as the data folder ({reason}). Choose another folder with --storage DIR."
        ) from None
    _check_writable(path)
    if which == "index":  # training.db's embedding cache can be large; its schema check is below
        _check_intact(path, which)
    eng = make_engine(path)
    migrate(eng, path, which)
    return eng


_CHECKED: set[tuple[str, int, int]] = set()
DAMAGED_TODO = {  # what to do, per database
    "index": "Your labels live in training.db and are safe: rename index.db (and any index.db-wal / "
    "index.db-shm) aside and gather your library again; the labels are re-attached by path.",
}


def _check_intact(path: Path, which: str) -> None:
    """SQLite's quick_check before fsorg writes into (or trusts) a database: a damaged file is
    refused with what to do, never written into. Once per file state per process (the app opens
    the databases often)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key in _CHECKED or st.st_size == 0:
        return
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            con.execute("PRAGMA busy_timeout=30000")
            result = [r[0] for r in con.execute("PRAGMA quick_check(5)").fetchall()]
        finally:
            con.close()
    except sqlite3.DatabaseError as e:
        if any(w in str(e).lower() for w in ("locked", "busy", "not a database")):
            return  # a writer holds it (checked on the next open), or not SQLite at all (said below)
        result = [str(e)]
    if result != ["ok"]:
        raise UserError(f"{path} is damaged (SQLite's check: {result[0][:200]}). {DAMAGED_TODO[which]}")
    _CHECKED.add(key)


def open_index(settings: StorageSettings) -> Engine:
    return _open(settings.index_db, "index")


def open_training(settings: StorageSettings) -> Engine:
    return _open(settings.training_db, "training")


@dataclass
class Databases:
    """Both databases of one data folder."""

    settings: StorageSettings
    index: Engine
    training: Engine

    @classmethod
    def open(cls, settings: StorageSettings) -> "Databases":
        """Open both; training.db must belong to this index.db (see :mod:`engine.storage.identity`)."""
        from engine.storage.identity import check_index_binding

        dbs = cls(settings, open_index(settings), open_training(settings))
        try:
            check_index_binding(dbs.index, dbs.training, settings.training_db)
        except BaseException:
            dbs.dispose()
            raise
        return dbs

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
