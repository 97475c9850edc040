"""Opening a data folder, scanning a library and extracting its features, in the background.

A controller apart from the window: it starts ops from :mod:`fsorg_desktop.ops.library` and
reports an opened library through :attr:`opened` (the window adopts it), a failed open
through :attr:`open_failed`, finished features through :attr:`features_ready`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox

from engine.core.jobs import Cancelled
from engine.core.settings import StorageSettings
from fsorg_desktop.app_settings import LAST_DATA_DIR, AppSettings, RecentLibrary
from fsorg_desktop.jobs import JobState
from fsorg_desktop.ops import library as lib_ops

if TYPE_CHECKING:
    from fsorg_desktop.controllers.host import Host
    from fsorg_desktop.library import LibraryState


class LibraryActions(QObject):
    opened = Signal(object)  # LibraryState (snapshot may be None)
    open_failed = Signal()
    features_ready = Signal(int)  # snapshot id whose features were just extracted
    recent_changed = Signal()  # the recent-libraries list changed
    storage_opened = Signal(object)  # StorageSettings now being opened (the window's data folder)
    scan_started = Signal()  # a scan (drop, Open, Rescan) is starting
    scan_finished = Signal(object)  # the new snapshot's id, or None when the scan failed or was cancelled

    def __init__(self, host: "Host", settings: AppSettings) -> None:
        super().__init__(host.parent)
        self.h = host
        self.settings = settings

    def open_storage(self, storage: StorageSettings, *, root: str | None = None) -> None:
        """Open a data folder (in the background) and show its newest snapshot, or the drop zone."""
        self.storage_opened.emit(storage)
        self.settings.set(LAST_DATA_DIR, str(storage.data_dir))
        self.h.status(f"Opening {storage.data_dir} …", 0)

        def done(state: "LibraryState | None", error: BaseException | None) -> None:
            if error is not None:
                self.open_failed.emit()
                self.h.dialogs.error("Could not open the library", error, "Opening the data folder")
                return
            self.opened.emit(state)

        lib_ops.open_library_op(self.h.runner, storage, done, root=root)

    def choose_folder(self) -> None:
        start = str(Path.home())
        st = self.h.state
        if st is not None and st.snapshot is not None:
            start = str(Path(st.snapshot.root).parent)
        dlg = QFileDialog(self.h.parent, "Choose the root folder of your library", start)
        dlg.setFileMode(QFileDialog.FileMode.Directory)
        dlg.setOption(QFileDialog.Option.ShowDirsOnly, True)
        dlg.fileSelected.connect(lambda path: self.scan_folder(path) if path else None)
        self.h.dialogs.keep(dlg)

    def open_recent(self, lib: RecentLibrary) -> None:
        if not Path(lib.data_dir).exists():
            self.settings.remove_recent(lib)
            self.recent_changed.emit()
            self.h.dialogs.message(
                "Library not found",
                f"The data folder {lib.data_dir} no longer exists; it was removed from the recent list.",
                icon=QMessageBox.Icon.Warning,
            )
            return
        self.open_storage(StorageSettings.from_storage_arg(lib.data_dir), root=lib.root or None)

    def rescan(self) -> None:
        st = self.h.state
        if st is not None and st.snapshot is not None:
            self.scan_folder(st.snapshot.root)

    def scan_folder(self, root: str) -> JobState:
        """gather → open the new snapshot → extract features, all in the background."""
        self.h.status(f"Scanning {root} …", 0)
        storage = self.h.storage
        self.scan_started.emit()

        def gathered(result, error) -> None:
            self.scan_finished.emit(None if error is not None else result.snapshot_id)
            if error is not None:
                if isinstance(error, Cancelled):
                    self.h.status(f"Scan cancelled. {error}", 10_000)
                else:
                    self.h.dialogs.error("The scan did not finish", error, "Scanning")
                return
            msg = (
                f"Scanned {result.folders:,} folders and {result.files:,} files in {result.seconds:.1f} s"
                + (f"; {result.errors:,} could not be read" if result.errors else "")
                + ". Extracting features…"
            )
            self.h.status(msg, 15_000)

            def opened(state, err) -> None:
                if err is not None:
                    self.h.dialogs.error("Could not open the new snapshot", err, "Opening the snapshot")
                    return
                self.opened.emit(state)  # starts feature extraction: a new snapshot has none yet

            lib_ops.open_library_op(self.h.runner, storage, opened, snapshot_id=result.snapshot_id)

        return lib_ops.gather_op(self.h.runner, root, storage, gathered)

    def extract_features(self, state: "LibraryState") -> JobState | None:
        if state.snapshot is None:
            return None
        snap_id = state.snapshot.id

        def done(result, error) -> None:
            if error is not None:
                if not isinstance(error, Cancelled):
                    self.h.dialogs.error("Feature extraction failed", error, "Extracting features")
                return
            cur = self.h.state
            if cur is not None and cur.snapshot and cur.snapshot.id == snap_id:
                cur.has_features = True
                self.h.status(
                    "Ready: the Predicted column shows the heuristic's first guess. "
                    "Generate samples (Ctrl+G) to start labelling.",
                    15_000,
                )
                self.features_ready.emit(snap_id)  # after the status: a listener may say more

        return lib_ops.extract_op(self.h.runner, state.settings, snap_id, done)
