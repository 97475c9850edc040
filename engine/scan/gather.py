"""``gather``: scan a library folder into a new snapshot in ``index.db`` (see :mod:`engine.scan.walker`)."""

from __future__ import annotations

import errno
import os
import socket
import sqlite3
import stat as stat_mod
import time
import uuid
from dataclasses import dataclass, field

from engine import __version__
from engine.core.jobs import Cancelled, ProgressFn, StopFn, UserError, never_stop, no_progress
from engine.core.settings import StorageSettings
from engine.scan.lock import GatherLock, _connect, _mark_interrupted
from engine.scan.walker import _reason, _Scanner, readable


@dataclass(frozen=True)
class GatherResult:
    """What one gather produced. ``status`` is ``complete`` or ``cancelled``."""

    snapshot_id: int
    status: str
    folders: int
    files: int
    errors: int
    seconds: float
    skipped: int = 0
    total_bytes: int = 0
    root: str = ""
    first_errors: tuple[tuple[str, str], ...] = field(default=())  # (rel_path, reason), at most 10


class GatherCancelled(Cancelled):
    """The scan was stopped by ``should_stop()``; ``result`` describes the cancelled snapshot."""

    def __init__(self, result: GatherResult) -> None:
        super().__init__(
            f"scan stopped after {result.folders:,} folders and {result.files:,} files; snapshot "
            f"{result.snapshot_id} is marked cancelled and will not be used. Run gather again for "
            "a complete snapshot."
        )
        self.result = result


# ------------------------------------------------------------------------------- root


def _check_root(root: str | os.PathLike) -> tuple[str, str]:
    """``(path to open, absolute readable form)``; raises UserError for a bad root."""
    raw = os.fspath(root)
    if isinstance(raw, bytes):
        raw = os.fsdecode(raw)
    if not raw or not raw.strip():
        raise UserError("No folder given. Name the root folder of your library, e.g. gather ~/Assets")
    path = os.path.abspath(os.path.expanduser(raw))
    shown = readable(path)[0]
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise UserError(f"{shown} does not exist. Check the path and try again.") from None
    except PermissionError:
        raise UserError(
            f"{shown} cannot be read (permission denied). Choose a folder you can read."
        ) from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise UserError(
                f"{shown} is a symbolic link that leads back to itself (a loop), not a folder. "
                "Give the real folder of your library."
            ) from None
        raise UserError(f"{shown} cannot be opened ({_reason(e)}). Check the path.") from None
    if not stat_mod.S_ISDIR(st.st_mode):
        raise UserError(
            f"{shown} is a file, not a folder. Give the folder that holds your library "
            f"(e.g. {readable(os.path.dirname(path))[0]})."
        )
    try:
        with os.scandir(path) as it:
            next(it, None)
    except PermissionError:
        raise UserError(
            f"{shown} cannot be read (permission denied). Choose a folder you can read."
        ) from None
    except OSError as e:
        raise UserError(f"{shown} cannot be read ({_reason(e)}).") from None
    return path, shown


# ------------------------------------------------------------------------------- gather


def gather(
    root: str | os.PathLike,
    settings: StorageSettings,
    *,
    progress: ProgressFn = no_progress,
    should_stop: StopFn = never_stop,
) -> GatherResult:
    """Scan ``root`` into a new snapshot of ``settings``' index.db and return what it holds.

    Raises :class:`UserError` for a root that does not exist, is a file or cannot be read,
    and when another gather is writing to the same data folder; :class:`GatherCancelled`
    when ``should_stop()`` turned True (the snapshot is then ``cancelled``).
    """
    from engine.storage import open_index

    t0 = time.monotonic()
    path, shown = _check_root(root)
    lock = GatherLock(settings.data_dir)
    try:
        eng = open_index(settings)  # creates / migrates the schema
        eng.dispose()
        acquired = lock.acquire()
    except (OSError, sqlite3.Error) as e:
        reason = (e.strerror or str(e)).lower() if isinstance(e, OSError) else str(e)
        if settings.data_dir.is_file() or isinstance(e, FileExistsError):
            reason = "it is a file, not a folder"
        elif isinstance(e, NotADirectoryError):
            reason = "a part of that path is a file, not a folder"
        raise UserError(
            f"Cannot use {settings.data_dir} as the data folder ({reason}). "
            "Choose another folder with --storage DIR."
        ) from None
    if not acquired:
        raise UserError(
            f"Another gather is writing to {settings.data_dir} right now ({lock.holder()}). "
            "Wait for it to finish (or stop it), then run this again."
        )
    con = None
    try:
        con = _connect(settings.index_db)
        if lock.locked:
            _mark_interrupted(con)
        return _gather_locked(
            con,
            path,
            shown,
            progress,
            should_stop,
            t0,
            _own_folders(settings),
        )
    except sqlite3.OperationalError as e:
        raise _db_error(e, settings) from None
    finally:
        if con is not None:
            con.close()
        lock.release()


