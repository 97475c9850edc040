"""The batched writer behind ``gather``: rows into ``index.db``, one transaction per batch, on its own thread.

Split from :mod:`engine.scan.walker` (which produces the batches); see its docstring for what
is recorded and for crash safety (each batch is one transaction, so a killed scan leaves a
``running`` snapshot with whole batches only).
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Callable
from itertools import chain


class Writer:
    """Writes batches of rows on its own thread, one transaction per batch.

    SQLite releases the GIL inside ``sqlite3_step``, so inserting one batch overlaps with
    scanning the next. The queue is short, which bounds memory to a few batches.
    """

    def __init__(self, con: sqlite3.Connection, write: Callable[..., None] | None = None) -> None:
        self.con = con
        self.write = write or _write_batch  # the walk passes its own (tests replace it there)
        self.queue: queue.Queue = queue.Queue(maxsize=2)
        self.exc: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="fsorg-gather-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            batch = self.queue.get()
            if batch is None:
                return
            if self.exc is None:
                try:
                    self.write(self.con, *batch)
                except BaseException as e:  # reported to the walk by submit() / close()
                    self.exc = e

    def submit(self, batch: tuple[list, list, list]) -> None:
        if self.exc is not None:
            raise self.exc
        self.queue.put(batch)

    def close(self) -> None:
        """Wait until every submitted batch is written; re-raise the writer's error if any."""
        if self.thread.is_alive():
            self.queue.put(None)
            self.thread.join()
        if self.exc is not None:
            exc, self.exc = self.exc, None
            raise exc


_FOLDER_INSERT = (
    "INSERT INTO folders (id, snapshot_id, parent_id, rel_path, name, raw_name, depth, "
    "file_count, subfolder_count, total_size, mtime) VALUES "
)
_FILE_INSERT = "INSERT INTO files (folder_id, name, raw_name, ext, size, mtime) VALUES "
_ERROR_INSERT = "INSERT INTO scan_errors (snapshot_id, path, reason) VALUES "
# SQLite before 3.32 allows 999 parameters per statement; stay under it everywhere.
_MAX_PARAMS = 999


def _insert_many(con: sqlite3.Connection, prefix: str, ncols: int, rows: list[tuple]) -> None:
    """``INSERT`` ``rows`` with multi-row ``VALUES (…),(…),…`` statements.

    One statement per ~100 rows instead of one per row: the inserts themselves cost the same,
    but the per-statement work (reset, step, Python call overhead) is paid 100 times less;
    measured: 200k file rows, 0.40 -> 0.23 CPU-seconds. Rows keep their order.
    """
    per = max(1, _MAX_PARAMS // ncols)
    one = "(" + ",".join("?" * ncols) + ")"
    full = len(rows) // per * per
    if full:
        flat = list(chain.from_iterable(rows[:full]))
        width = per * ncols
        con.executemany(
            prefix + ",".join([one] * per), (flat[j : j + width] for j in range(0, len(flat), width))
        )
    if full < len(rows):
        rest = rows[full:]
        con.execute(prefix + ",".join([one] * len(rest)), list(chain.from_iterable(rest)))


def _write_batch(con: sqlite3.Connection, folder_rows: list, file_rows: list, error_rows: list) -> None:
    """Insert one batch of rows in one transaction (all of it, or nothing)."""
    con.execute("BEGIN IMMEDIATE")
    try:
        if folder_rows:
            _insert_many(con, _FOLDER_INSERT, 11, folder_rows)
        if file_rows:
            _insert_many(con, _FILE_INSERT, 6, file_rows)
        if error_rows:
            _insert_many(con, _ERROR_INSERT, 3, error_rows)
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise
