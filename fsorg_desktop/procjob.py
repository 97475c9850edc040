"""Run an engine job in a child process, so its imports and number crunching can never
hold the UI thread's GIL.

Why: a worker *thread* shares the interpreter lock with the UI thread. Importing torch or
sentence-transformers and loading a model hold it in C for up to a quarter of a second at
a time (measured: 250 ms stalls), which freezes the window. A ``spawn``ed child has its own
interpreter: the UI thread only reads progress messages from a queue.

The job keeps the engine's shape: :func:`in_process` returns a worker body
``work(progress, should_stop)`` for :func:`fsorg_desktop.jobs.run_job`. Progress and
the result come back through a queue; Cancel sets an event the child's ``should_stop``
reads; an error comes back as the same kind (``Cancelled``, ``UserError`` with its
details) or as :class:`WorkerError` carrying the child's traceback. This module imports
no Qt, so the child starts lean.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from engine.core.jobs import Cancelled, UserError

PROGRESS_INTERVAL_S = 0.05
# After Cancel, a child that has not stopped within this many seconds is terminated. The
# engine's writes are transactions and its model saves are atomic renames, so nothing is
# left half-written; this only guarantees that closing the window never hangs.
CANCEL_GRACE_S = 15.0


class WorkerError(Exception):
    """An unexpected error in the child process; ``type_name`` is the original class."""

    def __init__(self, type_name: str, message: str, tb: str) -> None:
        super().__init__(message)
        self.type_name = type_name
        self._fsorg_traceback = tb


def _lower_priority() -> None:
    """Run below the window: on a 2-core laptop a training run saturates every core, and
    the UI thread must still get one the moment it needs to draw."""
    try:
        if hasattr(os, "nice"):
            if os.getpriority(os.PRIO_PROCESS, 0) < 10:
                os.nice(10 - os.getpriority(os.PRIO_PROCESS, 0))
        else:  # Windows
            import psutil

            psutil.Process().nice(psutil.BELOW_NORMAL_PRIORITY_CLASS)
    except Exception:  # noqa: BLE001 - a priority we cannot lower is not a reason to fail
        pass


def _lower_this_thread() -> None:
    """On Linux a nice value is per thread and a child inherits its creator's: lowering
    this worker thread (it only waits on the queue) makes the child start low as well."""
    if sys.platform.startswith("linux") and hasattr(os, "setpriority"):
        try:
            current = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
            if current < 10:
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        except OSError:
            pass


def _child(q, stop, target: Callable[..., Any], args: tuple, kwargs: dict) -> None:  # runs in the child
    _lower_priority()
    last = [0.0]

    def progress(fraction: float, message: str) -> None:
        now = time.monotonic()
        if fraction >= 1.0 or now - last[0] >= PROGRESS_INTERVAL_S:
            last[0] = now
            q.put(("progress", float(fraction), str(message)))

    try:
        result = target(*args, progress=progress, should_stop=stop.is_set, **kwargs)
        q.put(("result", result))
    except Cancelled as e:
        q.put(("cancelled", str(e)))
    except UserError as e:
        q.put(("user_error", str(e), e.details))
    except BaseException as e:  # noqa: BLE001 - everything must reach the parent
        q.put(("error", type(e).__name__, str(e), traceback.format_exc()))


def in_process(target: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[..., Any]:
    """A worker body that runs ``target(*args, **kwargs, progress=, should_stop=)`` in a
    spawned child process and returns its (picklable) result. ``target`` is an imported,
    module-level function (pickled by reference: the child imports its module)."""

    def work(progress, should_stop):
        ctx = multiprocessing.get_context("spawn")
        q = ctx.Queue()
        stop = ctx.Event()
        proc = ctx.Process(target=_child, args=(q, stop, target, args, kwargs), daemon=True, name="fsorg-job")
        _lower_this_thread()  # so the child starts (interpreter, imports) below the UI thread too
        proc.start()
        stopped_at: float | None = None
        try:
            while True:
                if should_stop() and not stop.is_set():
                    stop.set()
                    stopped_at = time.monotonic()
                if stopped_at is not None and time.monotonic() - stopped_at > CANCEL_GRACE_S:
                    proc.terminate()
                    raise Cancelled(f"Stopped (the job did not respond to Cancel within {CANCEL_GRACE_S:.0f} s).")
                try:
                    msg = q.get(timeout=0.1)
                except queue.Empty:
                    if not proc.is_alive():
                        try:
                            msg = q.get(timeout=0.5)
                        except queue.Empty:
                            raise WorkerError(
                                "ProcessExit",
                                f"the background process stopped unexpectedly (exit code {proc.exitcode}); "
                                "it may have run out of memory",
                                "",
                            ) from None
                    else:
                        continue
                kind = msg[0]
                if kind == "progress":
                    if not stop.is_set():
                        progress(msg[1], msg[2])
                elif kind == "result":
                    return msg[1]
                elif kind == "cancelled":
                    raise Cancelled(msg[1])
                elif kind == "user_error":
                    raise UserError(msg[1], details=msg[2])
                else:
                    raise WorkerError(msg[1], msg[2], msg[3])
        finally:
            proc.join(10)
            if proc.is_alive():
                proc.terminate()
                proc.join(5)
            q.close()

    return work


# --------------------------------------------------------------- adapters run in the child
# Engine functions that take an open ``Databases`` get a wrapper taking the (picklable)
# ``StorageSettings``; the child opens and closes its own connections.


# --------------------------------------------------------------- a long-lived child
def _service_child(requests, replies, stop, factory: Callable[..., Any], args: tuple, kwargs: dict) -> None:  # in the child
    _lower_priority()
    obj = None
    while True:
        req = requests.get()
        if req is None:
            return
        req_id, method, m_args, m_kwargs = req
        stop.clear()
        last = [0.0]

        def progress(fraction: float, message: str, _id=req_id, last=last) -> None:
            now = time.monotonic()
            if fraction >= 1.0 or now - last[0] >= PROGRESS_INTERVAL_S:
                last[0] = now
                replies.put((_id, "progress", float(fraction), str(message)))

        try:
            if obj is None:
                obj = factory(*args, **kwargs)
            result = getattr(obj, method)(*m_args, progress=progress, should_stop=stop.is_set, **m_kwargs)
            replies.put((req_id, "result", result))
        except Cancelled as e:
            replies.put((req_id, "cancelled", str(e)))
        except UserError as e:
            replies.put((req_id, "user_error", str(e), e.details))
        except BaseException as e:  # noqa: BLE001 - everything must reach the parent
            replies.put((req_id, "error", type(e).__name__, str(e), traceback.format_exc()))


class ChildService:
    """One object living in a spawned child, called again and again (for example
    :class:`engine.active.explain.Explainer`: loading its model costs seconds once, each call after
    that milliseconds). :meth:`call` returns a worker body for ``run_job``, like
    :func:`in_process`; the child starts on the first call and keeps running until
    :meth:`close`. Calls are answered one at a time in order: run them on one worker thread
    (a single-thread pool). Cancel stops the call in the child at its next ``should_stop``.
    A child that died is started again by the next call.
    """

    def __init__(self, factory: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self._factory, self._args, self._kwargs = factory, args, kwargs
        self._lock = threading.Lock()
        self._proc = None
        self._requests = self._replies = self._stop = None
        self._next_id = 0

    def _ensure(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            return
        self._shutdown_child()
        ctx = multiprocessing.get_context("spawn")
        self._requests, self._replies, self._stop = ctx.Queue(), ctx.Queue(), ctx.Event()
        self._proc = ctx.Process(
            target=_service_child,
            args=(self._requests, self._replies, self._stop, self._factory, self._args, self._kwargs),
            daemon=True,
            name="fsorg-service",
        )
        _lower_this_thread()
        self._proc.start()

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    def call(self, method: str, *args: Any, **kwargs: Any) -> Callable[..., Any]:
        def work(progress, should_stop):
            if not self._lock.acquire(blocking=False):  # an earlier call (e.g. a warm-up) runs
                progress(0.0, "waiting for the model to load")
                while not self._lock.acquire(timeout=0.1):  # Cancel still works while waiting
                    if should_stop():
                        raise Cancelled()
            try:
                if should_stop():
                    raise Cancelled()
                self._ensure()
                self._next_id += 1
                req_id = self._next_id
                proc, replies, stop = self._proc, self._replies, self._stop
                self._requests.put((req_id, method, args, kwargs))
                while True:
                    if should_stop() and not stop.is_set():
                        stop.set()
                    try:
                        msg = replies.get(timeout=0.1)
                    except queue.Empty:
                        if not proc.is_alive():
                            raise WorkerError(
                                "ProcessExit",
                                f"the background process stopped unexpectedly (exit code {proc.exitcode})",
                                "",
                            ) from None
                        continue
                    if msg[0] != req_id:  # a reply to an older call nobody waits for any more
                        continue
                    kind = msg[1]
                    if kind == "progress":
                        if not stop.is_set():
                            progress(msg[2], msg[3])
                    elif kind == "result":
                        return msg[2]
                    elif kind == "cancelled":
                        raise Cancelled(msg[2])
                    elif kind == "user_error":
                        raise UserError(msg[2], details=msg[3])
                    else:
                        raise WorkerError(msg[2], msg[3], msg[4])
            finally:
                self._lock.release()

        return work

    def _shutdown_child(self, timeout: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if self._stop is not None:
            self._stop.set()
        try:
            self._requests.put(None)
        except (OSError, ValueError):
            pass
        proc.join(timeout)
        if proc.is_alive():
            proc.terminate()
            proc.join(2)
        for q in (self._requests, self._replies):
            try:
                q.close()
                q.cancel_join_thread()
            except (OSError, ValueError, AttributeError):
                pass

    def close(self, timeout: float = 5.0) -> None:
        """Stop the child (a call in flight is cancelled first; it gets a WorkerError or Cancelled)."""
        if self._stop is not None:
            self._stop.set()
        self._shutdown_child(timeout)



# --------------------------------------------------------------- label smarter (issue 9)
# Results cross back as plain dicts and lists: unpickling engine.active.label_next's dataclasses in the
# window would import numpy there (and hold the GIL for it) just to read a few numbers.


def label_next_job(settings, snapshot_id: int, out_csv: str, *, n: int, model, min_depth: int, max_depth: int,
                   progress, should_stop) -> list[dict[str, str]]:
    """``engine.active.label_next.uncertain_sample``: the rows of the new app sample, most uncertain first."""
    from engine.active.label_next import uncertain_sample

    _, rows = uncertain_sample(
        settings, snapshot_id, out_csv, n=n, model=model, min_depth=min_depth, max_depth=max_depth,
        progress=progress, should_stop=should_stop,
    )
    return rows


def suspects_job(settings, label_run_id, *, progress, should_stop) -> tuple[int, list[dict]]:
    """``engine.active.suspects.find_suspects`` + ``flag_suspects``: (labels judged, flagged suspects)."""
    from dataclasses import asdict

    from engine.active.suspects import find_suspects, flag_suspects

    judged = find_suspects(settings, label_run_id, progress=progress, should_stop=should_stop)
    return len(judged), [asdict(s) for s in flag_suspects(judged)]


def learning_curves_job(settings, *, batch_size: int, max_labels: int, progress, should_stop) -> dict:
    """``engine.active.curves.learning_curves`` as {strategy: [(labels, macro F1), …]} plus context."""
    from engine.active.curves import learning_curves

    res = learning_curves(
        settings, batch_size=batch_size, max_labels=max_labels, progress=progress, should_stop=should_stop
    )
    return {
        "series": {k: [(p.n_labels, p.macro_f1) for p in pts] for k, pts in res.series.items()},
        "n_pool": res.n_pool,
        "label_run_id": res.label_run_id,
        "batch_size": res.batch_size,
        "encoder": res.encoder,
    }
