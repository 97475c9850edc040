"""What a folder dropped on the window means: the one folder to scan, or why not."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDropEvent
from PySide6.QtWidgets import QMessageBox


def dropped_folder(urls: list[QUrl]) -> tuple[str | None, str]:
    """(the folder to scan, or None with a message saying what the window accepts)."""
    local = [u.toLocalFile() for u in urls if u.isLocalFile()]
    if not urls or not local:
        return None, "Drop a folder from your file manager: the root folder of your library."
    if len(local) > 1:
        dirs = [p for p in local if os.path.isdir(p)]
        return None, (
            f"You dropped {len(local)} items. Drop one folder only: the root of your library "
            f"(the folder that contains {'them' if dirs else 'your assets'})."
        )
    path = local[0]
    if os.path.isfile(path):
        return None, (
            f"“{Path(path).name}” is a file. Drop the folder that holds your library "
            "(to import a labelled CSV, use File ▸ Import labelled CSV…)."
        )
    if not os.path.isdir(path):
        return None, f"“{path}” does not exist (any more). Drop an existing folder."
    return path, ""


class DropTarget:
    """Mixin for the main window: a folder dropped anywhere on it is scanned.

    The window provides ``welcome`` (the drop zone), ``statusBar()``, ``dialogs`` and
    ``scan_folder(path)``.
    """

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if not event.mimeData().hasUrls():
            event.ignore()
            return
        event.acceptProposedAction()
        self.welcome.set_drag_active(True)
        path, why = dropped_folder(event.mimeData().urls())
        self.statusBar().showMessage(f"Release to scan {path}" if path else why)

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self.welcome.set_drag_active(False)
        self.statusBar().clearMessage()

    def dropEvent(self, event: QDropEvent) -> None:
        self.welcome.set_drag_active(False)
        path, why = dropped_folder(event.mimeData().urls() if event.mimeData().hasUrls() else [])
        event.acceptProposedAction()
        if path is None:
            self.statusBar().showMessage(why, 10_000)
            self.dialogs.message("That cannot be scanned", why, icon=QMessageBox.Icon.Information)
            return
        self.scan_folder(path)
