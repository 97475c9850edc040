"""A terminal progress display for the CLI: one redrawn line on a TTY, sparse log lines otherwise."""

from __future__ import annotations

import signal
import sys
import time


class TerminalProgress:
    def __init__(self, title: str, stream=None, width: int = 30) -> None:
        self.title = title
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.monotonic()
        self._last_draw = 0.0
        self._last_logged = -1.0
        self._drawn = False

    def __call__(self, fraction: float, message: str) -> None:
        now = time.monotonic()
        fraction = min(max(fraction, 0.0), 1.0)
        elapsed = now - self.start
        if self.tty:
            if now - self._last_draw < 0.08 and fraction < 1.0:
                return
            self._last_draw = now
            filled = int(self.width * fraction)
            bar = "#" * filled + "-" * (self.width - filled)
            eta = ""
            if 0.02 < fraction < 1.0 and elapsed > 2:
                eta = f" ETA {_fmt(elapsed / fraction - elapsed)}"
            line = f"\r{self.title} [{bar}] {fraction * 100:5.1f}% {_fmt(elapsed)}{eta}  {message}"
            cols = 120
            self.stream.write(line[:cols].ljust(cols))
            self.stream.flush()
            self._drawn = True
        else:
            # Non-interactive (CI, pipes): a line every 10 %, no carriage returns.
            step = int(fraction * 10)
            if step > self._last_logged:
                self._last_logged = step
                self.stream.write(f"{self.title}: {fraction * 100:.0f}% {message}\n")
                self.stream.flush()

    def close(self) -> None:
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()


def _fmt(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}:{seconds % 60:02d}"


class StopFlag:
    """``should_stop`` for the CLI: Ctrl-C (SIGINT) and SIGTERM set it instead of killing the job.

    A second Ctrl-C raises KeyboardInterrupt at once.
    """

    def __init__(self) -> None:
        self.stop = False
        self._old: dict[int, object] = {}

    def __enter__(self) -> "StopFlag":
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._handler)
            except ValueError:  # not the main thread
                pass
        return self

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)

    def _handler(self, signum, frame) -> None:
        if self.stop:
            raise KeyboardInterrupt
        self.stop = True
        sys.stderr.write("\nStopping… (press Ctrl-C again to abort at once)\n")

    def __call__(self) -> bool:
        return self.stop


def run_with_progress(title: str, job, /, *args, **kwargs):
    """Run an engine job on the terminal: a progress display and Ctrl-C as cancel.

    ``job(*args, progress=..., should_stop=..., **kwargs)`` is any engine function of the
    standard job shape (engine/jobs.py); its result is returned.
    """
    bar = TerminalProgress(title)
    try:
        with StopFlag() as stop:
            return job(*args, progress=bar, should_stop=stop, **kwargs)
    finally:
        bar.close()
