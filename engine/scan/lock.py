"""One gather per data folder at a time, and recovery of scans a dead process left ``running``."""


from __future__ import annotations

import errno
import os
import socket
import sqlite3
from pathlib import Path

from engine.core.settings import StorageSettings
from engine.scan.walker import _IS_WINDOWS, LOCK_NAME

# ------------------------------------------------------------------------------- lock


class GatherLock:
    """One gather per data folder at a time: an OS lock on ``DATA/gather.lock``.

    The kernel drops the lock when the process dies (even by ``kill -9``), so whoever holds it
    knows every ``running`` snapshot is left over from a dead process. On file systems that
    cannot lock, the scan goes ahead unlocked (stale-snapshot recovery is then skipped).
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_NAME
        self._fd: int | None = None
        self.locked = False

    def acquire(self, *, blocking: bool = False) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            if _IS_WINDOWS:  # pragma: no cover - not run on this CI
                import msvcrt

                msvcrt.locking(fd, msvcrt.LK_LOCK if blocking else msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except (BlockingIOError, PermissionError):
            os.close(fd)
            return False
        except OSError as e:
            if e.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                self._fd, self.locked = fd, False
                return True
            os.close(fd)
            if e.errno in (errno.EACCES, errno.EAGAIN, errno.EDEADLK):
                return False
            raise
        self._fd, self.locked = fd, True
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
        except OSError:
            pass
        return True

    def holder(self) -> str:
        """'pid P on HOST' of the process holding the lock, as far as the file says."""
        try:
            text = self.path.read_text().split()
            return f"process {text[0]} on {text[1]}" if len(text) >= 2 else "another process"
        except OSError:
            return "another process"

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing drops the lock
            self.locked = False


def is_gather_running(settings: StorageSettings) -> bool:
    """True while some process is gathering into this data folder (for the app's UI)."""
    lock = GatherLock(settings.data_dir)
    if not settings.data_dir.exists():
        return False
    if lock.acquire():
        lock.release()
        return False
    return True


def recover_interrupted(settings: StorageSettings) -> list[int]:
    """Mark snapshots left ``running`` by a dead gather as ``failed`` ("interrupted").

    Safe to call at any time: it does nothing while a gather holds the lock (its ``running``
    snapshot is alive). Returns the ids it marked.
    """
    from engine.storage import open_index

    eng = open_index(settings)
    eng.dispose()
    lock = GatherLock(settings.data_dir)
    if not lock.acquire():
        return []
    try:
        if not lock.locked:
            return []
        con = _connect(settings.index_db)
        try:
            return _mark_interrupted(con)
        finally:
            con.close()
    finally:
        lock.release()


def _mark_interrupted(con: sqlite3.Connection) -> list[int]:
    rows = con.execute("SELECT id, message FROM snapshots WHERE status = 'running'").fetchall()
    ids = []
    for sid, message in rows:
        was = f" ({message})" if message else ""
        con.execute("BEGIN IMMEDIATE")
        con.execute(
            "UPDATE snapshots SET status = 'failed', message = ? WHERE id = ? AND status = 'running'",
            (f"interrupted: the scan ended before it finished{was}", sid),
        )
        con.execute("COMMIT")
        ids.append(sid)
    return ids


def _connect(path: Path) -> sqlite3.Connection:
    """A raw sqlite3 connection for the bulk load: explicit transactions, WAL, big cache."""
    from engine.storage.db import set_wal

    con = sqlite3.connect(str(path), isolation_level=None, timeout=30.0, check_same_thread=False)
    set_wal(con)
    # NORMAL in WAL mode: every commit is atomic and the file stays consistent after a crash
    # or power loss; only the last commits before a power loss may be rolled back.
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("PRAGMA foreign_keys=ON")
    con.execute("PRAGMA busy_timeout=30000")
    con.execute("PRAGMA cache_size=-65536")  # 64 MiB: keeps the index pages of a big load hot
    con.execute("PRAGMA temp_store=MEMORY")
    return con


