"""Fault suite, smaller cases (issue 15, item 9): each one line with exit 2, or fixed."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.conftest import ROOT
from tests.faults_support import cli, folders, make_library, one_line_error, write_labels_csv


def _scanned(tmp_path, n=20):
    lib = make_library(tmp_path / "library", n)
    data = tmp_path / "data"
    assert cli("gather", str(lib), "--storage", str(data)).returncode == 0
    return lib, data


def test_huge_folder_id_is_a_bad_row_not_a_crash(tmp_path):
    _, data = _scanned(tmp_path)
    f = tmp_path / "l.csv"
    f.write_text("folder_id,label\n99999999999999999999999,asset_type\n", encoding="utf-8")
    r = cli("model", "apply-classifications", "--input-csv", str(f), "--storage", str(data))
    assert r.returncode == 2 and "Traceback" not in r.stderr and "bug in fsorg" not in r.stderr, r.stderr
    assert "\nerror: " in "\n" + r.stderr and "far larger than any folder id" in r.stderr


def test_an_oversized_csv_is_refused_before_it_is_read(tmp_path):
    _, data = _scanned(tmp_path)
    f = tmp_path / "big.csv"
    with open(f, "w", encoding="utf-8") as fh:
        fh.write("folder_id,label\n")
        line = "1,asset_type," + "x" * 80 + "\n"
        fh.write(line * (26_000_000 // len(line)))
    r = cli("model", "apply-classifications", "--input-csv", str(f), "--storage", str(data))
    one_line_error(r, "26 MB", "up to 25 MB")


def test_a_failed_command_leaves_no_empty_databases(tmp_path):
    data = tmp_path / "fresh"
    for args in (("extract-features",), ("generate-samples", "--output-csv", str(tmp_path / "s.csv"))):
        r = cli("model", *args, "--storage", str(data))
        one_line_error(r, "Nothing is scanned", "gather")
    assert not (data / "index.db").exists() and not (data / "training.db").exists()


def test_exported_csv_is_an_ordinary_readable_file(tmp_path):
    _, data = _scanned(tmp_path)
    assert cli("model", "extract-features", "--storage", str(data)).returncode == 0
    old = os.umask(0o022)
    try:
        out = tmp_path / "s.csv"
        assert (
            cli("model", "generate-samples", "--output-csv", str(out), "--storage", str(data)).returncode == 0
        )
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_symlink_loop_root_says_loop(tmp_path):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    r = cli("gather", str(loop), "--storage", str(tmp_path / "data"))
    line = one_line_error(r, "loop")
    assert "during the scan" not in line


def test_labels_import_after_failures_still_works(tmp_path):
    """The ordinary path after all of the above: one import, exit 0."""
    _, data = _scanned(tmp_path)
    f = write_labels_csv(tmp_path / "l.csv", folders(data / "index.db")[:5])
    r = cli("model", "apply-classifications", "--input-csv", str(f), "--storage", str(data))
    assert r.returncode == 0, r.stderr


def test_screenshot_leaves_no_temporary_settings(tmp_path):
    before = set(Path(tempfile.gettempdir()).glob("fsorg-shot-*"))
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "fsorg_desktop",
            "--screenshot",
            str(tmp_path / "s.png"),
            "--storage",
            str(tmp_path / "data"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "s.png").exists()
    assert set(Path(tempfile.gettempdir()).glob("fsorg-shot-*")) == before
