"""``python organizer.py gather`` as a user runs it: the summary, bad input (one line, exit 2,
no traceback, nothing written), Ctrl-C, and ``kill -9`` part-way through a big scan."""

from __future__ import annotations

import importlib.util
import io
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.commands.gather import summary
from engine.core.settings import StorageSettings
from engine.scan.gather import GatherResult, gather
from engine.scan.snapshots import latest_complete_id
from engine.storage import Databases
from tests.conftest import ROOT, run_cli
from tests.test_scan import _ScandirFault, make_tree, walk_disk

SUMMARY = re.compile(
    r"^Scanned (?P<root>.+): (?P<folders>[\d,]+) folders, (?P<files>[\d,]+) files, (?P<errors>[\d,]+) "
    r"errors in [\d.]+ s — snapshot (?P<sid>\d+) \((?P<status>\w+)\)$",
    re.M,
)


def _int(s: str) -> int:
    return int(s.replace(",", ""))


def assert_one_line_error(r: subprocess.CompletedProcess, *needles: str) -> None:
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    for n in needles:
        assert n in lines[0]
    assert r.stdout == ""


@pytest.fixture
def small_tree(tmp_path) -> Path:
    root = tmp_path / "library"
    root.mkdir()
    make_tree(root)
    return root


@pytest.fixture(scope="module")
def big_tree(tmp_path_factory) -> Path:
    """A tree big enough that a gather runs for a while (generated like bench/scan.py's)."""
    spec = importlib.util.spec_from_file_location("bench_scan", ROOT / "bench" / "scan.py")
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench.ensure_tree(tmp_path_factory.mktemp("big"), 12_000, 48_000)


def test_gather_dev_library_prints_the_summary_and_snapshot_id(dev_library, tmp_path):
    data = tmp_path / "data"
    r = run_cli("gather", str(dev_library), "--storage", str(data))
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    m = SUMMARY.search(r.stdout)
    assert m, r.stdout
    truth = walk_disk(dev_library)
    assert _int(m["folders"]) == len(truth)
    assert _int(m["files"]) == sum(len(t["files"]) for t in truth.values())
    assert (m["errors"], m["status"], m["root"]) == ("0", "complete", str(dev_library))
    con = sqlite3.connect(data / "index.db")
    sid = int(m["sid"])
    assert con.execute("SELECT status, folder_count FROM snapshots WHERE id = ?", (sid,)).fetchone() == (
        "complete",
        len(truth),
    )
    assert con.execute(
        "SELECT count(*) FROM files JOIN folders ON folders.id = files.folder_id WHERE snapshot_id = ?",
        (sid,),
    ).fetchone()[0] == _int(m["files"])
    assert f"Next: python organizer.py model extract-features --snapshot-id {sid} --storage {data}" in r.stdout
    # a rescan is a new snapshot, and says so
    r2 = run_cli("gather", str(dev_library), "--storage", str(data))
    assert int(SUMMARY.search(r2.stdout)["sid"]) == sid + 1


def test_missing_root(tmp_path):
    data = tmp_path / "data"
    r = run_cli("gather", str(tmp_path / "no such folder"), "--storage", str(data))
    assert_one_line_error(r, "does not exist")
    assert not (data / "index.db").exists()


