"""Shared pieces of the fault suite (tests/test_faults_*.py): a library on disk, the CLI run
as a real process, and the "one line, exit 2" check every user-facing failure must pass."""

from __future__ import annotations

import csv
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

PROGRESS = re.compile(r"^[A-Z][\w ]+: +\d+% ")  # the progress lines a command prints on stderr


def make_library(root: Path, n_folders: int = 220, prefix: str = "Studio") -> Path:
    """``n_folders`` leaf folders (plus their parents), each with one empty file."""
    for i in range(n_folders):
        d = root / f"{prefix} {i % 7}" / f"maps_{i:03d}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"map_{i}.webp").write_bytes(b"")
    return root


def cli(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run(
        [sys.executable, str(ROOT / "organizer.py"), *args],
        cwd=ROOT,
        env=e,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start(*args: str, env: dict | None = None) -> subprocess.Popen:
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.Popen(
        [sys.executable, str(ROOT / "organizer.py"), *args],
        cwd=ROOT,
        env=e,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def one_line_error(r: subprocess.CompletedProcess, *needles: str) -> str:
    """Assert exit 2 with exactly one ``error:`` line on stderr that contains every needle."""
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "bug in fsorg" not in r.stderr, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip() and not PROGRESS.match(ln)]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def query(db: Path, sql: str, *params) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def folders(index_db: Path) -> list[tuple[int, str]]:
    """(id, rel_path) of every non-root folder of the newest snapshot."""
    return query(
        index_db,
        "SELECT id, rel_path FROM folders WHERE snapshot_id = (SELECT max(id) FROM snapshots) "
        "AND depth > 0 ORDER BY id",
    )


def write_labels_csv(path: Path, rows: list[tuple[int, str]], label: str = "content_subject") -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["folder_id", "path", "label"])
        for fid, rel in rows:
            w.writerow([fid, rel, label])
    return path


def newest_run_labels(training_db: Path) -> list[tuple[int, str, str]]:
    return query(
        training_db,
        "SELECT folder_id, rel_path, label FROM labels WHERE label_run_id = "
        "(SELECT max(id) FROM label_runs) ORDER BY folder_id",
    )
