"""Jobs in a child process (model jobs, feature extraction): result, progress, Cancel and
errors come back to the UI thread just as for a thread job."""

from __future__ import annotations

import time

import pytest

from engine.core.jobs import Cancelled, UserError
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
    job = runner.run(in_process(counting_job, 30), title="count", pool=Pool.JOBS)
    job.progress_changed.connect(lambda f, m: seen.append(m))
    with qtbot.waitSignal(job.finished, timeout=60_000):
        pass
    assert job.status is JobStatus.DONE and job.result == {"done": 30}
    assert any(m.startswith("step") for m in seen)


def test_cancel_reaches_the_child(qtbot):
    runner = JobRunner()
    job = runner.run(in_process(counting_job, 100_000), title="long", pool=Pool.JOBS)
    qtbot.waitUntil(lambda: job.fraction > 0, timeout=60_000)
    with qtbot.waitSignal(job.finished, timeout=30_000):
        job.cancel()
    assert job.status is JobStatus.CANCELLED


@pytest.mark.parametrize("kind", ["user", "bug"])
def test_errors_keep_their_kind(qtbot, kind):
    runner = JobRunner()
    job = runner.run(in_process(failing_job, kind), title="fail", pool=Pool.JOBS)
    with qtbot.waitSignal(job.finished, timeout=60_000):
        pass
    assert job.status is JobStatus.FAILED
    if kind == "user":
        assert isinstance(job.error, UserError) and job.error.details == "line 3: bad"
    else:
        assert isinstance(job.error, WorkerError) and job.error.type_name == "ZeroDivisionError"
        assert "ZeroDivisionError" in job.error._fsorg_traceback


class Counter:
    """Lives in a ChildService's child: its state (the pid, the calls) persists between calls."""

    def __init__(self, start: int) -> None:
        self.calls = start

    def bump(self, by: int, *, progress, should_stop):
        import os

        self.calls += by
        progress(0.5, "bumped")
        return self.calls, os.getpid()

    def spin(self, *, progress, should_stop):
        while not should_stop():
            progress(0.1, "spinning")
            time.sleep(0.01)
        raise Cancelled("stopped")

    def fail(self, kind: str, *, progress, should_stop):
        return failing_job(kind, progress=progress, should_stop=should_stop)

    def die(self, *, progress, should_stop):
        import os

        os._exit(3)


def test_child_service_keeps_its_object_between_calls_cancels_and_restarts(qtbot):
    from fsorg_desktop.procjob import ChildService

    runner = JobRunner()
    svc = ChildService(Counter, 10)
    try:
        def call(method, *args):
            job = runner.run(svc.call(method, *args), pool=Pool.EXPLAIN)
            with qtbot.waitSignal(job.finished, timeout=60_000):
                pass
            return job

        a, b = call("bump", 1), call("bump", 2)
        assert a.result[0] == 11 and b.result[0] == 13  # one object, kept between calls
        assert a.result[1] == b.result[1] and svc.is_running()  # one child
        user = call("fail", "user")
        assert isinstance(user.error, UserError) and user.error.details == "line 3: bad"
        bug = call("fail", "bug")
        assert isinstance(bug.error, WorkerError) and bug.error.type_name == "ZeroDivisionError"

        spin = runner.run(svc.call("spin"), pool=Pool.EXPLAIN)
        qtbot.waitUntil(lambda: spin.fraction > 0, timeout=30_000)
        with qtbot.waitSignal(spin.finished, timeout=30_000):
            spin.cancel()
        assert spin.status is JobStatus.CANCELLED
        assert call("bump", 1).result[0] == 14  # still the same object after a cancel

        died = call("die")
        assert isinstance(died.error, WorkerError) and "stopped unexpectedly" in str(died.error)
        again = call("bump", 1)
        assert again.result[0] == 11 and again.result[1] != a.result[1]  # a fresh child
    finally:
        svc.close()
    assert not svc.is_running()
