"""Failures of the machine rather than of fsorg: a full disk, a folder fsorg may not write,
a read-only file system. :func:`environment_error` turns them into a one-line
:class:`UserError` (exit 2) that says what to do, wherever they surface (an OSError from a
file write, or SQLite's own message inside a SQLAlchemy error)."""

from __future__ import annotations

import errno
import re

from engine.core.jobs import UserError

_NOTHING = "Nothing was half-written (every write is a transaction or an atomic rename)."


def _chain(e: BaseException):
    seen: set[int] = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        yield e
        orig = getattr(e, "orig", None)  # SQLAlchemy's DBAPIError wraps sqlite3's error
        if isinstance(orig, BaseException):
            yield orig
        e = e.__cause__ or e.__context__


def _nearly_full(where) -> bool:
    import shutil

    try:
        return where is not None and shutil.disk_usage(where).free < 4 << 20
    except OSError:
        return False


def environment_error(e: BaseException, where=None) -> UserError | None:
    """A UserError for a full disk, a permission problem or a read-only file system; else None.

    ``where`` (the data folder) lets an I/O error on a nearly full disk be called what it is:
    SQLite reports some writes on a full disk (its shared-memory file) as an I/O error."""
    for x in _chain(e):
        code = x.errno if isinstance(x, OSError) else None
        if isinstance(x, OSError) and code is None:  # shutil.Error lists its failures as text
            m = re.search(r"\[Errno (\d+)\]", str(x))
            code = int(m.group(1)) if m else None
        if code is not None:
            loc = f" ({x.filename})" if getattr(x, "filename", None) else ""
            if code in (errno.ENOSPC, errno.EDQUOT):
                return UserError(f"The disk is full{loc}: free some space and run the command again. {_NOTHING}")
            if code == errno.EFBIG:
                return UserError(f"A file grew past the size this system allows{loc}. {_NOTHING}")
            if code == errno.EROFS:
                return UserError(
                    f"Cannot write{loc}: the file system is read-only. Copy the folder somewhere writable "
                    f"(or use --storage / --model-path there). {_NOTHING}"
                )
            if code in (errno.EACCES, errno.EPERM):
                return UserError(
                    f"Permission denied{loc}: this user may not read or write there. Fix the folder's "
                    f"permissions or choose another (--storage / --model-path). {_NOTHING}"
                )
        if "no space left on device" in str(x).lower():  # e.g. safetensors' own error type
            return UserError(f"The disk is full: free some space and run the command again. {_NOTHING}")
        msg = str(x).lower() if type(x).__module__ == "sqlite3" else ""
        if "database or disk is full" in msg:
            return UserError(f"The disk is full: free some space and run the command again. {_NOTHING}")
        if "readonly database" in msg or "read-only" in msg:
            return UserError(
                "A database is read-only here (a read-only file system, or files this user may not write): "
                f"copy the data folder somewhere writable and use --storage there. {_NOTHING}"
            )
        if "disk i/o error" in msg and _nearly_full(where):
            return UserError(
                f"The disk holding {where} is full: free some space and run the command again. {_NOTHING}"
            )
        if "disk i/o error" in msg:
            return UserError(
                "The disk reported an I/O error while writing (is it full, removed or failing?). "
                f"Check it and run the command again. {_NOTHING}"
            )
    return None
