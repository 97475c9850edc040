"""Fault suite, damaged databases (issue 15, item 7): zeroed pages inside index.db and a
training.db without its schema version are refused with what to do, and not written into
(before: samples worked and gather wrote into the damaged file; the missing version crashed and
the file was still modified)."""

from __future__ import annotations

import hashlib
import sqlite3

from tests.faults_support import cli, make_library, one_line_error


def _digest(*paths) -> list[str]:
    return [hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() and p.stat().st_size else "-" for p in paths]


def _checkpoint(db) -> None:
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()


def test_zeroed_pages_in_index_db(tmp_path):
    lib = make_library(tmp_path / "library", 300)
    data = tmp_path / "data"
    assert cli("gather", str(lib), "--storage", str(data)).returncode == 0
    assert cli("model", "extract-features", "--storage", str(data)).returncode == 0
    db = data / "index.db"
    _checkpoint(db)
    raw = bytearray(db.read_bytes())
    page = 4096
    n_pages = len(raw) // page
    assert n_pages > 6
    middle = n_pages // 2
    raw[middle * page : (middle + 2) * page] = bytes(2 * page)
    db.write_bytes(bytes(raw))
    files = [db, data / "index.db-wal", data / "training.db"]
    before = _digest(*files)
    r = cli("gather", str(lib), "--storage", str(data))
    one_line_error(r, "index.db is damaged", "gather your library again")
    r = cli("model", "generate-samples", "--output-csv", str(tmp_path / "s.csv"), "--storage", str(data))
    one_line_error(r, "index.db is damaged")
    assert _digest(*files) == before
    assert not (tmp_path / "s.csv").exists()


def test_training_db_without_its_schema_version(tmp_path):
    lib = make_library(tmp_path / "library", 20)
    data = tmp_path / "data"
    assert cli("gather", str(lib), "--storage", str(data)).returncode == 0
    assert cli("model", "extract-features", "--storage", str(data)).returncode == 0
    db = data / "training.db"
    con = sqlite3.connect(db)
    con.execute("DELETE FROM alembic_version")
    con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    before = _digest(db)
    r = cli("model", "extract-features", "--storage", str(data))
    one_line_error(r, "training.db", "no schema version")
    assert _digest(db) == before
