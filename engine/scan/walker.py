"""The walk behind ``gather``: list a library folder into batches of rows for ``index.db``.

Why one file of ~550 lines: the walk and its listing share the open-directory handles and the
per-folder frame; split apart they would pass a dozen values across modules on the hot path that
`bench/scan.py` measures. The batched writer, which only receives finished batches, is in
:mod:`engine.scan.writer`.

What is recorded
    Every folder (the root too, as ``rel_path ''`` at depth 0) and every regular file.
    Folder ids are global integer keys assigned here, in Python, from ``max(id) + 1``, so a
    child can point at its parent without a round trip to the database; files get their ids
    from SQLite. Folders are numbered depth-first in name order, so a rescan of an unchanged
    tree numbers it the same way (offset by the new base). A folder's ``file_count``,
    ``subfolder_count`` and ``total_size`` count exactly the rows recorded under it (a subfolder
    that vanished before the walk entered it is not counted), so the snapshot is a consistent
    tree. Extensions follow :func:`extension`.

What is *not* recorded (``snapshots.skipped_count``)
    Symbolic links (to files or folders, broken or not), Windows junctions and other reparse
    points, and special files (fifos, sockets, devices). They are never followed, so a link
    loop cannot trap the scan and nothing is counted twice; they are only counted, so the
    summary can say how many were left out. A link is not the user's content: the folder or
    file it points to is recorded where it really lives (if it is inside the root). fsorg's
    own data, models and outputs folders are skipped too when they lie inside the library
    (``gather . --storage data``), so a scan never records the database it is writing.

Names that are not valid UTF-8
    ``name``/``rel_path`` hold a readable form in which each undecodable byte is written as
    ``\\xNN``; ``raw_name`` holds the exact bytes (``os.fsencode``) for such names only (NULL
    otherwise), so the on-disk path of any folder can be rebuilt from the chain of parents.

Real disks
    On POSIX the walk holds one directory file descriptor per level and opens, lists and
    stats everything *relative* to it (``openat``/``fstatat``, like ``find``): paths longer
    than ``PATH_MAX`` work, each system call resolves one name instead of a whole path, and a
    folder that is swapped for a symlink mid-scan is refused (``O_NOFOLLOW``) instead of
    followed. A folder that cannot be read, or a folder or file that disappears while the scan
    runs, becomes a row in ``scan_errors`` (relative path + reason) and the scan goes on. An
    unreadable folder still gets its folder row (it exists; we just cannot see inside).

Crash safety (``kill -9`` at any moment)
    1. the snapshot row is committed first with status ``running``;
    2. folder/file/error rows go in in large batches, one transaction each;
    3. the counts and status ``complete`` are committed last, in one transaction.
    SQLite (WAL) makes each step atomic, so a killed scan leaves a ``running`` snapshot with
    some of its rows: never "latest complete". One gather per data folder runs at a time (an
    OS file lock, released by the kernel when the process dies), so a ``running`` snapshot
    found by the next gather that holds the lock belongs to a dead process: it is marked
    ``failed`` with the message "interrupted …" (:func:`recover_interrupted`).

Cancel
    ``should_stop()`` is polled between folders. The rows scanned so far are kept, the
    snapshot is marked ``cancelled`` and :class:`GatherCancelled` (a
    :class:`~engine.core.jobs.Cancelled`) is raised carrying the :class:`GatherResult`.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import stat as stat_mod
import sys
import time

from engine.core.jobs import Cancelled, ProgressFn, StopFn, UserError
from engine.scan.writer import Writer, _write_batch

# Flush buffered rows to SQLite once this many files (or folders) are waiting. Large batches
# amortise the per-transaction cost; each batch is still small enough (a few MB) for memory.
FILE_BATCH = 10_000
FOLDER_BATCH = 5_000
# Seconds between progress reports (and the minimum time between should_stop() polls is zero:
# it is polled once per folder).
PROGRESS_INTERVAL = 0.1
# At most this many scan_errors rows per snapshot (a disk full of unreadable folders must not
# fill the database); the error count still counts them all.
MAX_ERROR_ROWS = 10_000
WRITER_THREAD = True  # insert batches on a separate thread (SQLite releases the GIL while it works)

# Longest suffix taken as an extension (``dungeondraft_pack`` is 17); longer ones are not.
MAX_EXT = 24

LOCK_NAME = "gather.lock"

_USE_FD = (
    os.name == "posix"
    and os.scandir in os.supports_fd
    and os.open in os.supports_dir_fd
    and os.stat in os.supports_dir_fd
)
_O_DIR = (
    os.O_RDONLY
    | getattr(os, "O_DIRECTORY", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NONBLOCK", 0)
)
_O_ROOT = _O_DIR & ~getattr(os, "O_NOFOLLOW", 0)  # the root itself may be a link the user named
_REPARSE = getattr(stat_mod, "FILE_ATTRIBUTE_REPARSE_POINT", 0x400)
_IS_WINDOWS = sys.platform == "win32"

# ------------------------------------------------------------------------------- names


def readable(name: str) -> tuple[str, bytes | None]:
    """``(readable form, raw bytes or None)`` of a name from ``os.scandir``.

    Valid UTF-8 names come back unchanged with ``None``. Others (their undecodable bytes are
    lone surrogates after ``os.fsdecode``) come back with each bad byte as ``\\xNN`` plus the
    exact bytes, so nothing is lost and SQLite never sees an unencodable string.
    """
    if name.isascii():
        return name, None
    try:
        name.encode("utf-8")
        return name, None
    except UnicodeEncodeError:
        raw = os.fsencode(name)
        return raw.decode("utf-8", "backslashreplace"), raw


def extension(name: str) -> str:
    """Lower-case extension without the dot; '' when there is none.

    Like ``os.path.splitext`` (a leading dot, as in ``.DS_Store``, is not an extension), but a
    "suffix" longer than ``MAX_EXT`` characters or containing a space (``Map v1.2 final``) is not an
    extension either: it would only pollute the per-folder extension histograms.
    """
    dot = name.rfind(".")
    if dot <= 0:
        return ""
    stripped = name[:dot].lstrip(".")
    if not stripped:
        return ""
    ext = name[dot + 1 :]
    if not ext or len(ext) > MAX_EXT or " " in ext or "\t" in ext:
        return ""
    return ext.lower()


# The extension of each suffix seen (``name[dot + 1:]``), shared by all scans: a library has a
# few hundred distinct suffixes, so this replaces four string tests and a lower() per file with
# one dict lookup. Bounded: odd suffixes past the bound are computed each time.
_EXT_OF: dict[str, str] = {}
_EXT_OF_MAX = 4096


def _suffix_ext(suffix: str) -> str:
    """:func:`extension`'s rule for the part after the last dot (the leading-dot rule aside)."""
    if not suffix or len(suffix) > MAX_EXT or " " in suffix or "\t" in suffix:
        ext = ""
    else:
        ext = suffix.lower()
    if len(_EXT_OF) < _EXT_OF_MAX:
        _EXT_OF[suffix] = ext
    return ext


