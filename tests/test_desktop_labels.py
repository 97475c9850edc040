"""LabelController and run_job: labels are saved at once to the working app run,
undo/redo round-trips through the database, and jobs deliver results and cancel."""

from __future__ import annotations

import threading
import time

import pytest

from engine.core.jobs import Cancelled
from engine.core.settings import StorageSettings
from engine.labels import saving
from engine.labels.runs import list_label_runs, load_labels
from engine.storage import Databases
from fsorg_desktop.jobs import JobRunner, JobStatus, Pool
from fsorg_desktop.label_controller import LabelController
from tests.helpers.synthetic import make_snapshot


@pytest.fixture
def small_db(tmp_path):
    settings = StorageSettings.from_storage_arg(tmp_path / "data")
    snap = make_snapshot(settings, 31, (5, 5), with_predictions=False)
    dbs = Databases.open(settings)
    yield dbs, snap
    dbs.dispose()


def _wait_saved(qtbot, ctl: LabelController, runner: JobRunner) -> None:
    qtbot.waitUntil(lambda: not ctl.is_saving(), timeout=5000)
    runner.drain()


def test_set_labels_saves_to_app_run_and_undo_redo(qtbot, small_db):
    dbs, snap = small_db
    runner = JobRunner()
    ctl = LabelController(dbs, snap, runner=runner)
    changed: list[list[int]] = []
    ctl.labels_changed.connect(changed.append)

    ctl.set_labels([2, 3], "asset_type")
    assert ctl.label_of(2) == "asset_type" and changed[-1] == [2, 3]
    _wait_saved(qtbot, ctl, runner)
    runs = list_label_runs(dbs.training)
    assert [(r.source, r.count) for r in runs] == [("app", 2)]
    assert {r.folder_id: r.label for r in load_labels(dbs.training, runs[0].id)} == {
        2: "asset_type",
        3: "asset_type",
    }

    ctl.set_labels([3], "descriptor")
    ctl.set_labels([2], None)
    _wait_saved(qtbot, ctl, runner)
    assert {r.folder_id: r.label for r in load_labels(dbs.training, runs[0].id)} == {3: "descriptor"}

    ctl.undo_stack.undo()
    ctl.undo_stack.undo()
    _wait_saved(qtbot, ctl, runner)
    assert ctl.label_of(2) == "asset_type" and ctl.label_of(3) == "asset_type"
    assert {r.folder_id: r.label for r in load_labels(dbs.training, runs[0].id)} == {
        2: "asset_type",
        3: "asset_type",
    }
    ctl.undo_stack.redo()
    _wait_saved(qtbot, ctl, runner)
    assert load_labels(dbs.training, runs[0].id)[1].label == "descriptor"
    # Still one working run: the app edits it in place.
    assert len(list_label_runs(dbs.training)) == 1
    # A fresh controller (a restart) sees the same labels.
    run_id, labels = saving.labels_for_snapshot(dbs.settings, snap)
    assert run_id == runs[0].id and labels == {2: "asset_type", 3: "descriptor"}


def test_working_run_carries_over_a_csv_run(qtbot, small_db):
    dbs, snap = small_db
    from engine.labels.runs import LabelRow, create_label_run, set_labels

    with dbs.training.begin() as c:
        csv_run = create_label_run(c, labeler="u", source="csv:x.csv", snapshot_id=snap)
        set_labels(c, csv_run, [LabelRow(4, snap, "Folder 1-00002", "other")])
    run_id, labels = saving.labels_for_snapshot(dbs.settings, snap)
    runner = JobRunner()
    ctl = LabelController(dbs, snap, labels, run_id=run_id, runner=runner)
    assert ctl.label_of(4) == "other"
    ctl.set_labels([5], "unknown")
    _wait_saved(qtbot, ctl, runner)
    runs = list_label_runs(dbs.training)
    assert [r.source for r in runs] == ["csv:x.csv", "app"]
    assert {r.folder_id: r.label for r in load_labels(dbs.training, runs[1].id)} == {4: "other", 5: "unknown"}
    assert ctl.run_id == runs[1].id


def test_unknown_label_is_rejected(small_db):
    dbs, snap = small_db
    ctl = LabelController(dbs, snap, runner=JobRunner())
    with pytest.raises(ValueError):
        ctl.set_labels([2], "not-a-label")
    assert ctl.undo_stack.count() == 0


def test_run_job_delivers_result_error_and_cancel(qtbot):
    runner = JobRunner()
    got = []
    with qtbot.waitSignal(runner.job_finished, timeout=5000):
        runner.run(lambda progress, should_stop: 41 + 1, lambda r, e: got.append((r, e)), title="answer")
    assert got == [(42, None)]

    def boom(progress, should_stop):
        raise RuntimeError("disk on fire")

    with qtbot.waitSignal(runner.job_finished, timeout=5000) as blocker:
        runner.run(boom, title="boom", pool=Pool.READ)
    job = blocker.args[0]
    assert job.status is JobStatus.FAILED and "disk on fire" in str(job.error)
    assert "RuntimeError" in job.error_details

    started = threading.Event()

    def slow(progress, should_stop):
        started.set()
        for i in range(500):
            if should_stop():
                raise Cancelled()
            progress(i / 500, f"step {i}")
            time.sleep(0.01)
        return "finished"

    job = runner.run(slow, title="slow", pool=Pool.JOBS)
    assert job in runner.running()
    assert started.wait(5)
    qtbot.waitUntil(lambda: job.fraction > 0, timeout=5000)
    with qtbot.waitSignal(job.finished, timeout=5000):
        job.cancel()
    assert job.status is JobStatus.CANCELLED and isinstance(job.error, Cancelled)
    assert runner.running() == []
