"""Fault suite, disk and permissions (issue 15, item 5): a full disk, a folder this user may not
write, a read-only file system, a model owned by another user. Each is one line, exit 2; gather
already met that standard, now every command does.

Full disks and read-only file systems are real (a small tmpfs), so those tests need root (they
are skipped otherwise); "another user" is real too: the command runs as nobody."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.faults_support import cli, folders, make_library, one_line_error, write_labels_csv

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
NOBODY = 65534


@pytest.fixture
def tmpfs():
    """Mount a small tmpfs; yields (path, remount) where remount(opts) changes its options."""
    if not IS_ROOT:
        pytest.skip("mounting a small file system needs root")
    where = Path(tempfile.mkdtemp(prefix="fsorg-tmpfs-"))
    mounted = []

    def mount(size: str) -> Path:
        r = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True
        )
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
        mounted.append(where)
        return where

    def remount(opts: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{opts}", str(where)], check=True)

    yield mount, remount
    for m in mounted:
        subprocess.run(["umount", "-l", str(m)], check=False)
    shutil.rmtree(where, ignore_errors=True)


def _fill(folder: Path, leave: int) -> None:
    """Fill the file system holding ``folder`` until about ``leave`` bytes are free."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while (free := shutil.disk_usage(folder).free - leave) > 0:
            try:
                os.write(fd, b"\0" * min(free, 1 << 20))
            except OSError:
                return
    finally:
        os.close(fd)


def as_nobody(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, HOME="/tmp")
    return subprocess.run(
        [
            "setpriv",
            f"--reuid={NOBODY}",
            f"--regid={NOBODY}",
            "--clear-groups",
            sys.executable,
            str(ROOT / "organizer.py"),
            *args,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def shared_dir():
    """A folder outside pytest's private tmp, so another user can reach it."""
    d = Path(tempfile.mkdtemp(prefix="fsorg-shared-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_full_disk_in_extract_features(tmp_path, tmpfs):
    mount, _ = tmpfs
    lib = make_library(tmp_path / "library", 1500)
    fs = mount("16m")
    data = fs / "data"
    assert cli("gather", str(lib), "--storage", str(data)).returncode == 0
    _fill(fs, 400 * 1024)  # room to open the databases, not to store the features
    r = cli("model", "extract-features", "--storage", str(data))
    one_line_error(r, "disk is full")


def test_read_only_file_system_says_read_only(tmp_path, tmpfs):
    mount, remount = tmpfs
    lib = make_library(tmp_path / "library", 30)
    fs = mount("16m")
    data = fs / "data"
    assert cli("gather", str(lib), "--storage", str(data)).returncode == 0
    assert cli("model", "extract-features", "--storage", str(data)).returncode == 0
    remount("ro")
    r = cli("model", "generate-samples", "--output-csv", str(tmp_path / "s.csv"), "--storage", str(data))
    line = one_line_error(r, "read-only file system", "fine")
    assert "Move it aside" not in line


@pytest.mark.skipif(not IS_ROOT, reason="running as another user needs root")
def test_storage_this_user_may_not_write(shared_dir):
    lib = make_library(shared_dir / "library", 30)
    data = shared_dir / "data"
    assert cli("gather", str(lib), "--storage", str(data)).returncode == 0
    rows = folders(data / "index.db")[:10]
    csv = write_labels_csv(shared_dir / "l.csv", rows)
    os.chmod(csv, 0o644)
    r = as_nobody("model", "apply-classifications", "--input-csv", str(csv), "--storage", str(data))
    one_line_error(r, "not writable by this user")


@pytest.mark.skipif(not IS_ROOT, reason="running as another user needs root")
def test_model_folder_owned_by_another_user(shared_dir):
    lib = make_library(shared_dir / "library", 30)
    data = shared_dir / "data"
    assert cli("gather", str(lib), "--storage", str(data)).returncode == 0
    subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", str(data)], check=True)
    model = shared_dir / "model"
    model.mkdir(mode=0o700)
    (model / "metadata.json").write_text("{}")
    r = as_nobody("model", "predict", "--model-path", str(model), "--storage", str(data))
    one_line_error(r, "Permission denied", str(model))
