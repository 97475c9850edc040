"""engine.scan.gather on real trees in tmp_path: counts equal the disk, and every bad case a real
user's disk has (unreadable, vanishing, linked, badly named, deeply nested folders) is handled."""

from __future__ import annotations

import errno
import os
import sqlite3
import stat
from pathlib import Path

import pytest

import engine.scan.gather as scan
from engine.core.jobs import Cancelled, UserError
from engine.core.settings import StorageSettings
from engine.scan import walker
from engine.scan.gather import GatherCancelled, gather
from engine.scan.lock import GatherLock, is_gather_running, recover_interrupted
from engine.scan.snapshots import latest_complete_id
from engine.scan.walker import extension, readable
from engine.storage import open_index

# ----------------------------------------------------------------------------- helpers


def walk_disk(root: Path) -> dict[str, dict]:
    """The truth, independently of engine.scan.gather: {rel_path: {files: {name: size}, subdirs: n}}.

    Uses lstat, so symbolic links are neither folders nor files (what gather promises)."""
    out: dict[str, dict] = {}

    def visit(path: str, rel: str) -> None:
        files, subdirs = {}, []
        for name in sorted(os.listdir(path)):
            st = os.lstat(os.path.join(path, name))
            if stat.S_ISDIR(st.st_mode):
                subdirs.append(name)
            elif stat.S_ISREG(st.st_mode):
                files[name] = st.st_size
        out[rel] = {"files": files, "subdirs": len(subdirs)}
        for name in subdirs:
            visit(os.path.join(path, name), f"{rel}/{name}" if rel else name)

    visit(str(root), "")
    return out


def db(settings: StorageSettings) -> sqlite3.Connection:
    con = sqlite3.connect(settings.index_db)
    con.row_factory = sqlite3.Row
    return con


def folders_of(con: sqlite3.Connection, sid: int) -> dict[str, sqlite3.Row]:
    rows = con.execute("SELECT * FROM folders WHERE snapshot_id = ?", (sid,)).fetchall()
    return {r["rel_path"]: r for r in rows}


def files_of(con: sqlite3.Connection, sid: int) -> dict[str, dict[str, sqlite3.Row]]:
    rows = con.execute(
        "SELECT f.*, d.rel_path FROM files f JOIN folders d ON d.id = f.folder_id WHERE d.snapshot_id = ?",
        (sid,),
    ).fetchall()
    out: dict[str, dict[str, sqlite3.Row]] = {}
    for r in rows:
        out.setdefault(r["rel_path"], {})[r["name"]] = r
    return out


def snapshot(con: sqlite3.Connection, sid: int) -> sqlite3.Row:
    return con.execute("SELECT * FROM snapshots WHERE id = ?", (sid,)).fetchone()


def assert_matches_disk(settings: StorageSettings, sid: int, root: Path) -> None:
    """Every folder and file on disk is in the snapshot, with the right counts, sizes and links."""
    truth = walk_disk(root)
    con = db(settings)
    folders = folders_of(con, sid)
    files = files_of(con, sid)
    assert set(folders) == set(truth)
    by_id = {r["id"]: r for r in folders.values()}
    for rel, t in truth.items():
        row = folders[rel]
        assert row["file_count"] == len(t["files"]), rel
        assert row["subfolder_count"] == t["subdirs"], rel
        assert row["total_size"] == sum(t["files"].values()), rel
        assert row["depth"] == (0 if rel == "" else rel.count("/") + 1), rel
        assert row["mtime"] is not None
        if rel:
            assert by_id[row["parent_id"]]["rel_path"] == rel.rpartition("/")[0]
            assert row["name"] == rel.rpartition("/")[2]
        else:
            assert row["parent_id"] is None
        got = files.get(rel, {})
        assert {n: r["size"] for n, r in got.items()} == t["files"], rel
        for name, r in got.items():
            assert r["ext"] == extension(name)
            assert r["mtime"] is not None
    s = snapshot(con, sid)
    assert s["status"] == "complete"
    assert s["folder_count"] == len(truth)
    assert s["file_count"] == sum(len(t["files"]) for t in truth.values())
    assert s["total_bytes"] == sum(sum(t["files"].values()) for t in truth.values())
    assert s["finished_at"] is not None
    con.close()