def test_root_that_is_a_file(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("hello")
    r = run_cli("gather", str(f), "--storage", str(tmp_path / "data"))
    assert_one_line_error(r, "is a file, not a folder", str(tmp_path))


def test_storage_that_is_a_file(small_tree, tmp_path):
    f = tmp_path / "data"
    f.write_text("not a folder")
    r = run_cli("gather", str(small_tree), "--storage", str(f))
    assert_one_line_error(r, "data folder", "--storage")
    assert f.read_text() == "not a folder"


def test_storage_that_is_not_a_database(small_tree, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "index.db").write_bytes(b"this is not sqlite" * 100)
    r = run_cli("gather", str(small_tree), "--storage", str(data))
    assert_one_line_error(r, "index.db")


def test_empty_root_and_skipped_links_in_the_summary(tmp_path):
    root = tmp_path / "empty"
    root.mkdir()
    os.symlink("..", root / "up")
    r = run_cli("gather", str(root), "--storage", str(tmp_path / "data"))
    assert r.returncode == 0, r.stderr
    m = SUMMARY.search(r.stdout)
    assert (m["folders"], m["files"], m["status"]) == ("1", "0", "complete")
    assert "Skipped 1 symbolic links" in r.stdout


@pytest.mark.skipif(not os.path.exists("/proc/self/fd"), reason="needs /proc to map fds to paths")
def test_summary_lists_the_first_errors_with_a_hint(small_tree, tmp_path, monkeypatch):
    _ScandirFault(monkeypatch, small_tree / "Czepeku" / "Tokens", "eacces")
    res = gather(small_tree, StorageSettings.from_storage_arg(tmp_path / "data"))
    out = io.StringIO()
    summary(res, out)
    text = out.getvalue()
    assert SUMMARY.search(text)["errors"] == "1"
    assert "  Czepeku/Tokens: permission denied" in text
    assert "Hint:" in text
    # many errors: only the first few, and where the rest are
    many = GatherResult(
        snapshot_id=7,
        status="complete",
        folders=10,
        files=3,
        errors=12,
        seconds=1.0,
        root="/r",
        first_errors=tuple((f"d{i}", "permission denied") for i in range(10)),
    )
    out = io.StringIO()
    summary(many, out)
    assert out.getvalue().count(": permission denied") == 5
    assert "… and 7 more (table scan_errors, snapshot 7" in out.getvalue()


def _start(tree: Path, data: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "organizer.py"), "gather", str(tree), "--storage", str(data)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(proc: subprocess.Popen, db: Path, sql: str, timeout: float = 60.0) -> bool:
    """Poll index.db (read-only, as another process would) until ``sql`` returns a true value.

    Returns False when the gather ended first."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        if db.exists():
            try:
                con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
                try:
                    if con.execute(sql).fetchone()[0]:
                        return True
                finally:
                    con.close()
            except sqlite3.OperationalError:
                pass  # schema not created yet
        time.sleep(0.002)
    raise AssertionError("gather did not get going in time")


def test_kill_9_mid_scan_leaves_a_consistent_database(big_tree, small_tree, tmp_path):
    data = tmp_path / "data"
    settings = StorageSettings.from_storage_arg(data)
    first = gather(small_tree, settings)
    con = sqlite3.connect(data / "index.db")
    before = (
        con.execute("SELECT * FROM snapshots WHERE id = ?", (first.snapshot_id,)).fetchone(),
        con.execute(
            "SELECT * FROM folders WHERE snapshot_id = ? ORDER BY id", (first.snapshot_id,)
        ).fetchall(),
        con.execute(
            "SELECT f.* FROM files f JOIN folders d ON d.id = f.folder_id WHERE d.snapshot_id = ? ORDER BY f.id",
            (first.snapshot_id,),
        ).fetchall(),
    )
    con.close()

    proc = _start(big_tree, data)
    # part-way: the snapshot row exists and at least one batch of its rows is committed
    ok = _wait_for(
        proc,
        data / "index.db",
        f"SELECT count(*) FROM folders WHERE snapshot_id > {first.snapshot_id}",
    )
    if not ok:
        pytest.fail(f"gather finished before it could be killed; make big_tree bigger ({proc.communicate()})")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    dbs = Databases.open(settings)
    assert dbs.integrity_ok()
    with dbs.index.connect() as c:
        killed = c.exec_driver_sql("SELECT id, status FROM snapshots ORDER BY id DESC LIMIT 1").one()
        assert killed.id > first.snapshot_id and killed.status == "running"
        assert (
            c.exec_driver_sql("SELECT count(*) FROM folders WHERE snapshot_id = ?", (killed.id,)).scalar() > 0
        )
    assert latest_complete_id(dbs.index) == first.snapshot_id
    dbs.dispose()
    con = sqlite3.connect(data / "index.db")
    after = (
        con.execute("SELECT * FROM snapshots WHERE id = ?", (first.snapshot_id,)).fetchone(),
        con.execute(
            "SELECT * FROM folders WHERE snapshot_id = ? ORDER BY id", (first.snapshot_id,)
        ).fetchall(),
        con.execute(
            "SELECT f.* FROM files f JOIN folders d ON d.id = f.folder_id WHERE d.snapshot_id = ? ORDER BY f.id",
            (first.snapshot_id,),
        ).fetchall(),
    )
    assert after == before
    assert len(after[1]) == first.folders and len(after[2]) == first.files

    # the next gather marks the dead scan as interrupted and works normally
    r = run_cli("gather", str(small_tree), "--storage", str(data))
    assert r.returncode == 0, r.stderr
    status, message = con.execute(
        "SELECT status, message FROM snapshots WHERE id = ?", (killed.id,)
    ).fetchone()
    assert status == "failed" and message.startswith("interrupted")
    newest = int(SUMMARY.search(r.stdout)["sid"])
    assert newest > killed.id
    dbs = Databases.open(settings)
    assert latest_complete_id(dbs.index) == newest
    dbs.dispose()
    con.close()


def test_ctrl_c_marks_the_snapshot_cancelled(big_tree, tmp_path):
    data = tmp_path / "data"
    proc = _start(big_tree, data)
    if not _wait_for(proc, data / "index.db", "SELECT count(*) FROM snapshots WHERE status = 'running'"):
        pytest.fail("gather finished before Ctrl-C could be sent; make big_tree bigger")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err
    assert "cancelled: scan stopped after" in err and "marked cancelled" in err
    con = sqlite3.connect(data / "index.db")
    status, folders, message = con.execute("SELECT status, folder_count, message FROM snapshots").fetchone()
    assert status == "cancelled" and message == "cancelled by the user"
    assert folders == con.execute("SELECT count(*) FROM folders").fetchone()[0]
    assert latest_complete_id(Databases.open(StorageSettings.from_storage_arg(data)).index) is None
