"""Fault suite, leftovers after ``kill -9`` (issue 15, item 6): the next run of the same command
removes what a dead run left (temporary model folders beside the model, fine-tuned bodies in the
temp folder, prediction runs left ``running``, snapshots left ``running``). Real processes, real
SIGKILL; the slow ones (real training and prediction) are marked."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.faults_support import cli, folders, make_library, query, start, write_labels_csv
from tests.test_gather_cli import _wait_for, big_tree  # noqa: F401 - the fixture

TMP = Path(tempfile.gettempdir())


def _holder(path: Path) -> subprocess.Popen:
    """A real process that makes ``path`` (a folder named with its own pid) and then waits."""
    code = (
        "import os, sys, time; from pathlib import Path; "
        "p = Path(sys.argv[1].replace('PID', str(os.getpid()))); p.mkdir(); "
        "(p / 'weights.bin').write_bytes(b'x' * 100000); print(p, flush=True); time.sleep(600)"
    )
    return subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)


def _made(proc: subprocess.Popen) -> Path:
    return Path(proc.stdout.readline().strip())


def test_the_next_train_removes_what_a_killed_one_left(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    dead_save = _holder(models / ".fsorg-tmp-clf.PID.deadbeef")
    dead_body = _holder(TMP / f"fsorg-body-PID-{os.getpid()}x")
    live_save = _holder(models / ".fsorg-tmp-clf.PID.cafecafe")
    try:
        dead = [_made(dead_save), _made(dead_body)]
        live = _made(live_save)
        for p in (dead_save, dead_body):
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
        assert all(p.exists() for p in dead)
        # The next train (here it stops early: nothing scanned yet) cleans up first.
        r = cli("model", "train", "--model-path", str(models / "clf"), "--storage", str(tmp_path / "data"))
        assert r.returncode == 2 and "Nothing is scanned" in r.stderr, r.stderr
        assert not any(p.exists() for p in dead)
        assert live.exists()  # a running train's work is left alone
    finally:
        live_save.kill()
        live_save.wait()


@pytest.mark.slow  # passes already (gather marks what a dead gather left); the tree takes a while
def test_a_double_ctrl_c_during_gather_then_the_next_gather(big_tree, tmp_path):  # noqa: F811
    data = tmp_path / "data"
    proc = start("gather", str(big_tree), "--storage", str(data))
    if not _wait_for(proc, data / "index.db", "SELECT count(*) FROM snapshots WHERE status = 'running'"):
        pytest.fail("gather finished before Ctrl-C could be sent")
    proc.send_signal(signal.SIGINT)
    time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    small = make_library(tmp_path / "small", 5)
    r = cli("gather", str(small), "--storage", str(data))
    assert r.returncode == 0, r.stderr
    statuses = [s for (s,) in query(data / "index.db", "SELECT status FROM snapshots ORDER BY id")]
    assert "running" not in statuses and statuses[-1] == "complete", statuses


# ----------------------------------------------------------------------------- slow: real models


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    base = tmp_path_factory.mktemp("labelled")
    lib = make_library(base / "library", 240)
    data = base / "data"
    assert cli("gather", str(lib), "--storage", str(data)).returncode == 0
    assert cli("model", "extract-features", "--storage", str(data)).returncode == 0
    rows = folders(data / "index.db")
    half = [r for r in rows if r[1].count("/") == 1]
    tops = [r for r in rows if r[1].count("/") == 0]
    write_labels_csv(base / "a.csv", half[:60])
    write_labels_csv(base / "b.csv", tops, label="creator_or_studio")
    for f in ("a.csv", "b.csv"):
        assert (
            cli(
                "model", "apply-classifications", "--input-csv", str(base / f), "--storage", str(data)
            ).returncode
            == 0
        )
    cfg = base / "train.json"
    cfg.write_text(json.dumps({"max_steps": 2, "batch_size": 8, "hardneg_k": 1, "abstain_precision": None}))
    return data, cfg


def _wait_path(proc, pattern_dir: Path, glob: str, timeout=300) -> list[Path]:
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        hits = list(pattern_dir.glob(glob))
        if hits:
            return hits
        time.sleep(0.005)
    return []


@pytest.mark.slow
def test_train_killed_while_saving_then_train_again(labelled, tmp_path):
    data, cfg = labelled
    model = tmp_path / "models" / "clf"
    args = ("model", "train", "--config", str(cfg), "--model-path", str(model), "--storage", str(data))
    proc = start(*args)
    hits = _wait_path(proc, model.parent, ".fsorg-tmp-clf.*/body")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert hits, "train finished before it could be killed while saving"
    bodies = list(TMP.glob(f"fsorg-body-{proc.pid}-*"))
    assert bodies and list(model.parent.glob(".fsorg-tmp-*"))
    r = cli(*args)
    assert r.returncode == 0, r.stderr
    assert not list(model.parent.glob(".fsorg-tmp-*")) and not any(b.exists() for b in bodies)


@pytest.mark.slow
def test_predict_killed_mid_store_then_predict_again(labelled, tmp_path):
    data, _ = labelled
    cfg = tmp_path / "p.json"
    cfg.write_text(json.dumps({"use_baseline": True, "labeled_only": False}))
    args = (
        "model",
        "predict",
        "--config",
        str(cfg),
        "--output-csv",
        str(tmp_path / "p.csv"),
        "--storage",
        str(data),
    )
    assert cli(*args).returncode == 0  # fills the embedding cache: the next run goes straight to storing
    proc = start(*args)
    db = data / "training.db"
    end = time.monotonic() + 300
    caught = False
    while time.monotonic() < end and proc.poll() is None:
        try:
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
            caught = bool(
                con.execute("SELECT count(*) FROM prediction_runs WHERE status='running'").fetchone()[0]
            )
            con.close()
        except sqlite3.OperationalError:
            pass
        if caught:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.001)
    proc.wait()
    assert caught, "predict finished before it could be killed mid-store"
    assert query(db, "SELECT count(*) FROM prediction_runs WHERE status='running'")[0][0] == 1
    assert cli(*args).returncode == 0
    assert query(db, "SELECT count(*) FROM prediction_runs WHERE status='running'")[0][0] == 0
    orphans = (
        "SELECT count(*) FROM predictions WHERE prediction_run_id NOT IN (SELECT id FROM prediction_runs)"
    )
    assert query(db, orphans)[0][0] == 0