def make_tree(root: Path) -> None:
    """A small library-like tree with sizes, dots, spaces and an empty folder."""
    layout = {
        "Czepeku/Maps/Forest Temple": ["forest_day.PNG", "forest_night.png", "notes.txt"],
        "Czepeku/Maps/Forest Temple/Gridless": ["a.jpg", "b.webp"],
        "Czepeku/Tokens": ["goblin.png", ".DS_Store", "README"],
        "Dungeondraft Assets": ["pack.dungeondraft_pack", "Map v1.2 final"],
        "Empty": [],
        "Music/Ambience": ["rain.m4a", "archive.tar.gz"],
    }
    for rel, names in layout.items():
        (root / rel).mkdir(parents=True, exist_ok=True)
        for i, name in enumerate(names):
            (root / rel / name).write_bytes(b"x" * (i * 10))
    (root / "top.pdf").write_bytes(b"%PDF" * 100)


@pytest.fixture
def settings(tmp_path) -> StorageSettings:
    return StorageSettings.from_storage_arg(tmp_path / "data")


@pytest.fixture
def tree(tmp_path) -> Path:
    root = tmp_path / "library"
    root.mkdir()
    make_tree(root)
    return root


# ----------------------------------------------------------------------------- names


def test_extension_rules():
    assert extension("forest.PNG") == "png"
    assert extension("archive.tar.gz") == "gz"
    assert extension(".DS_Store") == ""
    assert extension("..hidden") == ""
    assert extension(".config.json") == "json"
    assert extension("README") == ""
    assert extension("trailing.") == ""
    assert extension("Map v1.2 final") == ""  # a version number, not an extension
    assert extension("x." + "a" * 25) == ""
    assert extension("pack.dungeondraft_pack") == "dungeondraft_pack"


def test_readable_keeps_valid_names_and_escapes_bad_bytes():
    assert readable("Forêt") == ("Forêt", None)
    name = os.fsdecode(b"caf\xe9 \xff.png")
    shown, raw = readable(name)
    assert raw == b"caf\xe9 \xff.png"
    assert shown == "caf\\xe9 \\xff.png"
    shown.encode("utf-8")  # storable as TEXT


# ----------------------------------------------------------------------------- the happy path


def test_gather_records_every_folder_and_file(tree, settings):
    res = gather(tree, settings)
    assert res.status == "complete"
    assert res.errors == 0 and res.skipped == 0
    truth = walk_disk(tree)
    assert res.folders == len(truth)
    assert res.files == sum(len(t["files"]) for t in truth.values())
    assert_matches_disk(settings, res.snapshot_id, tree)
    con = db(settings)
    s = snapshot(con, res.snapshot_id)
    assert s["root"] == str(tree)
    assert s["message"] is None
    root_row = folders_of(con, res.snapshot_id)[""]
    assert root_row["name"] == "library" and root_row["depth"] == 0
    assert latest_complete_id(open_index(settings)) == res.snapshot_id


def test_dev_library_counts_equal_the_disk(dev_library, settings):
    res = gather(dev_library, settings)
    assert res.status == "complete" and res.errors == 0
    assert_matches_disk(settings, res.snapshot_id, dev_library)


def test_rescan_makes_a_new_snapshot_and_keeps_the_old(tree, settings):
    first = gather(tree, settings)
    (tree / "New Folder").mkdir()
    (tree / "New Folder" / "new.png").write_bytes(b"1234")
    second = gather(tree, settings)
    assert second.snapshot_id > first.snapshot_id
    assert second.folders == first.folders + 1 and second.files == first.files + 1
    con = db(settings)
    ids1 = {r["id"] for r in folders_of(con, first.snapshot_id).values()}
    ids2 = {r["id"] for r in folders_of(con, second.snapshot_id).values()}
    assert not ids1 & ids2  # folder ids are global
    assert len(ids1) == first.folders and snapshot(con, first.snapshot_id)["status"] == "complete"
    assert latest_complete_id(open_index(settings)) == second.snapshot_id
    assert_matches_disk(settings, second.snapshot_id, tree)


