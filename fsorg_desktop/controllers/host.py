"""What a controller may use of the window: a narrow, explicit handle instead of the window.

A controller starts jobs, asks questions, shows messages and reads the open library; it never
reaches into the window's views. Each controller gets this :class:`Host` plus the one or two
specific things it needs (the sample model, a callable), passed by the window that builds it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    from engine.core.settings import StorageSettings
    from fsorg_desktop.dialogs import DialogHost
    from fsorg_desktop.jobs import JobRunner
    from fsorg_desktop.label_controller import LabelController
    from fsorg_desktop.library import LibraryState


class Host:
    """The window's services for controllers (the library and labels are read when used:
    opening another library swaps them)."""

    def __init__(
        self,
        *,
        parent: "QWidget",
        runner: "JobRunner",
        dialogs: "DialogHost",
        library: Callable[[], "LibraryState | None"],
        labels: Callable[[], "LabelController"],
        storage: Callable[[], "StorageSettings"],
        status: Callable[[str, int], None],
        refresh_predictions: Callable[[], None],
    ) -> None:
        self.parent = parent  # the parent widget of the controllers' dialogs
        self.runner = runner
        self.dialogs = dialogs
        self._library = library
        self._labels = labels
        self._storage = storage
        self._status = status
        self.refresh_predictions = refresh_predictions

    @property
    def state(self) -> "LibraryState | None":
        return self._library()

    @property
    def labels(self) -> "LabelController":
        return self._labels()

    @property
    def storage(self) -> "StorageSettings":
        return self._storage()

    def status(self, message: str, ms: int = 10_000) -> None:
        """A transient message in the status bar."""
        self._status(message, ms)
