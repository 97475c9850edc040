"""Jobs in a child process (model jobs, feature extraction): result, progress, Cancel and
errors come back to the UI thread just as for a thread job."""

from __future__ import annotations

import time

import pytest

from engine.jobs import Cancelled, UserError
from fsorg_desktop.jobs import JobRunner, JobStatus, Pool
from fsorg_desktop.procjob import WorkerError, in_process


def counting_job(n: int, *, progress, should_stop):
    for i in range(n):
        if should_stop():
            raise Cancelled()
        progress(i / n, f"step {i}")
        time.sleep(0.01)
    return {"done": n}


def failing_job(kind: str, *, progress, should_stop):
    if kind == "user":
        raise UserError("Fix the thing.", details="line 3: bad")
    return 1 / 0


def test_result_and_progress_come_back(qtbot):
    runner = JobRunner()
    seen = []
    job = runner.run(in_process("tests.test_desktop_procjob:counting_job", 30), title="count", pool=Pool.JOBS)
    job.progress_changed.connect(lambda f, m: seen.append(m))
    with qtbot.waitSignal(job.finished, timeout=60_000):
        pass
    assert job.status is JobStatus.DONE and job.result == {"done": 30}
    assert any(m.startswith("step") for m in seen)


def test_cancel_reaches_the_child(qtbot):
    runner = JobRunner()
    job = runner.run(in_process("tests.test_desktop_procjob:counting_job", 100_000), title="long", pool=Pool.JOBS)
    qtbot.waitUntil(lambda: job.fraction > 0, timeout=60_000)
    with qtbot.waitSignal(job.finished, timeout=30_000):
        job.cancel()
    assert job.status is JobStatus.CANCELLED


@pytest.mark.parametrize("kind", ["user", "bug"])
def test_errors_keep_their_kind(qtbot, kind):
    runner = JobRunner()
    job = runner.run(in_process("tests.test_desktop_procjob:failing_job", kind), title="fail", pool=Pool.JOBS)
    with qtbot.waitSignal(job.finished, timeout=60_000):
        pass
    assert job.status is JobStatus.FAILED
    if kind == "user":
        assert isinstance(job.error, UserError) and job.error.details == "line 3: bad"
    else:
        assert isinstance(job.error, WorkerError) and job.error.type_name == "ZeroDivisionError"
        assert "ZeroDivisionError" in job.error._fsorg_traceback
