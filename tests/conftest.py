"""Shared fixtures. No test reads or writes the developer's own fsorg data: every test
gets its own FS_ORGANIZER_BASE_PATH under tmp_path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
DEV_DATASET = SHARED / "datasets" / "ttrpg-dev"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _isolated_base_path(tmp_path, monkeypatch):
    base = tmp_path / "fsorg-base"
    monkeypatch.setenv("FS_ORGANIZER_BASE_PATH", str(base))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # crash logs (per-user log folder)
    yield base


@pytest.fixture(scope="session")
def dev_library(tmp_path_factory) -> Path:
    """The real-world dev library materialized on disk (empty files), once per session.

    Returns the ``library/`` folder (the root a user would drop in).
    """
    if not (DEV_DATASET / "files.txt").exists():
        pytest.skip("shared/datasets/ttrpg-dev is not next to the checkout")
    target = tmp_path_factory.mktemp("ttrpg-dev")
    subprocess.run(
        [sys.executable, str(SHARED / "datasets" / "materialize.py"), str(DEV_DATASET / "files.txt"), str(target)],
        check=True,
        capture_output=True,
    )
    return target / "library"


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
