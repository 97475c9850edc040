"""Applying a plan without risk, resuming it after a crash, and undoing it exactly.

Modes
    ``link`` (default)  a separate tree of hard links; where a hard link is impossible
                        (another filesystem, no support) a symbolic link instead.
    ``symlink``         a separate tree of symbolic links.
    ``copy``            a separate tree of copies.
    ``move``            the files themselves move into the new tree; source folders left
                        empty are removed (and recreated by undo).

``link``/``symlink``/``copy`` never touch the library: the target must lie outside it.

The journal (JSON lines) is written **before** every change: a batch of intended
operations is appended and fsync'ed, then carried out. Every operation is idempotent
given the state on disk (a hard link is known by its inode, a move by where the file
is), so after a crash or ``kill -9`` applying the same plan again finds the unfinished
journal and resumes it, and :func:`undo` works on a finished, unfinished or half-undone
journal alike. Nothing ever overwrites a file: new names are made with ``link()``,
which fails when the name exists; such a file is skipped and reported.
"""

from __future__ import annotations

import errno
import filecmp
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from engine.core.jobs import UserError, check_stop, never_stop, no_progress
from engine.organize.plan import Plan

MODES = ("link", "symlink", "copy", "move")
JOURNAL_FORMAT = 1
BATCH = 512
DELAY_ENV = "FSORG_ORGANIZE_OP_DELAY"  # tests only: seconds to sleep before each file operation
PART = ".fsorg-part"


@dataclass
class ApplyResult:
    journal: Path
    mode: str
    done: int = 0  # file operations carried out now
    already: int = 0  # found already done (resumed)
    symlinked: int = 0  # link mode: symbolic links where a hard link was impossible
    skipped: list[str] = field(default_factory=list)  # never overwritten: what and why
    dirs_made: int = 0
    dirs_removed: int = 0
    resumed: bool = False
    seconds: float = 0.0

    @property
    def files(self) -> int:
        return self.done + self.already


@dataclass
class UndoResult:
    journal: Path
    restored: int = 0
    kept: list[str] = field(default_factory=list)  # left in place: what and why
    dirs_removed: int = 0
    dirs_restored: int = 0
    seconds: float = 0.0


class Journal:
    def __init__(self, path: Path, header: dict | None = None) -> None:
        self.path = path
        self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()
        if header is not None:
            self.write([header])

    def write(self, records: list[dict]) -> None:
        self._fh.write("".join(json.dumps(r, ensure_ascii=True) + "\n" for r in records))
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()