def _reason(e: OSError) -> str:
    """A short, readable reason for a scan error."""
    if e.errno in (errno.ENOENT, errno.ENOTDIR):
        return "disappeared during the scan"
    if e.errno == errno.ELOOP:
        return "replaced by a symbolic link during the scan (not followed)"
    if e.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if e.errno == errno.EMFILE:
        return "too many open files (folder nesting too deep)"
    return e.strerror or str(e)


# ------------------------------------------------------------------------------- scanner


class _Listing:
    """What listing one directory found; built by a worker thread, consumed by the walk."""

    __slots__ = ("handle", "subdirs", "rows", "size", "mtime", "ident", "skipped", "errors", "open_error")

    def __init__(self) -> None:
        self.handle: int | str | None = None  # open fd (POSIX) or path; None if it could not be opened
        self.subdirs: list[str] = []
        self.rows: list[tuple] = []  # (folder_id, name, raw_name, ext, size, mtime) of each file
        self.size = 0
        self.mtime: float | None = None
        self.ident: tuple[int, int] | None = None  # (st_dev, st_ino) of the folder
        self.skipped = 0
        self.errors: list[tuple[str | None, str]] = []  # (entry name or None for the folder, reason)
        self.open_error: OSError | None = None


def _open_child(parent: int | str, name: str) -> int | str:
    if isinstance(parent, int):
        return os.open(name, _O_DIR, dir_fd=parent)
    return os.path.join(parent, name)