def _own_folders(settings: StorageSettings) -> frozenset[tuple[int, int]]:
    """(st_dev, st_ino) of fsorg's own data, models and outputs folders.

    ``gather . --storage data`` run from inside the library would otherwise record index.db
    while it is being written (and later the models): they are skipped, wherever they are.
    """
    out = set()
    for d in (settings.data_dir, settings.models_dir, settings.outputs_dir):
        try:
            st = os.stat(d)
        except OSError:
            continue
        out.add((st.st_dev, st.st_ino))
    return frozenset(out)


def _db_error(e: sqlite3.Error, settings: StorageSettings) -> UserError:
    text = str(e)
    if "full" in text:
        return UserError(f"The disk holding {settings.data_dir} is full. Free some space and scan again.")
    if "locked" in text or "busy" in text:
        return UserError(
            f"{settings.index_db} is busy (another program is writing to it). Try again in a moment."
        )
    return UserError(f"Could not write {settings.index_db}: {text}.")


def _gather_locked(
    con: sqlite3.Connection,
    path: str,
    shown: str,
    progress: ProgressFn,
    should_stop: StopFn,
    t0: float,
    exclude: frozenset[tuple[int, int]],
) -> GatherResult:
    root_raw = readable(path)[1]
    con.execute("BEGIN IMMEDIATE")
    cur = con.execute(
        "INSERT INTO snapshots (root, root_raw, started_at, status, fsorg_version, message, uuid) "
        "VALUES (?, ?, ?, 'running', ?, ?, ?)",
        (
            shown,
            root_raw,
            time.time(),
            __version__,
            f"pid {os.getpid()} on {socket.gethostname()}",
            str(uuid.uuid4()),
        ),
    )
    sid = int(cur.lastrowid)
    base_id = int(con.execute("SELECT coalesce(max(id), 0) + 1 FROM folders").fetchone()[0])
    con.execute("COMMIT")

    scanner = _Scanner(con, sid, base_id, path, progress, should_stop)
    scanner.exclude = exclude

    def finish(status: str, message: str | None) -> GatherResult:
        if con.in_transaction:
            con.execute("ROLLBACK")
        if status != "failed":
            scanner.flush()  # keep what was scanned; counts below match the stored rows
        con.execute("BEGIN IMMEDIATE")
        con.execute(
            "UPDATE snapshots SET status = ?, finished_at = ?, folder_count = ?, file_count = ?, "
            "error_count = ?, total_bytes = ?, skipped_count = ?, message = ? WHERE id = ?",
            (
                status,
                time.time(),
                scanner.folders,
                scanner.files,
                scanner.errors,
                scanner.total_bytes,
                scanner.skipped,
                message,
                sid,
            ),
        )
        con.execute("COMMIT")
        return GatherResult(
            snapshot_id=sid,
            status=status,
            folders=scanner.folders,
            files=scanner.files,
            errors=scanner.errors,
            seconds=time.monotonic() - t0,
            skipped=scanner.skipped,
            total_bytes=scanner.total_bytes,
            root=shown,
            first_errors=tuple(scanner.first_errors),
        )

    try:
        scanner.run()
    except (Cancelled, KeyboardInterrupt) as e:
        result = finish("cancelled", "cancelled by the user")
        if isinstance(e, KeyboardInterrupt):
            raise
        raise GatherCancelled(result) from None
    except BaseException as e:
        try:
            finish("failed", f"{type(e).__name__}: {e}")
        except Exception:
            pass  # the next gather marks it interrupted
        raise
    result = finish("complete", None)
    progress(1.0, f"{result.folders:,} folders, {result.files:,} files")
    return result