def read_journal(path) -> tuple[dict, list[dict], str | None]:
    """(header, operations, end state or None). A torn last line (a crash mid-write) is ignored."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise UserError(f"{p} does not exist. Journals are in <storage>/journals/.") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"Cannot read the journal {p}: {e}.") from None
    recs = []
    for n, line in enumerate(lines):
        try:
            recs.append(json.loads(line))
        except json.JSONDecodeError:
            if n == len(lines) - 1:
                break
            raise UserError(f"{p}, line {n + 1}: not a journal line. Is this an fsorg journal?") from None
    if not recs or recs[0].get("fsorg_journal") != JOURNAL_FORMAT:
        raise UserError(f"{p} is not an fsorg organize journal.")
    end = None
    ops = []
    for r in recs[1:]:
        if "end" in r:
            end = r["end"]
        elif "op" in r:
            ops.append(r)
    return recs[0], ops, end


def find_unfinished(journal_dir: Path, target_root: str, mode: str, library_root: str) -> Path | None:
    """The newest journal for the same target, mode and library that never finished."""
    if not journal_dir.is_dir():
        return None
    for p in sorted(journal_dir.glob("organize-*.jsonl"), reverse=True):
        try:
            header, _ops, end = read_journal(p)
        except UserError:
            continue
        if end is None and header.get("target_root") == target_root and header.get("mode") == mode \
                and header.get("library_root") == library_root:
            return p
    return None


def _inside(path: str, root: str) -> bool:
    path, root = os.path.abspath(path), os.path.abspath(root)
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _files(folder: str) -> Iterator[os.DirEntry]:
    try:
        with os.scandir(folder) as it:
            entries = [e for e in it if e.is_file(follow_symlinks=False)]
    except FileNotFoundError:
        return
    entries.sort(key=lambda e: e.name)
    yield from entries


def _same_inode(a: str, b: str) -> bool:
    try:
        sa, sb = os.lstat(a), os.lstat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def _is_link_to(dst: str, src: str) -> bool:
    try:
        return os.path.islink(dst) and os.readlink(dst) == src
    except OSError:
        return False


def _copied(src: str, dst: str) -> bool:
    """``dst`` is our unchanged copy of ``src`` (size and modification time kept by copy2)."""
    try:
        a, b = os.stat(src), os.lstat(dst)
    except OSError:
        return False
    return a.st_size == b.st_size and int(a.st_mtime) == int(b.st_mtime) and not os.path.islink(dst)


def _state(mode: str, src: str, dst: str) -> str:
    """'todo' | 'done' | 'finish' (move: both names on one inode) | 'taken' (dst is someone else's)."""
    dst_exists = os.path.lexists(dst)
    if mode == "move":
        src_exists = os.path.lexists(src)
        if not dst_exists:
            return "todo" if src_exists else "gone"
        if not src_exists:
            return "done"
        if _same_inode(src, dst):
            return "finish"
        return "taken"
    if not dst_exists:
        return "todo"
    if mode == "link" and (_same_inode(src, dst) or _is_link_to(dst, src)):
        return "done"
    if mode == "symlink" and _is_link_to(dst, src):
        return "done"
    if mode == "copy" and _copied(src, dst):
        return "done"
    return "taken"


def _same_bytes(a: str, b: str) -> bool:
    try:
        return filecmp.cmp(a, b, shallow=False)
    except OSError:
        return False


_NO_HARDLINK = {errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK, errno.EACCES, getattr(errno, "EOPNOTSUPP", -1)}


def _copy_new(src: str, dst: str) -> None:
    """Copy to a part file beside ``dst``, then give it its name with link() (never overwrites)."""
    part = dst + PART
    if os.path.lexists(part):
        os.unlink(part)
    shutil.copy2(src, part, follow_symlinks=False)
    try:
        os.link(part, dst)
        os.unlink(part)
    except OSError as e:
        if e.errno == errno.EEXIST:
            os.unlink(part)
            raise
        if os.path.lexists(dst):  # a filesystem without hard links: rename only onto a free name
            os.unlink(part)
            raise FileExistsError(errno.EEXIST, "exists", dst) from None
        os.rename(part, dst)


def _do(mode: str, src: str, dst: str, result: ApplyResult) -> None:
    if mode == "link":
        try:
            os.link(src, dst, follow_symlinks=False)
        except OSError as e:
            if e.errno not in _NO_HARDLINK:
                raise
            os.symlink(src, dst)
            result.symlinked += 1
    elif mode == "symlink":
        os.symlink(src, dst)
    elif mode == "copy":
        _copy_new(src, dst)
    else:  # move: a second name first (fails if taken), then drop the old one
        try:
            os.link(src, dst, follow_symlinks=False)
        except OSError as e:
            if e.errno not in _NO_HARDLINK:
                raise
            _copy_new(src, dst)
        os.unlink(src)


def apply_plan(
    plan: Plan,
    target_root: str | os.PathLike,
    mode: str = "link",
    *,
    journal_dir: str | os.PathLike,
    journal: str | os.PathLike | None = None,
    progress=no_progress,
    should_stop=never_stop,
) -> ApplyResult:
    """Carry out ``plan`` into ``target_root`` (see module doc). Resumes an unfinished journal
    of the same target, mode and library; ``Cancelled`` leaves a resumable journal."""
    if mode not in MODES:
        raise UserError(f"Unknown mode {mode!r}. Use one of: {', '.join(MODES)}.")
    t0 = time.monotonic()
    target = str(Path(target_root).expanduser().absolute())
    lib = str(Path(plan.library_root).absolute())
    if _inside(target, lib) and mode != "move":
        raise UserError(
            f"The target {target} is inside the library {lib}. {mode} mode builds a separate tree and never "
            "touches the library: choose a folder outside it (or --mode move to reorganize in place)."
        )
    if os.path.abspath(lib) == os.path.abspath(target):
        raise UserError("The target is the library root itself. Choose a new folder.")
    if os.path.exists(target) and not os.path.isdir(target):
        raise UserError(f"The target {target} is a file, not a folder.")
    jdir = Path(journal_dir)
    jdir.mkdir(parents=True, exist_ok=True)
    jpath = Path(journal) if journal else find_unfinished(jdir, target, mode, lib)
    resumed = jpath is not None and jpath.exists()
    if resumed:
        header, _ops, end = read_journal(jpath)
        if end is not None:
            raise UserError(f"The journal {jpath} is already {end}; start a new apply without --journal.")
        if header.get("target_root") != target or header.get("mode") != mode or header.get("library_root") != lib:
            raise UserError(f"The journal {jpath} belongs to another apply (mode, target or library differ).")
        j = Journal(jpath)
    else:
        jpath = jpath or jdir / f"organize-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{mode}.jsonl"
        j = Journal(jpath, {"fsorg_journal": JOURNAL_FORMAT, "mode": mode, "library_root": lib,
                            "target_root": target, "plan": str(plan.path), "created": time.time()})
    result = ApplyResult(jpath, mode, resumed=resumed)
    delay = float(os.environ.get(DELAY_ENV) or 0)
    total = max(plan.files, 1)
    made: set[str] = set()
    batch: list[tuple[str, str, str]] = []  # (op, src, dst)

    def flush() -> None:
        if not batch:
            return
        j.write([{"op": op, "s": s, "d": d} if op != "mkdir" else {"op": op, "p": d} for op, s, d in batch])
        for op, s, d in batch:
            if op == "mkdir":
                try:
                    os.mkdir(d)
                    result.dirs_made += 1
                except FileExistsError:
                    pass
                continue
            if delay:
                time.sleep(delay)
            if should_stop():  # the rest of the batch is journaled but not done: resumable
                batch.clear()
                check_stop(should_stop)
            try:
                _do(op, s, d, result)
                result.done += 1
            except FileExistsError:
                result.skipped.append(f"{d}: already exists (not overwritten)")
            except FileNotFoundError:
                result.skipped.append(f"{s}: gone before it could be placed")
        batch.clear()
        n = result.files + len(result.skipped)
        progress(min(n / total, 0.99), f"{n:,} of {plan.files:,} files")
        check_stop(should_stop)

    def ensure_dir(d: str) -> None:
        chain = []
        cur = d
        while cur not in made and not os.path.isdir(cur):
            chain.append(cur)
            parent = os.path.dirname(cur)
            if parent == cur:
                break
            cur = parent
        for c in reversed(chain):
            batch.append(("mkdir", "", c))
            made.add(c)
        made.add(d)

    try:
        progress(0.0, f"{'Resuming' if resumed else 'Starting'}: {plan.files:,} files, mode {mode}")
        for row in plan.rows:
            src_dir = os.path.join(lib, row.source) if row.source else lib
            dst_dir = os.path.join(target, *row.target.split("/"))
            for e in _files(src_dir):
                if mode != "move" and e.name.endswith(PART):
                    continue
                src, dst = e.path, os.path.join(dst_dir, e.name)
                st = _state(mode, src, dst)
                if st == "done":
                    result.already += 1
                    continue
                if st == "taken":
                    result.skipped.append(f"{dst}: already exists (not overwritten)")
                    continue
                if st == "finish":  # a move cut short between its two steps
                    j.write([{"op": "move", "s": src, "d": dst}])
                    os.unlink(src)
                    result.already += 1
                    continue
                if dst_dir not in made:
                    ensure_dir(dst_dir)
                batch.append((mode, src, dst))
                if len(batch) >= BATCH:
                    flush()
        flush()
        if mode == "move":
            _remove_emptied(plan, lib, target, j, result)
        j.write([{"end": "complete", "at": time.time()}])
    finally:
        j.close()
    result.seconds = time.monotonic() - t0
    progress(1.0, f"{result.files:,} files placed")
    return result


def _remove_emptied(plan: Plan, lib: str, target: str, j: Journal, result: ApplyResult) -> None:
    """Move mode: remove the source folders (and their parents) the move left empty, deepest first."""
    cands: set[str] = set()
    for row in plan.rows:
        parts = row.source.split("/") if row.source else []
        for n in range(len(parts), 0, -1):
            cands.add(os.path.join(lib, *parts[:n]))
    by_depth: dict[int, list[str]] = {}
    for c in cands:
        if not _inside(target, c):  # never the target or a folder holding it
            by_depth.setdefault(c.count(os.sep), []).append(c)
    for depth in sorted(by_depth, reverse=True):
        empty = []
        for c in sorted(by_depth[depth]):
            try:
                with os.scandir(c) as it:
                    if next(it, None) is None:
                        empty.append(c)
            except OSError:
                continue
        if not empty:
            continue
        j.write([{"op": "rmdir", "p": c} for c in empty])
        for c in empty:
            try:
                os.rmdir(c)
                result.dirs_removed += 1
            except OSError:
                pass


def undo(journal_path, *, progress=no_progress, should_stop=never_stop) -> UndoResult:
    """Undo every operation of a journal, newest first. Idempotent: safe to run again after a
    crash or Cancel. A file that changed since (or whose original is gone) is kept and listed."""
    t0 = time.monotonic()
    jpath = Path(journal_path)
    header, ops, end = read_journal(jpath)
    result = UndoResult(jpath)
    j = Journal(jpath)
    total = max(len(ops), 1)
    try:
        for n, r in enumerate(reversed(ops)):
            if n % BATCH == 0:
                check_stop(should_stop)
                progress(n / total, f"{n:,} of {len(ops):,} operations undone")
            op = r["op"]
            if op == "mkdir":
                p = r["p"]
                try:
                    os.rmdir(p)
                    result.dirs_removed += 1
                except FileNotFoundError:
                    pass
                except OSError:
                    if os.path.isdir(p):
                        result.kept.append(f"{p}: folder not empty (holds files fsorg did not put there)")
            elif op == "rmdir":
                os.makedirs(r["p"], exist_ok=True)
                result.dirs_restored += 1
            else:
                _undo_file(op, r["s"], r["d"], result)
        j.write([{"end": "undone", "at": time.time(), "was": end or "unfinished"}])
    finally:
        j.close()
    result.seconds = time.monotonic() - t0
    progress(1.0, f"{result.restored:,} files restored")
    return result


def _undo_file(op: str, src: str, dst: str, result: UndoResult) -> None:
    if not os.path.lexists(dst):
        if os.path.lexists(dst + PART):
            os.unlink(dst + PART)
        return  # never done, or undone already
    if op == "move":
        if not os.path.lexists(src):
            os.makedirs(os.path.dirname(src), exist_ok=True)
            try:
                os.link(dst, src, follow_symlinks=False)
            except OSError as e:
                if e.errno == errno.EEXIST or e.errno not in _NO_HARDLINK:
                    raise
                _copy_new(dst, src)
            os.unlink(dst)
            result.restored += 1
        elif _same_inode(src, dst) or _same_bytes(src, dst):
            os.unlink(dst)
            result.restored += 1
        else:
            result.kept.append(f"{dst}: {src} exists again with other content; both kept")
        return
    ours = (
        _is_link_to(dst, src)
        or (op in ("link",) and os.path.lexists(src) and _same_inode(src, dst))
        or (op == "copy" and _copied(src, dst))
    )
    if ours:
        os.unlink(dst)
        result.restored += 1
    elif op == "link" and not os.path.lexists(src):
        result.kept.append(f"{dst}: the original {src} is gone, this is its last copy; kept")
    else:
        result.kept.append(f"{dst}: changed since it was placed; kept")
