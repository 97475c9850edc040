"""Shared fixtures. No test reads or writes the developer's own fsorg data: every test
gets its own FS_ORGANIZER_BASE_PATH under tmp_path."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The small, real, labelled library the repository carries (see tests/data/ttrpg-mini/README.md):
# no test needs the development sets next to the checkout.
DEV_SET = ROOT / "tests" / "data" / "ttrpg-mini"
DEV_LABELS = DEV_SET / "folders.csv"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _isolated_base_path(tmp_path, monkeypatch):
    base = tmp_path / "fsorg-base"
    monkeypatch.setenv("FS_ORGANIZER_BASE_PATH", str(base))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # crash logs (per-user log folder)
    yield base


@dataclass(frozen=True)
class DevSet:
    """The carried library on disk: ``library`` is the root a user would drop in,
    ``labels_csv`` its folder labels (``path,label``, paths relative to ``library``)."""

    library: Path
    labels_csv: Path
    labels: dict[str, str]


def materialize(files_txt: Path, target: Path) -> Path:
    """Create every folder and (empty) file of a ``files.txt`` listing under ``target``;
    return ``target/library``. Refuses a path that is absolute or climbs out with ``..``."""
    root = target.resolve()
    for line in files_txt.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        parts = line.split("/")
        if line.startswith("/") or "\\" in line or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"{files_txt}: refusing path {line!r}")
        path = root.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    return root / "library"


def read_labels(folders_csv: Path = DEV_LABELS) -> dict[str, str]:
    with open(folders_csv, encoding="utf-8-sig", newline="") as fh:
        return {row["path"]: row["label"] for row in csv.DictReader(fh)}


@pytest.fixture(scope="session")
def dev_set(tmp_path_factory) -> DevSet:
    """The carried library materialized once per session (real folders, empty files),
    with its labels CSV beside it."""
    target = tmp_path_factory.mktemp("ttrpg-mini")
    library = materialize(DEV_SET / "files.txt", target)
    labels = read_labels()
    labels_csv = target / "labels.csv"
    with open(labels_csv, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label"])
        w.writerows(sorted(labels.items()))
    return DevSet(library=library, labels_csv=labels_csv, labels=labels)


@pytest.fixture(scope="session")
def dev_library(dev_set) -> Path:
    """The carried library's root folder on disk (``library/``)."""
    return dev_set.library


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 600):
    """Run ``python organizer.py ARGS`` in a subprocess, as a user would."""
    e = dict(os.environ)
    if env:
        e.update(env)
    return subprocess.run(
        [sys.executable, str(ROOT / "organizer.py"), *args],
        cwd=cwd or ROOT,
        env=e,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def open_window(qtbot, tmp_path):
    """``open_window(app_settings)``: a shown main window on an empty data folder of this test
    (confirmations answered yes), its jobs and child processes stopped at the end."""
    windows = []

    def make(app_settings):
        from engine.core.settings import StorageSettings
        from fsorg_desktop.main_window import MainWindow

        storage = StorageSettings.from_storage_arg(tmp_path / "data")
        w = MainWindow(storage, app_settings=app_settings)
        w.dialogs.confirm = lambda title, text: True
        qtbot.addWidget(w)
        w.show()
        with qtbot.waitSignal(w.library_opened, timeout=30_000):  # 2 busy CI cores
            w.open_storage(storage)
        windows.append(w)
        return w

    yield make
    for w in windows:
        w.runner.cancel_all()
        w.runner.drain(30_000)
        w.first_labels.shutdown()  # the model's child process, when a drop started one
        w.dialogs.close_all()
