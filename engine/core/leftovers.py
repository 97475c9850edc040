"""Cleaning up after a process that died without cleaning up (``kill -9``, a power cut).

Temporary files and folders carry the pid of the process that made them in their name
(``<prefix><pid>-...``); the next run of the same command removes the ones whose process is
gone. A leftover without a pid (made by an older fsorg) is removed once it is a day old.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import time
from pathlib import Path

STALE_WITHOUT_PID_S = 24 * 3600


def owner_tag() -> str:
    """'pid@host' of this process, stored with work that is in progress."""
    return f"{os.getpid()}@{socket.gethostname()}"


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    except OSError:
        return True
    return True


def owner_alive(tag: str | None) -> bool:
    """False when ``tag`` ('pid@host') names a process on this machine that no longer exists."""
    if not tag or "@" not in tag:
        return False
    pid, _, host = tag.partition("@")
    if host != socket.gethostname():
        return True  # another machine's process: cannot tell, leave it
    try:
        return pid_alive(int(pid))
    except ValueError:
        return False


def sweep(folder: Path, prefix: str) -> list[Path]:
    """Remove ``folder/<prefix><pid>...`` entries whose process is gone; return what was removed."""
    removed = []
    try:
        entries = list(Path(folder).glob(f"{glob_escape(prefix)}*"))
    except OSError:
        return removed
    pid_re = re.compile(re.escape(prefix) + r"(?:old\.)?(\d+)[.-]")
    for p in entries:
        m = pid_re.match(p.name)
        try:
            if m:
                if pid_alive(int(m.group(1))):
                    continue
            elif time.time() - p.lstat().st_mtime < STALE_WITHOUT_PID_S:
                continue
            if p.lstat().st_uid != os.getuid():
                continue  # another user's: not ours to remove
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            removed.append(p)
        except OSError:
            continue
    return removed


def glob_escape(s: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", s)
