"""The shape every long-running engine function has.

``run_x(..., *, progress, should_stop) -> Result``: ``progress(fraction, message)``
reports a fraction in [0, 1] and a short human message; ``should_stop()`` is polled
between units of work, and the function raises :class:`Cancelled` when it returns
True. The CLI passes a terminal progress bar, the desktop app a QThreadPool worker's
signals; neither side changes the engine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

ProgressFn = Callable[[float, str], None]
StopFn = Callable[[], bool]


class Cancelled(Exception):
    """Raised by an engine job when ``should_stop()`` returned True."""

    def __init__(self, message: str = "Cancelled by the user.") -> None:
        super().__init__(message)


class UserError(Exception):
    """An error caused by input the user can fix; its message says what to do.

    The CLI prints it on one line and exits with ``exit_code`` (2 by default); the
    app shows it in a dialog. Never used for programming errors.
    """

    exit_code = 2

    def __init__(self, message: str, *, details: str | None = None) -> None:
        super().__init__(message)
        self.details = details


class Job(Protocol):  # pragma: no cover - typing only
    def __call__(self, *, progress: ProgressFn, should_stop: StopFn): ...


def no_progress(fraction: float, message: str) -> None:
    """A progress callback that ignores everything."""


def never_stop() -> bool:
    return False


def check_stop(should_stop: StopFn) -> None:
    """Raise :class:`Cancelled` if ``should_stop()`` says so."""
    if should_stop():
        raise Cancelled()


def wrap_progress(progress: ProgressFn, start: float, end: float) -> ProgressFn:
    """Map a sub-job's [0, 1] progress onto [start, end] of the parent's."""
    span = end - start

    def sub(fraction: float, message: str) -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        progress(start + span * fraction, message)

    return sub


class Throttle:
    """Calls ``progress`` at most every ``interval`` seconds (and always at 0 and 1)."""

    def __init__(self, progress: ProgressFn, interval: float = 0.1) -> None:
        self._progress = progress
        self._interval = interval
        self._last = 0.0

    def __call__(self, fraction: float, message: str) -> None:
        now = time.monotonic()
        if fraction <= 0.0 or fraction >= 1.0 or now - self._last >= self._interval:
            self._last = now
            self._progress(fraction, message)