def _close(handle: int | str | None) -> None:
    if isinstance(handle, int):
        try:
            os.close(handle)
        except OSError:
            pass


def _list_dir(handle: int | str, fid: int) -> _Listing:
    """List one open directory (folder id ``fid``): subfolder names, one row per regular file.

    ``scandir``'s reads and ``fstatat`` release the GIL, so they overlap with the writer thread.
    """
    out = _Listing()
    out.handle = handle
    rows = out.rows
    subdirs = out.subdirs
    size_sum = 0
    skipped = 0
    try:
        st = os.fstat(handle) if isinstance(handle, int) else os.stat(handle)
        out.mtime = st.st_mtime
        out.ident = (st.st_dev, st.st_ino)
    except OSError:
        pass
    try:
        it = os.scandir(handle)
    except OSError as e:
        out.errors.append((None, _reason(e)))
        return out
    append_row = rows.append
    append_dir = subdirs.append
    ext_of = _EXT_OF  # suffix -> extension, shared by every listing (bounded)
    windows = _IS_WINDOWS
    # A plain ``for`` over the iterator (the cheapest loop in CPython); an OSError raised by the
    # iterator itself (an I/O error mid-listing) ends it, one raised for an entry is caught inside.
    # Per file: one fstatat (size and mtime are stored; ``find -printf '%s'`` pays it too), the
    # type from the same stat (no is_file() call), the extension from a dict of the suffixes
    # seen so far. Folders come from the cached d_type: no system call for them here.
    with it:
        try:
            for entry in it:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if windows and entry.stat(follow_symlinks=False).st_file_attributes & _REPARSE:
                            skipped += 1  # a junction or another reparse point: never followed
                        else:
                            append_dir(entry.name)
                        continue
                    st = entry.stat(follow_symlinks=False)
                except OSError as e:
                    out.errors.append((entry.name, _reason(e)))
                    continue
                if st.st_mode & 0o170000 != 0o100000:  # not S_ISREG: a symlink, fifo, socket, device
                    skipped += 1
                    continue
                name = entry.name
                # extension(name), inlined: this loop runs once per file
                dot = name.rfind(".")
                if dot > 0:
                    suffix = name[dot + 1 :]
                    ext = ext_of.get(suffix)
                    if ext is None:
                        ext = _suffix_ext(suffix)
                    if ext and name[0] == "." and not name[:dot].strip("."):
                        ext = ""
                else:
                    ext = ""
                size = st.st_size
                size_sum += size
                if name.isascii():
                    append_row((fid, name, None, ext, size, st.st_mtime))
                else:
                    shown, raw = readable(name)
                    if raw is not None:  # the extension of the readable form, as stored
                        ext = extension(shown)
                    append_row((fid, shown, raw, ext, size, st.st_mtime))
        except OSError as e:  # an I/O error in the middle of a listing
            out.errors.append((None, f"listing stopped early: {_reason(e)}"))
    subdirs.sort()
    out.size = size_sum
    out.skipped = skipped
    return out


def _open_and_list(parent: int | str, name: str, fid: int) -> _Listing:
    try:
        handle = _open_child(parent, name)
    except OSError as e:
        out = _Listing()
        out.open_error = e
        return out
    try:
        return _list_dir(handle, fid)
    except BaseException:
        _close(handle)
        raise


