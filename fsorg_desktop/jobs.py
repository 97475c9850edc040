"""All background work goes through :func:`run_job` (STYLE.md §2).

Why one helper: every long engine function has the same shape
``f(..., *, progress, should_stop)``, and the UI needs the same things from each
(progress on the UI thread, a Cancel that the engine polls, errors that never
vanish on a worker thread). Concentrating that here keeps views free of threads.

Pools, one per purpose (Picard's ``_init_threads``, Anki's single collection executor):

* ``Pool.READ``   quick read-only queries for views; two threads.
* ``Pool.JOBS``   long jobs that write the databases (scan, extract, CSV import,
  train, predict); **one** thread, so only one long writer ever runs and a second
  job waits in the queue (the jobs panel shows it as "Waiting").
* ``Pool.LABELS`` the user's label edits: tiny transactions on their own single
  thread so a label is saved within milliseconds and never waits behind a
  ten-minute training run; SQLite's write lock (WAL, busy_timeout) orders them
  against the long job's batches.
* ``Pool.EXPLAIN`` calls to the explain view's model child process
  (:class:`fsorg_desktop.procjob.ChildService`); one thread, so they are answered in order
  and never hold a READ thread while the child loads its model.

The worker function must never touch widgets (Anki: "UI calls in op may crash Qt"):
it gets plain values in and returns a value; ``on_done(result, error)`` runs on the
UI thread.
"""

from __future__ import annotations

import enum
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QRunnable, Qt, QThreadPool, Signal, Slot

from engine.core.jobs import Cancelled

OnDone = Callable[[Any, BaseException | None], None]


class Pool(enum.Enum):
    READ = "read"
    JOBS = "jobs"
    LABELS = "labels"
    EXPLAIN = "explain"
    WARM = "warm"  # loading a model ahead of the job that needs it (fsorg_desktop.controllers.first_labels)


_POOL_THREADS = {Pool.READ: 2, Pool.JOBS: 1, Pool.LABELS: 1, Pool.EXPLAIN: 1, Pool.WARM: 1}


class JobStatus(enum.Enum):
    QUEUED = "Waiting"
    RUNNING = "Running"
    CANCELLING = "Cancelling"
    DONE = "Done"
    FAILED = "Failed"
    CANCELLED = "Cancelled"


class JobState(QObject):
    """One job as the UI sees it; lives on the UI thread (Orange's ``TaskState``).

    The worker calls :meth:`report` and :meth:`should_stop` (both thread-safe);
    everything else is UI-thread only. Progress is throttled to at most ten updates
    a second, so a chatty engine loop cannot flood the event queue.
    """

    progress_changed = Signal(float, str)
    status_changed = Signal(object)  # JobStatus
    finished = Signal(object, object)  # result, error (after on_done ran)

    # Internal cross-thread signals, connected with QueuedConnection.
    _worker_started = Signal()
    _worker_progress = Signal(float, str)
    _worker_done = Signal(object, object)

    MIN_INTERVAL_S = 0.1

    def __init__(self, title: str | None, pool: Pool, on_done: OnDone | None) -> None:
        super().__init__()
        self.title = title
        self.pool = pool
        self.fraction = 0.0
        self.message = ""  # JobRunner.run names the job this one waits for, if any
        self.status = JobStatus.QUEUED
        self.created_at = time.monotonic()
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.result: Any = None
        self.error: BaseException | None = None
        self.error_details: str | None = None
        self._on_done = on_done
        self._stop = threading.Event()
        self._last_emit = 0.0
        self._last_fraction = -1.0
        self._worker_started.connect(self._on_worker_started, Qt.ConnectionType.QueuedConnection)
        self._worker_progress.connect(self._on_worker_progress, Qt.ConnectionType.QueuedConnection)
        self._worker_done.connect(self._on_worker_done, Qt.ConnectionType.QueuedConnection)

    # -- worker side (any thread) -----------------------------------------------------------
    def should_stop(self) -> bool:
        return self._stop.is_set()

    def report(self, fraction: float, message: str) -> None:
        """The ``progress`` callback handed to the engine."""
        now = time.monotonic()
        if (
            fraction >= 1.0
            or now - self._last_emit >= self.MIN_INTERVAL_S
            or (fraction - self._last_fraction >= 0.1)
        ):
            self._last_emit = now
            self._last_fraction = fraction
            self._worker_progress.emit(float(fraction), str(message))

    # -- UI side ---------------------------------------------------------------------------
    @property
    def is_finished(self) -> bool:
        return self.status in (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)

    def elapsed(self) -> float:
        if self.started_at is None:
            return 0.0
        return (self.ended_at or time.monotonic()) - self.started_at

    def cancel(self) -> None:
        """Ask the job to stop; the engine raises ``Cancelled`` at its next check."""
        if self.is_finished:
            return
        self._stop.set()
        self._set_status(JobStatus.CANCELLING)

    def discard(self) -> None:
        """Cancel and drop the callback, so a superseded result never reaches a view."""
        self._on_done = None
        self.cancel()

    def _set_status(self, status: JobStatus) -> None:
        self.status = status
        self.status_changed.emit(status)

    @Slot()
    def _on_worker_started(self) -> None:
        self.started_at = time.monotonic()
        if self.message.startswith("Waiting"):
            self.message = "Starting…"
        if self.status is JobStatus.QUEUED:
            self._set_status(JobStatus.RUNNING)

    @Slot(float, str)
    def _on_worker_progress(self, fraction: float, message: str) -> None:
        self.fraction = max(0.0, min(1.0, fraction))
        if message:
            self.message = message
        self.progress_changed.emit(self.fraction, self.message)

    @Slot(object, object)
    def _on_worker_done(self, result: Any, error: BaseException | None) -> None:
        self.ended_at = time.monotonic()
        if self.started_at is None:
            self.started_at = self.ended_at
        self.result, self.error = result, error
        if error is None:
            self.fraction = 1.0
            self._set_status(JobStatus.DONE)
        elif isinstance(error, Cancelled):
            self._set_status(JobStatus.CANCELLED)
        else:
            self.error_details = getattr(error, "_fsorg_traceback", None)
            self._set_status(JobStatus.FAILED)
        callback, self._on_done = self._on_done, None
        try:
            if callback is not None:
                callback(result, error)
        finally:
            self.finished.emit(result, error)
            _LIVE.discard(self)