def test_progress_is_monotone_and_ends_at_one(tree, settings, monkeypatch):
    monkeypatch.setattr(walker, "PROGRESS_INTERVAL", 0.0)
    seen: list[tuple[float, str]] = []
    gather(tree, settings, progress=lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert len(seen) > 3
    assert fractions == sorted(fractions)
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert fractions[-1] == 1.0 and fractions[-2] < 1.0
    assert "folders" in seen[-1][1] and "files" in seen[-1][1]


# ----------------------------------------------------------------------------- bad roots


def test_missing_root_is_a_user_error_and_writes_nothing(tmp_path, settings):
    with pytest.raises(UserError, match="does not exist"):
        gather(tmp_path / "nope", settings)
    assert not settings.index_db.exists()


def test_file_root_is_a_user_error(tmp_path, settings):
    f = tmp_path / "a.txt"
    f.write_text("hi")
    with pytest.raises(UserError, match="is a file, not a folder"):
        gather(f, settings)
    assert not settings.index_db.exists()


def test_empty_root(tmp_path, settings):
    root = tmp_path / "empty"
    root.mkdir()
    res = gather(root, settings)
    assert (res.status, res.folders, res.files, res.errors) == ("complete", 1, 0, 0)
    assert_matches_disk(settings, res.snapshot_id, root)


# ----------------------------------------------------------------------------- a real disk


def test_symlinks_are_not_followed_and_loops_cannot_trap_the_scan(tree, settings):
    os.symlink("..", tree / "Czepeku" / "loop")  # a loop back up
    os.symlink(".", tree / "Music" / "self")  # a loop onto itself
    os.symlink(tree / "top.pdf", tree / "Empty" / "link.pdf")  # a link to a file
    os.symlink(tree / "missing", tree / "broken")  # dangling
    os.mkfifo(tree / "a.fifo")  # a special file
    res = gather(tree, settings)
    assert res.status == "complete" and res.errors == 0
    assert res.skipped == 5
    assert_matches_disk(settings, res.snapshot_id, tree)
    con = db(settings)
    assert snapshot(con, res.snapshot_id)["skipped_count"] == 5
    names = {r[0] for r in con.execute("SELECT name FROM folders UNION SELECT name FROM files")}
    assert not names & {"loop", "self", "link.pdf", "broken", "a.fifo"}


def test_root_given_as_a_symlink_is_followed(tree, tmp_path, settings):
    link = tmp_path / "lib-link"
    os.symlink(tree, link)
    res = gather(link, settings)
    assert res.folders == len(walk_disk(tree))


def test_non_utf8_names_are_stored_losslessly_and_shown_readably(tmp_path, settings):
    root = tmp_path / "lib"
    root.mkdir()
    bad_dir = os.fsencode(root) + b"/Caf\xe9 Maps"
    try:
        os.mkdir(bad_dir)
    except OSError as e:  # pragma: no cover - a file system that refuses such names
        pytest.skip(f"cannot create a non-UTF-8 name here: {e}")
    with open(bad_dir + b"/\xff\xfeToken.PNG", "wb") as f:
        f.write(b"12345")
    os.mkdir(bad_dir + b"/sub")
    res = gather(root, settings)
    assert (res.folders, res.files, res.errors) == (3, 1, 0)
    con = db(settings)
    folders = folders_of(con, res.snapshot_id)
    assert set(folders) == {"", "Caf\\xe9 Maps", "Caf\\xe9 Maps/sub"}
    row = folders["Caf\\xe9 Maps"]
    assert row["raw_name"] == b"Caf\xe9 Maps" and row["name"] == "Caf\\xe9 Maps"
    assert folders["Caf\\xe9 Maps/sub"]["raw_name"] is None
    f = con.execute("SELECT * FROM files").fetchone()
    assert f["raw_name"] == b"\xff\xfeToken.PNG" and f["name"] == "\\xff\\xfeToken.png".replace("png", "PNG")
    assert f["ext"] == "png" and f["size"] == 5
    # lossless: the exact on-disk path can be rebuilt from the raw names
    by_id = {r["id"]: r for r in folders.values()}
    parts, cur = [], by_id[f["folder_id"]]
    while cur["parent_id"] is not None:
        parts.append(cur["raw_name"] or cur["name"].encode())
        cur = by_id[cur["parent_id"]]
    rebuilt = os.path.join(os.fsencode(root), *reversed(parts), f["raw_name"])
    assert os.path.getsize(rebuilt) == 5


def _mkdirs_deep(root: Path, names: list[str]) -> None:
    """Make root/n1/n2/... relative to open directories: works past PATH_MAX."""
    fd = os.open(root, os.O_RDONLY)
    try:
        for n in names:
            os.mkdir(n, dir_fd=fd)
            nfd = os.open(n, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        os.close(os.open("deep.png", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd))
    finally:
        os.close(fd)


def test_paths_longer_than_path_max(tmp_path, settings):
    root = tmp_path / "lib"
    root.mkdir()
    names = [f"{i:02d}-" + "x" * 200 for i in range(25)]  # > 5,000 characters in all
    _mkdirs_deep(root, names)
    res = gather(root, settings)
    assert (res.status, res.folders, res.files, res.errors) == ("complete", 26, 1, 0)
    con = db(settings)
    deepest = con.execute("SELECT * FROM folders ORDER BY depth DESC LIMIT 1").fetchone()
    assert deepest["depth"] == 25
    assert len(deepest["rel_path"]) > 5000
    assert deepest["rel_path"] == "/".join(names)
    assert con.execute("SELECT folder_id FROM files").fetchone()[0] == deepest["id"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_unreadable_folder_with_chmod(tree, settings):
    locked = tree / "Czepeku" / "Tokens"
    locked.chmod(0)
    try:
        res = gather(tree, settings)
    finally:
        locked.chmod(0o755)
    assert res.status == "complete"
    if os.geteuid() == 0:
        # root reads through chmod 000, so nothing is unreadable here (see the next test).
        assert res.errors == 0
        return
    assert res.errors == 1
    assert res.first_errors == (("Czepeku/Tokens", "permission denied"),)
    con = db(settings)
    row = folders_of(con, res.snapshot_id)["Czepeku/Tokens"]
    assert row["file_count"] == 0  # recorded (it exists), but we could not look inside


class _ScandirFault:
    """Make ``os.scandir`` misbehave for one folder (found by its path), like a real disk."""

    def __init__(self, monkeypatch, target: Path, mode: str, victim: str | None = None) -> None:
        self.real = os.scandir
        self.target = os.path.realpath(target)
        self.mode = mode
        self.victim = victim
        monkeypatch.setattr(os, "scandir", self)

    def _path(self, arg) -> str:
        if isinstance(arg, int):
            return os.readlink(f"/proc/self/fd/{arg}")
        return os.path.realpath(arg)

    def __call__(self, arg="."):
        if self._path(arg) != self.target:
            return self.real(arg)
        if self.mode == "eacces":
            raise PermissionError(errno.EACCES, "Permission denied")
        return _Wrapped(self.real(arg), self)


class _Wrapped:
    def __init__(self, it, fault: _ScandirFault) -> None:
        self.it, self.fault, self.n = it, fault, 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.it.close()

    def __iter__(self):
        return self

    def __next__(self):
        entry = next(self.it)
        self.n += 1
        if self.fault.mode == "eio" and self.n == 2:
            raise OSError(errno.EIO, "Input/output error")
        if self.fault.mode == "vanish" and entry.name == self.fault.victim:
            os.unlink(os.path.join(self.fault.target, entry.name))  # gone before its stat
        return entry


@pytest.mark.skipif(not os.path.exists("/proc/self/fd"), reason="needs /proc to map fds to paths")
def test_unreadable_folder_is_an_error_and_the_scan_goes_on(tree, settings, monkeypatch):
    """What chmod 000 does for a normal user, made to happen for root too."""
    _ScandirFault(monkeypatch, tree / "Czepeku" / "Tokens", "eacces")
    res = gather(tree, settings)
    assert res.status == "complete"
    assert res.errors == 1
    assert res.first_errors == (("Czepeku/Tokens", "permission denied"),)
    con = db(settings)
    assert [tuple(r) for r in con.execute("SELECT path, reason FROM scan_errors")] == [
        ("Czepeku/Tokens", "permission denied")
    ]
    assert snapshot(con, res.snapshot_id)["error_count"] == 1
    folders = folders_of(con, res.snapshot_id)
    assert folders["Czepeku/Tokens"]["file_count"] == 0
    # everything else is there
    truth = walk_disk(tree)
    assert set(folders) == set(truth)
    assert res.files == sum(len(t["files"]) for rel, t in truth.items() if rel != "Czepeku/Tokens")


@pytest.mark.skipif(not os.path.exists("/proc/self/fd"), reason="needs /proc to map fds to paths")
def test_io_error_mid_listing_keeps_what_was_read(tree, settings, monkeypatch):
    _ScandirFault(monkeypatch, tree / "Czepeku" / "Maps" / "Forest Temple", "eio")
    res = gather(tree, settings)
    assert res.status == "complete" and res.errors == 1
    assert res.first_errors[0][0] == "Czepeku/Maps/Forest Temple"
    assert "listing stopped early" in res.first_errors[0][1]


@pytest.mark.skipif(not os.path.exists("/proc/self/fd"), reason="needs /proc to map fds to paths")
def test_file_that_disappears_mid_scan(tree, settings, monkeypatch):
    _ScandirFault(monkeypatch, tree / "Music" / "Ambience", "vanish", victim="rain.m4a")
    res = gather(tree, settings)
    assert res.status == "complete"
    assert res.first_errors == (("Music/Ambience/rain.m4a", "disappeared during the scan"),)
    assert_matches_disk(settings, res.snapshot_id, tree)  # the file is gone from the disk too


def test_folder_that_disappears_mid_scan(tree, settings):
    """should_stop() runs before each folder is opened: remove a folder the walk has already
    listed but not yet entered."""
    import shutil

    calls = {"n": 0}

    def remove_music() -> bool:
        calls["n"] += 1
        if calls["n"] == 1:
            shutil.rmtree(tree / "Music")
        return False

    res = gather(tree, settings, should_stop=remove_music)
    assert res.status == "complete"
    assert res.first_errors == (("Music", "disappeared during the scan"),)
    con = db(settings)
    assert "Music" not in folders_of(con, res.snapshot_id)
    assert_matches_disk(settings, res.snapshot_id, tree)


# ----------------------------------------------------------------------------- cancel and crashes


def test_cancel_marks_the_snapshot_cancelled_and_never_latest(tree, settings):
    done = gather(tree, settings)
    calls = {"n": 0}

    def stop_after_three() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    with pytest.raises(GatherCancelled) as info:
        gather(tree, settings, should_stop=stop_after_three)
    assert isinstance(info.value, Cancelled)
    res = info.value.result
    assert res.status == "cancelled" and res.snapshot_id > done.snapshot_id
    assert 0 < res.folders < done.folders
    assert "cancelled" in str(info.value)
    con = db(settings)
    s = snapshot(con, res.snapshot_id)
    assert s["status"] == "cancelled" and s["finished_at"] is not None
    # the counts describe the rows that were kept
    assert s["folder_count"] == len(folders_of(con, res.snapshot_id)) == res.folders
    assert latest_complete_id(open_index(settings)) == done.snapshot_id


def test_a_snapshot_left_running_by_a_dead_process_becomes_failed(tree, settings):
    first = gather(tree, settings)
    con = db(settings)
    con.execute(
        "INSERT INTO snapshots (root, started_at, status, message) VALUES ('/x', 1.0, 'running', 'pid 1 on h')"
    )
    con.commit()
    stale = con.execute("SELECT max(id) FROM snapshots").fetchone()[0]
    assert latest_complete_id(open_index(settings)) == first.snapshot_id
    assert recover_interrupted(settings) == [stale]
    row = snapshot(con, stale)
    assert row["status"] == "failed"
    assert row["message"].startswith("interrupted") and "pid 1 on h" in row["message"]
    # and gather does the same on its own
    con.execute("INSERT INTO snapshots (root, started_at, status) VALUES ('/y', 1.0, 'running')")
    con.commit()
    stale2 = con.execute("SELECT max(id) FROM snapshots").fetchone()[0]
    gather(tree, settings)
    assert snapshot(con, stale2)["status"] == "failed"


def test_a_second_gather_into_the_same_folder_is_refused_while_one_runs(tree, settings):
    gather(tree, settings)  # creates the data folder
    lock = GatherLock(settings.data_dir)
    assert lock.acquire() and lock.locked
    try:
        assert is_gather_running(settings)
        with pytest.raises(UserError, match="Another gather is writing"):
            gather(tree, settings)
        assert recover_interrupted(settings) == []  # a live gather's snapshot is left alone
    finally:
        lock.release()
    assert not is_gather_running(settings)


def test_a_database_error_marks_the_snapshot_failed(tree, settings, monkeypatch):
    """Disk full while writing rows: a clear UserError, and the snapshot is not left running."""

    def full(*_a, **_k):
        raise sqlite3.OperationalError("database or disk is full")

    gather(tree, settings)
    monkeypatch.setattr(walker, "_write_batch", full)
    with pytest.raises(UserError, match="is full"):
        gather(tree, settings)
    con = db(settings)
    statuses = [r[0] for r in con.execute("SELECT status FROM snapshots ORDER BY id")]
    assert statuses == ["complete", "failed"]


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.exists("/proc/self/fd"), reason="needs /proc")
def test_no_directory_stays_open_after_a_complete_or_cancelled_scan(tree, settings):
    """The walk holds one directory fd per level (and prefetched ones); all are closed at the end,
    also when the scan is cancelled half-way."""
    gather(tree, settings)  # first run creates the database files
    before = _open_fds()
    gather(tree, settings)
    assert _open_fds() == before
    calls = {"n": 0}

    def stop_soon() -> bool:
        calls["n"] += 1
        return calls["n"] > 4

    with pytest.raises(GatherCancelled):
        gather(tree, settings, should_stop=stop_soon)
    assert _open_fds() == before


def test_fsorg_data_inside_the_library_is_not_scanned(tree, monkeypatch):
    """``gather . --storage data`` from inside the library: index.db is not recorded."""
    settings = StorageSettings.from_storage_arg(tree / "data")  # models/outputs would be tree/models
    (tree / "models").mkdir()
    (tree / "models" / "model.safetensors").write_bytes(b"w")
    res = gather(tree, settings)
    assert res.status == "complete" and res.skipped == 2
    con = db(settings)
    folders = folders_of(con, res.snapshot_id)
    assert "data" not in folders and "models" not in folders
    assert folders[""]["subfolder_count"] == walk_disk(tree)[""]["subdirs"] - 2
    assert not con.execute(
        "SELECT 1 FROM files WHERE name LIKE 'index.db%' OR name = 'gather.lock'"
    ).fetchall()


def test_root_that_vanishes_after_the_checks(tmp_path, settings, monkeypatch):
    """The root is removed between the checks and the walk: a clear error, snapshot failed."""
    root = tmp_path / "lib"
    root.mkdir()
    real = scan._check_root

    def check_then_remove(r):
        out = real(r)
        root.rmdir()
        return out

    monkeypatch.setattr(scan, "_check_root", check_then_remove)
    with pytest.raises(UserError, match="cannot be opened any more"):
        gather(root, settings)
    con = db(settings)
    assert [r[0] for r in con.execute("SELECT status FROM snapshots")] == ["failed"]