class _Frame:
    """One level of the depth-first walk: an open directory and its subfolders still to do."""

    __slots__ = ("handle", "fid", "rel", "depth", "subdirs", "i", "row", "gone")

    def __init__(
        self, handle: int | str, fid: int, rel: str, depth: int, subdirs: list[str], row: tuple
    ) -> None:
        self.handle = handle  # an fd (POSIX) or a path (elsewhere)
        self.fid = fid
        self.rel = rel
        self.depth = depth
        self.subdirs = subdirs
        self.i = 0  # index of the next subfolder to walk
        # The folder's row is written when the walk leaves it, so subfolders that vanished
        # before we entered them are not counted in its subfolder_count.
        self.row = row
        self.gone = 0

    def final_row(self) -> tuple:
        if not self.gone:
            return self.row
        r = self.row
        return (*r[:8], r[8] - self.gone, *r[9:])


class _Scanner:
    """Walks the tree depth-first in name order and streams rows to the writer.

    Folder ids are given as listings start (depth-first pre-order). A folder row is queued
    when the walk leaves the folder (post-order). Listing runs on this thread: listing ahead
    on worker threads cost more CPU in GIL hand-offs than it saved on a warm cache
    (bench/scan.py on 2 cores: 2.2 s without, 3.9 s with 2 threads), so it was removed.
    """

    def __init__(
        self,
        con: sqlite3.Connection,
        snapshot_id: int,
        base_id: int,
        root_path: str,
        progress: ProgressFn,
        should_stop: StopFn,
    ) -> None:
        self.con = con
        self.sid = snapshot_id
        self.next_id = base_id
        self.root_path = root_path
        self.progress = progress
        self.should_stop = should_stop
        self.exclude: frozenset[tuple[int, int]] = frozenset()
        self.folder_rows: list[tuple] = []
        self.file_rows: list[tuple] = []
        self.error_rows: list[tuple] = []
        self.folders = 0
        self.files = 0
        self.errors = 0
        self.skipped = 0
        self.total_bytes = 0
        self.first_errors: list[tuple[str, str]] = []
        self.stack: list[_Frame] = []
        self.writer: Writer | None = None
        self._next_report = 0.0

    # -- errors and batches

    def error(self, rel: str, reason: str) -> None:
        self.errors += 1
        if len(self.first_errors) < 10:
            self.first_errors.append((rel, reason))
        if self.errors <= MAX_ERROR_ROWS:
            self.error_rows.append((self.sid, rel, reason))

    def flush(self) -> None:
        """Hand the buffered rows to the writer (or write them here when there is none)."""
        if not (self.folder_rows or self.file_rows or self.error_rows):
            return
        batch = (self.folder_rows, self.file_rows, self.error_rows)
        self.folder_rows, self.file_rows, self.error_rows = [], [], []
        if self.writer is not None:
            self.writer.submit(batch)
        else:
            _write_batch(self.con, *batch)

    # -- progress

    def fraction(self) -> float:
        """Share of the tree done, treating sibling subtrees as equal in size.

        The total is unknown until the end, so each level of the open path splits its parent's
        share evenly among its subfolders: cheap (one pass over the stack), never backwards,
        and it reaches 1.0 when the walk ends.
        """
        done, weight = 0.0, 1.0
        for fr in self.stack:
            n = len(fr.subdirs)
            cur = max(fr.i - 1, 0)  # the subfolder being walked now is not done yet
            done += weight * cur / n
            weight /= n
        return min(done, 0.999)

    def report(self, rel: str) -> None:
        now = time.monotonic()
        if now < self._next_report:
            return
        self._next_report = now + PROGRESS_INTERVAL
        where = rel if len(rel) <= 60 else "…" + rel[-59:]
        self.progress(self.fraction(), f"{self.folders:,} folders, {self.files:,} files  {where}")

    # -- the walk

    def new_id(self) -> int:
        fid = self.next_id
        self.next_id += 1
        return fid

    def record(
        self,
        fid: int,
        listing: _Listing,
        parent_id: int | None,
        rel: str,
        shown: str,
        raw: bytes | None,
        depth: int,
    ) -> None:
        """Turn one listing into rows and, if it has subfolders, push it on the stack.

        ``shown``/``raw``: the folder's name as :func:`readable` gives it.
        """
        self.folders += 1
        if listing.errors:
            for ename, reason in listing.errors:
                if ename is None:
                    self.error(rel, reason)
                else:
                    e_shown = readable(ename)[0]
                    self.error(f"{rel}/{e_shown}" if rel else e_shown, reason)
        rows = listing.rows
        n_files = len(rows)
        if n_files:
            self.files += n_files
            self.total_bytes += listing.size
            self.file_rows.extend(rows)
        self.skipped += listing.skipped
        subdirs = listing.subdirs
        row = (fid, self.sid, parent_id, rel, shown, raw, depth, n_files, len(subdirs), listing.size, listing.mtime)
        if subdirs and listing.handle is not None:
            self.stack.append(_Frame(listing.handle, fid, rel, depth, subdirs, row))
        else:
            _close(listing.handle)
            self.folder_rows.append(row)
        if len(self.file_rows) >= FILE_BATCH or len(self.folder_rows) >= FOLDER_BATCH:
            self.flush()

    def leave(self) -> None:
        """Done with the folder on top of the stack: close it and queue its row."""
        fr = self.stack.pop()
        _close(fr.handle)
        self.folder_rows.append(fr.final_row())

    def run(self) -> None:
        root = self.root_path
        if _USE_FD:
            try:
                handle: int | str = os.open(root, _O_ROOT)
            except OSError as e:
                raise UserError(
                    f"{readable(root)[0]} cannot be opened any more ({_reason(e)}). Check it and scan again."
                ) from None
        else:
            handle = root if not _IS_WINDOWS or root.startswith("\\\\?\\") else "\\\\?\\" + root
        self.progress(0.0, "scanning…")
        if WRITER_THREAD:
            self.writer = Writer(self.con, _write_batch)
        stack = self.stack
        should_stop = self.should_stop
        record = self.record
        exclude = self.exclude
        monotonic = time.monotonic
        use_fd = _USE_FD
        o_dir = _O_DIR
        os_open = os.open
        try:
            fid = self.new_id()
            try:
                listing = _list_dir(handle, fid)
            except BaseException:
                _close(handle)
                raise
            record(fid, listing, None, "", *readable(os.path.basename(root.rstrip(os.sep)) or root), 0)
            # The per-folder loop, with the small steps inlined (it runs once per folder).
            while stack:
                fr = stack[-1]
                i = fr.i
                if i >= len(fr.subdirs):
                    self.leave()
                    continue
                fr.i = i + 1
                if should_stop():
                    raise Cancelled()
                name = fr.subdirs[i]
                if name.isascii():
                    shown, raw = name, None
                else:
                    shown, raw = readable(name)
                rel = f"{fr.rel}/{shown}" if fr.rel else shown
                if monotonic() >= self._next_report:
                    self.report(rel)
                fid = self.next_id
                self.next_id = fid + 1
                if use_fd:
                    try:
                        child = os_open(name, o_dir, dir_fd=fr.handle)
                    except OSError as e:
                        listing = _Listing()
                        listing.open_error = e
                    else:
                        try:
                            listing = _list_dir(child, fid)
                        except BaseException:
                            _close(child)
                            raise
                else:
                    listing = _open_and_list(fr.handle, name, fid)
                err = listing.open_error
                if err is not None:
                    self.error(rel, _reason(err))
                    if err.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                        fr.gone += 1
                        continue  # gone, or no longer a folder: nothing to record
                    # it exists but cannot be opened (permission): record it, empty
                elif exclude and listing.ident in exclude:
                    _close(listing.handle)  # fsorg's own data folder inside the library
                    fr.gone += 1
                    self.skipped += 1
                    continue
                record(fid, listing, fr.fid, rel, shown, raw, fr.depth + 1)
            self.flush()
        except (Cancelled, KeyboardInterrupt):
            # the folders still open are recorded too, so a cancelled snapshot is a tree
            for fr in reversed(stack):
                self.folder_rows.append(fr.final_row())
            raise
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        """Close every directory still open, drain the writer."""
        for fr in self.stack:
            _close(fr.handle)
        self.stack.clear()
        if self.writer is not None:
            writer, self.writer = self.writer, None
            writer.close()