# Jobs in flight are kept alive here: the QRunnable holds the only other reference.
_LIVE: set[JobState] = set()


class _Runnable(QRunnable):
    def __init__(self, fn: Callable[..., Any], state: JobState) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._fn = fn
        self._state = state

    def run(self) -> None:  # worker thread
        state = self._state
        try:
            state._worker_started.emit()
        except RuntimeError:  # the app is shutting down and the state is gone: nobody to tell
            return
        result: Any = None
        error: BaseException | None = None
        try:
            if state.should_stop():
                raise Cancelled()
            result = self._fn(progress=state.report, should_stop=state.should_stop)
        except BaseException as e:  # noqa: BLE001 - every error must reach the UI thread
            if not getattr(e, "_fsorg_traceback", None):  # a child process's error brings its own
                e._fsorg_traceback = traceback.format_exc()  # type: ignore[attr-defined]
            error = e
        try:
            state._worker_done.emit(result, error)
        except RuntimeError:  # shutting down: the receiver is gone, the result has no reader
            pass


class JobRunner(QObject):
    """Owns the pools and knows every titled job (the jobs panel listens here)."""

    job_started = Signal(object)  # JobState, emitted when a titled job is queued
    job_finished = Signal(object)  # JobState

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pools: dict[Pool, QThreadPool] = {}
        self._jobs: list[JobState] = []

    def pool(self, which: Pool) -> QThreadPool:
        p = self._pools.get(which)
        if p is None:
            p = QThreadPool(self)
            p.setMaxThreadCount(_POOL_THREADS[which])
            p.setExpiryTimeout(30_000)
            self._pools[which] = p
        return p

    def run(
        self,
        fn: Callable[..., Any],
        on_done: OnDone | None = None,
        *,
        title: str | None = None,
        pool: Pool = Pool.READ,
    ) -> JobState:
        state = JobState(title, pool, on_done)
        _LIVE.add(state)
        ahead = [j for j in self._jobs if j.pool is pool and not j.is_finished and j.title]
        if pool is Pool.JOBS and ahead:  # name the job it waits for (it is in the Jobs panel)
            state.message = f"Waiting for “{ahead[-1].title}” to finish…"
        if title is not None:
            self._jobs.append(state)
            state.finished.connect(lambda *_: self._on_job_finished(state))
            self.job_started.emit(state)
        self.pool(pool).start(_Runnable(fn, state))
        return state

    def _on_job_finished(self, state: JobState) -> None:
        if state in self._jobs:
            self._jobs.remove(state)
        self.job_finished.emit(state)

    def running(self) -> list[JobState]:
        """Titled jobs that have not finished (queued ones included)."""
        return [j for j in self._jobs if not j.is_finished]

    def cancel_all(self) -> None:
        for j in self.running():
            j.cancel()

    def wait(self, msecs: int = -1) -> bool:
        """Block until every pool is idle (used on close, after cancel_all)."""
        ok = True
        deadline = None if msecs < 0 else time.monotonic() + msecs / 1000
        for p in self._pools.values():
            left = -1 if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
            ok = p.waitForDone(left) and ok
        return ok

    def drain(self, msecs: int = 10_000) -> bool:
        """Wait for the pools and deliver the pending results (tests, shutdown)."""
        ok = self.wait(msecs)
        QCoreApplication.processEvents()
        QCoreApplication.processEvents()
        return ok


_default_runner: JobRunner | None = None


def default_runner() -> JobRunner:
    """The application's runner (created on first use, parented to the QApplication)."""
    global _default_runner
    if _default_runner is None:
        _default_runner = JobRunner(QCoreApplication.instance())
    return _default_runner


def run_job(
    fn: Callable[..., Any],
    on_done: OnDone | None = None,
    *,
    title: str | None = None,
    pool: Pool = Pool.READ,
    runner: JobRunner | None = None,
) -> JobState:
    """Run ``fn(progress=..., should_stop=...)`` on a worker; ``on_done(result, error)`` on the UI thread.

    ``title`` makes the job visible in the jobs panel (with progress and Cancel);
    untitled jobs are quick background queries. ``error`` is ``None`` on success, an
    ``engine.core.jobs.Cancelled`` when cancelled, or the exception raised (its formatted
    traceback in ``JobState.error_details``). Returns the :class:`JobState`, whose
    ``cancel()`` stops the job and ``discard()`` also drops the callback.
    """
    return (runner or default_runner()).run(fn, on_done, title=title, pool=pool)


def run_query(fn: Callable[[], Any], on_done: OnDone, *, runner: JobRunner | None = None) -> JobState:
    """A read-only query without progress: ``fn()`` on the READ pool."""
    return run_job(lambda progress, should_stop: fn(), on_done, pool=Pool.READ, runner=runner)
