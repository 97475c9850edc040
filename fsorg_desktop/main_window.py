"""The main window: a thin composer (STYLE.md §1.4, anti-pattern 5).

It builds the views, owns the actions, and wires ``*_requested`` signals to ops and to
the :class:`LabelController`. It holds no business logic: scanning, features, samples,
CSV and models are engine calls started through ``fsorg_desktop.ops``; what to show is
decided from their results.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

from PySide6.QtCore import QByteArray, QEvent, QObject, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QCloseEvent,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDropEvent,
    QKeySequence,
    QUndoGroup,
)
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QTabWidget,
)

from engine import __version__
from engine.browse import Browser, FolderFilter
from engine.jobs import Cancelled
from engine.settings import StorageSettings
from fsorg_desktop.actions import Actions, create_actions
from fsorg_desktop.app_settings import (
    GEOMETRY,
    LAST_DATA_DIR,
    SPLITTER,
    WINDOW_STATE,
    AppSettings,
    RecentLibrary,
)
from fsorg_desktop.controllers.active_actions import ActiveActions
from fsorg_desktop.controllers.model_actions import ModelActions
from fsorg_desktop.controllers.organize_actions import install_organize
from fsorg_desktop.controllers.sample_actions import SampleActions
from fsorg_desktop.dialogs import DialogHost
from fsorg_desktop.jobs import JobRunner, JobState, Pool
from fsorg_desktop.label_controller import LabelController
from fsorg_desktop.library import LibraryState
from fsorg_desktop.models.folder_tree_model import FolderTreeModel
from fsorg_desktop.models.sample_table_model import SampleTableModel
from fsorg_desktop.ops import library as lib_ops
from fsorg_desktop.ops import samples as sample_ops
from fsorg_desktop.suspects import SuspectSet
from fsorg_desktop.views.explain_view import ExplainView
from fsorg_desktop.views.folder_tree_view import FolderTreeView
from fsorg_desktop.views.jobs_panel import JobsPanel
from fsorg_desktop.views.sample_view import SampleView
from fsorg_desktop.views.welcome_view import WelcomeView

PAGE_WELCOME, PAGE_WORK = 0, 1


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


class MainWindow(QMainWindow):
    library_opened = Signal(object)  # LibraryState (snapshot may be None)
    tree_ready = Signal()  # the tree shows the library's root and its children
    model_results_changed = Signal(object)  # eval run id (or None) after a model job

    def __init__(
        self,
        storage: StorageSettings,
        *,
        app_settings: AppSettings | None = None,
        runner: JobRunner | None = None,
    ) -> None:
        super().__init__()
        self.setObjectName("fsorgMainWindow")
        self.setWindowTitle("fsorg")
        self.setAcceptDrops(True)
        self.storage = storage
        self.settings = app_settings or AppSettings()
        self.runner = runner or JobRunner(self)
        self.dialogs = DialogHost(self)
        self.state: LibraryState | None = None
        self._closing = False
        self._filter_job: JobState | None = None
        self.results_panel = None  # fsorg_desktop.views.results_view.ResultsPanel, per library
        self._results_pending: int | None = None  # an eval run to show when the tab is opened
        self._results_widened = False
        self.auto_extract = True  # extract features of a snapshot opened without them (off for --screenshot)

        self.undo_group = QUndoGroup(self)
        self.labels = LabelController(None, None, runner=self.runner, parent=self)
        self.undo_group.addStack(self.labels.undo_stack)
        self.undo_group.setActiveStack(self.labels.undo_stack)

        # -- views --
        self.suspects = SuspectSet(self)  # shared by the tree, the sample table and the filter
        self.tree_model = FolderTreeModel(self.labels, self, suspects=self.suspects)
        self.tree_view = FolderTreeView(self.tree_model)
        self.tree_view.name_filter.setAcceptDrops(False)
        self.welcome = WelcomeView()
        self.sample_model = SampleTableModel(self.labels, self, suspects=self.suspects)
        self.sample_view = SampleView(self.sample_model)
        self.side_tabs = QTabWidget()
        self.side_tabs.setDocumentMode(True)
        self.side_tabs.addTab(self.sample_view, "Sample")
        # Results: in a scroll area, so the charts' minimum size never sets the window's
        # (it has to fit a 1366x768 laptop screen).
        self._results_empty = QLabel(
            "<h3>No results yet</h3><p>Evaluate the baseline (Ctrl+B) or train a model (Ctrl+T): the "
            "Macro F1, the confusion matrix and the per-class scores appear here.</p>"
        )
        self._results_empty.setWordWrap(True)
        self._results_empty.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self._results_empty.setMargin(16)
        self._results_scroll = QScrollArea()
        self._results_scroll.setWidgetResizable(True)
        self._results_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self._results_scroll.setWidget(self._results_empty)
        self.side_tabs.addTab(self._results_scroll, "Results")
        # Explain: one view per library (it holds that library's model child process).
        self.explain_view: ExplainView | None = None
        self._explain_empty = QLabel("<h3>Explain</h3><p>Open a library, then select a folder: this tab shows "
                                     "the heuristic rule that fired, the model's top three labels and the three "
                                     "nearest folders you labelled.</p>")
        self._explain_empty.setWordWrap(True)
        self._explain_empty.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self._explain_empty.setMargin(16)
        self.explain_stack = QStackedWidget()
        self.explain_stack.addWidget(self._explain_empty)
        self.side_tabs.addTab(self.explain_stack, "Explain")
        self.side_tabs.setTabToolTip(self.side_tabs.indexOf(self.explain_stack),
                                     "Why the model labels the selected folder as it does")
        self._explain_pending: int | None = None
        self._explain_timer = QTimer(self, singleShot=True, interval=300)  # debounce: arrow keys race
        self._explain_timer.timeout.connect(self._explain_now)
        self.side_tabs.currentChanged.connect(self._on_side_tab_changed)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.tree_view)
        self.splitter.addWidget(self.side_tabs)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.welcome)
        self.stack.addWidget(self.splitter)
        self.setCentralWidget(self.stack)

        self.jobs_panel = JobsPanel(self.runner)
        self.jobs_dock = QDockWidget("Jobs", self)
        self.jobs_dock.setObjectName("jobsDock")
        self.jobs_dock.setWidget(self.jobs_panel)
        self.jobs_dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetClosable | QDockWidget.DockWidgetFeature.DockWidgetMovable
        )
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.jobs_dock)

        self.status_library = QLabel()
        self.status_labels = QLabel()
        self.statusBar().addPermanentWidget(self.status_labels)
        self.statusBar().addPermanentWidget(self.status_library)

        self.actions_ = create_actions(self)
        self.sample_actions = SampleActions(self)
        self.model_actions = ModelActions(self)
        self.active_actions = ActiveActions(self)
        self._build_menus(self.actions_)
        self._wire()
        self.organize_tabs = install_organize(self)  # Catalogue + Organize tabs (issue 19)
        self._restore_settings()
        self._update_enabled()
        # pyqtgraph (the results charts) is imported on a worker: importing it when a library
        # opens would stall the UI thread for ~0.5 s.
        self.runner.run(
            lambda progress, should_stop: importlib.import_module("fsorg_desktop.views.results_view"),
            self._on_results_module_loaded,
            pool=Pool.READ,
        )

    # ------------------------------------------------------------------------------ building
    def _build_menus(self, a: Actions) -> None:
        self.undo_action = self.undo_group.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts(QKeySequence.StandardKey.Undo)
        self.redo_action = self.undo_group.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        mb = self.menuBar()
        m = mb.addMenu("&File")
        m.addAction(a.open_folder)
        self.recent_menu = m.addMenu("Open &recent")
        m.addAction(a.rescan)
        m.addSeparator()
        m.addAction(a.import_csv)
        m.addAction(a.export_sample)
        m.addAction(a.export_tree)
        m.addSeparator()
        m.addAction(a.quit)
        m = mb.addMenu("&Edit")
        m.addAction(self.undo_action)
        m.addAction(self.redo_action)
        m.addSeparator()
        m.addAction(a.find)
        self.label_menu = mb.addMenu("&Label")
        for act in a.label.values():
            self.label_menu.addAction(act)
        self.label_menu.addAction(a.clear_label)
        self.label_menu.addAction(a.look_alikes)
        self.label_menu.addSeparator()
        self.label_menu.addAction(a.generate_samples)
        self.label_menu.addAction(a.label_next)
        m = mb.addMenu("&Model")
        m.addAction(a.evaluate_baseline)
        m.addAction(a.zero_shot)
        m.addSeparator()
        m.addAction(a.train)
        m.addAction(a.predict)
        m.addSeparator()
        m.addAction(a.find_suspects)
        m.addAction(a.learning_curves)
        m = mb.addMenu("&View")
        self.jobs_dock.toggleViewAction().setShortcut(QKeySequence("Ctrl+J"))
        m.addAction(self.jobs_dock.toggleViewAction())
        self.show_explain_action = m.addAction("&Explain the selected folder")
        self.show_explain_action.setShortcut(QKeySequence("Ctrl+Shift+X"))
        self.show_explain_action.triggered.connect(lambda: self.side_tabs.setCurrentWidget(self.explain_stack))
        m = mb.addMenu("&Help")
        m.addAction(a.shortcuts)
        m.addAction(a.about)

        tb = self.addToolBar("Main")
        tb.setObjectName("mainToolbar")
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for act in (a.open_folder, a.generate_samples, a.label_next, a.import_csv, a.export_sample):
            tb.addAction(act)
        tb.addSeparator()
        for act in (a.evaluate_baseline, a.train, a.predict):
            tb.addAction(act)

    def _wire(self) -> None:
        a = self.actions_
        a.open_folder.triggered.connect(self.choose_folder)
        a.rescan.triggered.connect(self._on_rescan)
        a.quit.triggered.connect(self.close)
        a.find.triggered.connect(self._on_find)
        a.about.triggered.connect(self.show_about)
        a.shortcuts.triggered.connect(self.show_shortcuts)
        for name, act in a.label.items():
            act.triggered.connect(lambda _=False, n=name: self._label_selection(n))
        a.clear_label.triggered.connect(lambda _=False: self._label_selection(None))
        self.welcome.open_requested.connect(self.choose_folder)
        self.welcome.recent_requested.connect(self.open_recent)
        self.tree_view.label_requested.connect(self._on_label_requested)
        self.tree_view.filter_requested.connect(self._on_filter_requested)
        self.tree_view.context_menu_requested.connect(self._fill_context_menu)
        self.sample_view.label_requested.connect(self._on_label_requested)
        self.sample_view.generate_requested.connect(self.sample_actions.generate_samples)
        self.sample_view.folder_selected.connect(self._on_sample_folder_selected)
        self.tree_view.folder_selected.connect(self._on_tree_folder_selected)
        sa, ma = self.sample_actions, self.model_actions
        a.generate_samples.triggered.connect(sa.generate_samples)
        a.export_sample.triggered.connect(lambda: sa.export_sample())
        a.export_tree.triggered.connect(lambda: sa.export_tree())
        a.import_csv.triggered.connect(lambda: sa.import_csv())
        sa.sample_generated.connect(self._on_sample_generated)
        a.evaluate_baseline.triggered.connect(ma.evaluate_baseline)
        a.zero_shot.triggered.connect(ma.run_zero_shot)
        a.train.triggered.connect(ma.train)
        a.predict.triggered.connect(ma.predict_all)
        ma.results_available.connect(self._on_model_results)
        ma.model_trained.connect(self._on_model_trained)
        aa = self.active_actions
        a.label_next.triggered.connect(lambda: aa.label_next())
        self.sample_view.label_next_requested.connect(lambda: aa.label_next())
        aa.sample_generated.connect(self._on_sample_generated)
        a.find_suspects.triggered.connect(lambda: aa.find_suspects())
        aa.suspects_found.connect(self._on_suspects_found)
        a.look_alikes.triggered.connect(lambda: aa.apply_to_look_alikes())
        a.learning_curves.triggered.connect(lambda: aa.learning_curves())
        aa.curves_ready.connect(self._show_curves)
        self.sample_view.context_menu_requested.connect(self._fill_context_menu)
        self.tree_view.folder_selected.connect(self._schedule_explain)
        self.sample_view.folder_selected.connect(self._schedule_explain)
        self.sample_view.table.installEventFilter(self)
        self.sample_model.modelReset.connect(self._update_enabled)
        self.runner.job_started.connect(self._on_job_started)
        self.runner.job_finished.connect(lambda _job: self._update_enabled())
        self.tree_view.tree.installEventFilter(self)

    # ------------------------------------------------------------------------------ library
    def open_storage(self, storage: StorageSettings, *, root: str | None = None) -> None:
        """Open a data folder (in the background) and show its newest snapshot, or the drop zone."""
        self.storage = storage
        self.settings.set(LAST_DATA_DIR, str(storage.data_dir))
        self.statusBar().showMessage(f"Opening {storage.data_dir} …")

        def done(state: LibraryState | None, error: BaseException | None) -> None:
            if error is not None:
                self.stack.setCurrentIndex(PAGE_WELCOME)
                self.dialogs.error("Could not open the library", error, "Opening the data folder")
                return
            self.adopt(state)

        lib_ops.open_library_op(self.runner, storage, done, root=root)

    def adopt(self, state: LibraryState) -> None:
        """Show ``state`` (UI thread): swap the label controller, the browser and the page."""
        old = self.state
        self.state = state
        if old is not None and old.dbs is not state.dbs:
            old.dbs.dispose()
        ctl = LabelController(
            state.dbs,
            state.snapshot.id if state.snapshot else None,
            state.labels,
            run_id=state.label_run_id,
            runner=self.runner,
            parent=self,
        )
        self._set_label_controller(ctl)
        self.suspects.clear()
        self._install_explain_view(state)
        if state.snapshot is None:
            self.tree_model.set_browser(None)
            self.sample_model.set_rows([])
            self.stack.setCurrentIndex(PAGE_WELCOME)
            self.welcome.set_recent(self.settings.recent())
            self.setWindowTitle("fsorg")
            self.statusBar().showMessage("Drop the root folder of your library on the window to begin.")
        else:
            snap = state.snapshot
            self.tree_model.set_root_title(state.root_name)
            self.tree_model.set_browser(Browser.for_settings(state.settings, snap.id))
            self.stack.setCurrentIndex(PAGE_WORK)
            self.setWindowTitle(f"{state.root_name} — fsorg")
            self.status_library.setText(
                f"{state.root_name}: {snap.folder_count:,} folders, {snap.file_count:,} files "
                f"(snapshot {snap.id})"
            )
            self.statusBar().clearMessage()
            self.settings.add_recent(RecentLibrary(str(state.settings.data_dir), snap.root))
            self.sample_model.set_rows([])
            sample_ops.load_sample_op(self.runner, state.settings, snap.id, self._on_sample_loaded(snap.id))
            QTimer.singleShot(0, self, self._announce_tree_ready)
            if (
                self.auto_extract
                and not state.has_features
                and not any(j.title == "Extract features" for j in self.runner.running())
            ):
                # A fresh scan, or a library closed before its extraction finished.
                self.extract_features(state)
        self._refresh_recent_menu()
        self._update_label_status()
        self._update_enabled()
        self.library_opened.emit(state)

    # ------------------------------------------------------------------------------ explain
    def _install_explain_view(self, state: LibraryState) -> None:
        old = self.explain_view
        if old is not None:
            old.shutdown()
            self.explain_stack.removeWidget(old)
            old.deleteLater()
            self.explain_view = None
        self._explain_pending = None
        if state.snapshot is None:
            self.explain_stack.setCurrentWidget(self._explain_empty)
            return
        view = ExplainView(state.settings, model=self.active_model_path(), runner=self.runner)
        view.folder_activated.connect(self.reveal_folder)
        view.message_shown.connect(lambda msg: self.statusBar().showMessage(msg, 10_000))
        self.explain_view = view
        self.explain_stack.addWidget(view)
        self.explain_stack.setCurrentWidget(view)

    def active_model_path(self) -> str | None:
        """The model folder this session trained, if any (None: the newest trained, or the baseline)."""
        path = self.model_actions.model_path
        return path if path and Path(path).is_dir() else None

    def _schedule_explain(self, folder_id: int) -> None:
        self._explain_pending = folder_id
        if self.side_tabs.currentWidget() is self.explain_stack:
            self._explain_timer.start()

    def _explain_now(self) -> None:
        """Explain the folder selected last, only while the tab is on screen (the first
        explanation starts a model process: no reason to pay for it unseen)."""
        view = self.explain_view
        fid = self._explain_pending
        if view is None or fid is None or self.side_tabs.currentWidget() is not self.explain_stack:
            return
        sus = self.suspects.get(fid, self.labels.label_of(fid))
        view.set_note(None if sus is None else "⚠ " + SuspectSet.tooltip(sus))
        if view.folder_id != fid or (view.explanation is None and not view.is_busy()):
            view.show_folder(fid)

    def _on_model_trained(self, path: str) -> None:
        if self.explain_view is not None:
            self.explain_view.set_model(path)

    # ------------------------------------------------------------------------------ label smarter
    def _on_suspects_found(self, flags: list) -> None:
        if flags:
            self.tree_view.show_suspects()  # the flat list of suspects, ⚠ in "Your label"
            self.tree_view.tree.setFocus()

    def _show_curves(self, result: dict) -> None:
        from fsorg_desktop.views.learning_curve_view import LearningCurveDialog

        self.dialogs.keep(LearningCurveDialog(result, self))

    def _announce_tree_ready(self) -> None:
        self.tree_view.expand_root()
        self.tree_view.tree.setFocus()
        self.tree_ready.emit()

    def _set_label_controller(self, ctl: LabelController) -> None:
        old = self.labels
        self.labels = ctl
        self.undo_group.addStack(ctl.undo_stack)
        self.undo_group.setActiveStack(ctl.undo_stack)
        self.tree_model.set_label_controller(ctl)
        ctl.labels_changed.connect(lambda _ids: self._update_label_status())
        ctl.labels_reset.connect(self._update_label_status)
        ctl.save_failed.connect(
            lambda msg: self.dialogs.message("Labels not saved yet", msg, icon=QMessageBox.Icon.Warning)
        )
        if old is not ctl:
            old.flush()
            self.undo_group.removeStack(old.undo_stack)
        self._on_label_controller_changed(ctl)

    def _on_label_controller_changed(self, ctl: LabelController) -> None:
        """Panels that follow the labels get the new controller; the results panel is bound
        to one library's databases, so it is rebuilt for the new one."""
        self.sample_model.set_label_controller(ctl)
        self._install_results_panel(ctl)

    def _install_results_panel(self, ctl: LabelController) -> None:
        """Drop the old library's panel; the new one is built when the tab is first shown.

        Why lazily: building the pyqtgraph charts takes ~150 ms of UI-thread time, which
        must not land in the middle of a scan (the bench measures it) but may when the user
        clicks the tab.
        """
        old = self.results_panel
        if old is not None:
            self._results_scroll.takeWidget()
            old.deleteLater()
            self.results_panel = None
        self._results_scroll.setWidget(self._results_empty)
        self._results_empty.show()
        self._results_pending = None
        if self.side_tabs.currentWidget() is self._results_scroll:
            self.ensure_results_panel()

    def ensure_results_panel(self):
        """The results panel for the open library (built now if needed), or None."""
        if self.results_panel is not None:
            return self.results_panel
        if self.state is None or self.state.snapshot is None:
            return None
        if "fsorg_desktop.views.results_view" not in sys.modules:
            return None  # still importing in the background; built when the import is done
        from fsorg_desktop.views.results_view import ResultsPanel

        panel = ResultsPanel(self.state.dbs, self.labels, runner=self.runner)
        panel.folder_activated.connect(self.reveal_folder)
        panel.retrain_requested.connect(self.model_actions.train)
        panel.message_shown.connect(lambda msg: self.statusBar().showMessage(msg, 10_000))
        self.results_panel = panel
        from PySide6.QtWidgets import QGraphicsView

        for view in panel.findChildren(QGraphicsView):  # charts must not swallow a dropped folder
            view.setAcceptDrops(False)
            view.viewport().setAcceptDrops(False)
        self._results_scroll.takeWidget()  # keep the empty-state label for the next library
        self._results_scroll.setWidget(panel)
        panel.refresh()
        return panel

    def _on_side_tab_changed(self, _index: int) -> None:
        if self.side_tabs.currentWidget() is self.explain_stack:
            if self._explain_pending is None:
                fid = self.tree_model.folder_id(self.tree_view.tree.currentIndex())
                self._explain_pending = fid
            QTimer.singleShot(0, self, self._explain_now)  # (start(0) would change the debounce interval)
        if self.side_tabs.currentWidget() is self._results_scroll:
            panel = self.ensure_results_panel()
            if panel is not None and not self._results_widened:
                # The charts want more room than the sample table: widen the side once per
                # session (up to half the window), never against a later choice of the user.
                self._results_widened = True
                sizes = self.splitter.sizes()
                total = sum(sizes)
                right = min(max(sizes[1], panel.sizeHint().width() + 20), int(total * 0.5))
                if right > sizes[1]:
                    self.splitter.setSizes([total - right, right])
            if panel is not None and self._results_pending is not None:
                pending, self._results_pending = self._results_pending, None
                self._apply_model_results(panel, pending)

    def _on_results_module_loaded(self, _module, error: BaseException | None) -> None:
        if error is not None:
            self._results_empty.setText(f"The results view is not available: {error}")
            return
        if self.side_tabs.currentWidget() is self._results_scroll:
            self.ensure_results_panel()

    def reveal_folder(self, folder_id: int) -> None:
        """Select a folder in the tree (from the results panel), leaving a filter if needed."""
        if self.tree_model.is_flat and not self.tree_model.index_for_folder(folder_id).isValid():
            self.tree_view.name_filter.clear()
            self.tree_view.label_filter.setCurrentIndex(0)
            self.tree_view.low_conf.setChecked(False)
            self.tree_model.clear_flat()
        if self.tree_model.is_flat:
            idx = self.tree_model.index_for_folder(folder_id)
            self.tree_view.tree.setCurrentIndex(idx)
            self.tree_view.tree.scrollTo(idx)
        else:
            self.tree_view.select_folder(folder_id)
        self.tree_view.tree.setFocus()

    # ------------------------------------------------------------------------------ scanning
    def choose_folder(self) -> None:
        start = str(Path.home())
        if self.state is not None and self.state.snapshot is not None:
            start = str(Path(self.state.snapshot.root).parent)
        dlg = QFileDialog(self, "Choose the root folder of your library", start)
        dlg.setFileMode(QFileDialog.FileMode.Directory)
        dlg.setOption(QFileDialog.Option.ShowDirsOnly, True)
        dlg.fileSelected.connect(lambda path: self.scan_folder(path) if path else None)
        self.dialogs.keep(dlg)

    def open_recent(self, lib: RecentLibrary) -> None:
        if not Path(lib.data_dir).exists():
            self.settings.remove_recent(lib)
            self._refresh_recent_menu()
            self.welcome.set_recent(self.settings.recent())
            self.dialogs.message(
                "Library not found",
                f"The data folder {lib.data_dir} no longer exists; it was removed from the recent list.",
                icon=QMessageBox.Icon.Warning,
            )
            return
        self.open_storage(StorageSettings.from_storage_arg(lib.data_dir), root=lib.root or None)

    def _on_rescan(self) -> None:
        if self.state is not None and self.state.snapshot is not None:
            self.scan_folder(self.state.snapshot.root)

    def scan_folder(self, root: str) -> JobState:
        """gather → open the new snapshot → extract features, all in the background."""
        self.statusBar().showMessage(f"Scanning {root} …")
        storage = self.storage

        def gathered(result, error) -> None:
            if error is not None:
                if isinstance(error, Cancelled):
                    self.statusBar().showMessage(f"Scan cancelled. {error}", 10_000)
                else:
                    self.dialogs.error("The scan did not finish", error, "Scanning")
                return
            msg = (
                f"Scanned {result.folders:,} folders and {result.files:,} files in {result.seconds:.1f} s"
                + (f"; {result.errors:,} could not be read" if result.errors else "")
                + ". Extracting features…"
            )
            self.statusBar().showMessage(msg, 15_000)

            def opened(state, err) -> None:
                if err is not None:
                    self.dialogs.error("Could not open the new snapshot", err, "Opening the snapshot")
                    return
                self.adopt(state)  # starts feature extraction: a new snapshot has none yet

            lib_ops.open_library_op(self.runner, storage, opened, snapshot_id=result.snapshot_id)

        return lib_ops.gather_op(self.runner, root, storage, gathered)

    def extract_features(self, state: LibraryState) -> JobState | None:
        if state.snapshot is None:
            return None
        snap_id = state.snapshot.id

        def done(result, error) -> None:
            if error is not None:
                if not isinstance(error, Cancelled):
                    self.dialogs.error("Feature extraction failed", error, "Extracting features")
                return
            if self.state is not None and self.state.snapshot and self.state.snapshot.id == snap_id:
                self.state.has_features = True
                self.refresh_predictions()
                self._update_enabled()
                self.statusBar().showMessage(
                    "Ready: the predicted column shows the heuristic's first guess. "
                    "Generate samples (Ctrl+G) to start labelling.",
                    15_000,
                )

        return lib_ops.extract_op(self.runner, state.settings, snap_id, done)

    def refresh_predictions(self) -> None:
        """Re-read predictions for every loaded folder (after extract or predict)."""
        if self.state is None or self.state.snapshot is None or self.tree_model.browser is None:
            return
        br = self.tree_model.browser
        br.refresh_prediction_run()
        ids = self.tree_model.loaded_ids()
        settings, snap = self.state.settings, self.state.snapshot.id

        def work(progress, should_stop):
            b = Browser.for_settings(settings, snap)
            try:
                return b.rows(ids)
            finally:
                b.close()

        def done(rows, error) -> None:
            if error is None and self.tree_model.browser is br:
                self.tree_model.update_rows(rows)

        self.runner.run(work, done, pool=Pool.READ)

    # ------------------------------------------------------------------------------ drag & drop
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
            self.welcome.set_drag_active(True)
            path, why = dropped_folder(event.mimeData().urls())
            self.statusBar().showMessage(f"Release to scan {path}" if path else why)
        else:
            event.ignore()

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

    # ------------------------------------------------------------------------------ labeling
    def focused_folder_view(self):
        """The view whose selection a menu label action applies to (the last focused)."""
        if getattr(self, "_last_focused", None) is self.sample_view.table:
            return self.sample_view
        return self.tree_view

    def _label_selection(self, label: str | None) -> None:
        view = self.focused_folder_view()
        ids = view.selected_folder_ids()
        if ids:
            self._on_label_requested(ids, label)
            view.advance()

    def _on_label_requested(self, folder_ids: list[int], label: str | None) -> None:
        if self.state is None or self.state.snapshot is None:
            return
        self.labels.set_labels(folder_ids, label)
        if label is not None and len(folder_ids) == 1:
            self.active_actions.hint_look_alikes(folder_ids[0], label)

    def _update_label_status(self) -> None:
        n = self.labels.count()
        self.status_labels.setText(f"{n:,} folder{'s' if n != 1 else ''} labelled by you")

    def _fill_context_menu(self, menu) -> None:
        for act in self.actions_.label.values():
            menu.addAction(act)
        menu.addAction(self.actions_.clear_label)
        menu.addSeparator()
        menu.addAction(self.actions_.look_alikes)
        menu.addAction(self.show_explain_action)

    # ------------------------------------------------------------------------------ filter
    def _on_find(self) -> None:
        self.tree_view.name_filter.setFocus()
        self.tree_view.name_filter.selectAll()

    def _on_filter_requested(self, flt: FolderFilter) -> None:
        if self._filter_job is not None:
            self._filter_job.discard()
            self._filter_job = None
        if not flt.active or self.state is None or self.state.snapshot is None:
            self.tree_model.clear_flat()
            self.tree_view.set_filter_status("")
            return
        settings, snap, labels = self.state.settings, self.state.snapshot.id, self.labels.labels()
        suspects = [fid for fid in self.suspects.ids() if self.suspects.get(fid, labels.get(fid)) is not None]
        if flt.label_is == FolderFilter.SUSPECT and not suspects:
            self.tree_model.set_flat_rows([], False)
            self.tree_view.set_filter_status(
                "No suspect labels: run Model ▸ Find suspect labels (Ctrl+Shift+U) — clear the filter to see the tree"
                if not len(self.suspects) else "No suspect labels left — clear the filter to see the tree"
            )
            return
        self.tree_view.set_filter_status("Searching…")

        def work(progress, should_stop):
            b = Browser.for_settings(settings, snap)
            try:
                return b.search(flt, labels, should_stop=should_stop, suspects=suspects)
            finally:
                b.close()

        def done(result, error) -> None:
            self._filter_job = None
            if error is not None:
                if not isinstance(error, Cancelled):
                    self.tree_view.set_filter_status(f"Filter failed: {error}")
                return
            rows, more = result
            if flt.label_is == FolderFilter.SUSPECT:  # most suspicious first, as the status bar says
                score = {fid: self.suspects.get(fid, labels.get(fid)) for fid in suspects}
                rows = sorted(rows, key=lambda r: -(score[r.id].score if score.get(r.id) else 0.0))
            self.tree_model.set_flat_rows(rows, more)
            self.tree_view.set_filter_status(
                f"{len(rows):,}{'+' if more else ''} matching folder{'s' if len(rows) != 1 else ''}"
                + (" (first 2,000 shown; narrow the filter)" if more else "")
                + " — clear the filter to see the tree"
            )

        self._filter_job = self.runner.run(work, done, pool=Pool.READ)

    # ------------------------------------------------------------------------------ samples
    def _on_sample_loaded(self, snapshot_id: int):
        def done(rows, error) -> None:
            if self.state is None or self.state.snapshot is None or self.state.snapshot.id != snapshot_id:
                return
            if error is not None:
                self.statusBar().showMessage(f"The saved sample could not be read ({error}); generate a new one.")
                return
            self.sample_model.set_rows(rows)

        return done

    def _on_sample_generated(self, rows: list) -> None:
        self.sample_model.set_rows(rows)
        self.side_tabs.setCurrentWidget(self.sample_view)
        self.sample_view.table.setFocus()
        if rows:
            self.sample_view.table.setCurrentIndex(self.sample_view.proxy.index(0, 0))

    def _on_sample_folder_selected(self, folder_id: int) -> None:
        if not self.tree_model.is_flat:
            self.tree_view.select_folder(folder_id)

    def _on_tree_folder_selected(self, folder_id: int) -> None:
        self.sample_view.select_folder(folder_id)

    def _on_model_results(self, eval_run_id: int | None) -> None:
        """Show a new eval run in the results panel now if it is on screen, else when it is."""
        panel = self.results_panel
        if eval_run_id is not None:
            if panel is not None and panel.isVisible():
                self._apply_model_results(panel, eval_run_id)
            else:
                self._results_pending = eval_run_id
                i = self.side_tabs.indexOf(self._results_scroll)
                self.side_tabs.setTabText(i, "Results •")
        self.model_results_changed.emit(eval_run_id)

    def _apply_model_results(self, panel, eval_run_id: int) -> None:
        self.side_tabs.setTabText(self.side_tabs.indexOf(self._results_scroll), "Results")
        base = panel.retrain_base_eval_run_id
        if base is not None and base != eval_run_id:
            panel.show_comparison(base, eval_run_id)
        else:
            panel.refresh()
            panel.show_eval_run(eval_run_id)

    # ------------------------------------------------------------------------------ misc
    def _on_job_started(self, job: JobState) -> None:
        self.jobs_dock.show()
        self._update_enabled()

    def _update_enabled(self) -> None:
        has_lib = self.state is not None and self.state.snapshot is not None
        a = self.actions_
        a.rescan.setEnabled(has_lib)
        for act in (*a.label.values(), a.clear_label, a.find, a.generate_samples, a.export_tree, a.import_csv,
                    a.evaluate_baseline, a.zero_shot, a.train, a.predict, a.label_next, a.find_suspects,
                    a.look_alikes, a.learning_curves):
            act.setEnabled(has_lib)
        self.sample_view.label_next_button.setEnabled(has_lib)
        a.export_sample.setEnabled(has_lib and self.sample_model.rowCount() > 0)
        self.sample_view.generate_button.setEnabled(has_lib)

    def _refresh_recent_menu(self) -> None:
        self.recent_menu.clear()
        items = self.settings.recent()
        for lib in items:
            act = self.recent_menu.addAction(lib.title)
            act.setToolTip(lib.data_dir)
            act.triggered.connect(lambda _=False, r=lib: self.open_recent(r))
        self.recent_menu.setEnabled(bool(items))

    def show_about(self) -> None:
        self.dialogs.message(
            "About fsorg",
            f"<b>fsorg {__version__}</b><br>Bring order to chaotic asset libraries: scan, label a few "
            "folders, and let a small model label the rest.",
            informative=f"Data folder: {self.storage.data_dir}<br>Qt {_qt_version()} · Python {_py_version()}",
        )

    def show_shortcuts(self) -> None:
        from engine.taxonomy import labels

        rows = "".join(f"<tr><td><b>{i}</b></td><td>{lb.title}</td></tr>" for i, lb in enumerate(labels(), 1))
        self.dialogs.message(
            "Keyboard shortcuts",
            "<table>"
            f"{rows}<tr><td><b>0</b> / <b>Delete</b></td><td>Clear the label</td></tr>"
            "<tr><td><b>Ctrl+Z</b></td><td>Undo</td></tr>"
            "<tr><td><b>Ctrl+Shift+Z</b></td><td>Redo</td></tr>"
            "<tr><td><b>Ctrl+F</b></td><td>Filter folders</td></tr>"
            "<tr><td><b>Enter / ↓</b></td><td>Next row</td></tr>"
            "<tr><td><b>Ctrl+G</b></td><td>Generate samples</td></tr>"
            "<tr><td><b>Ctrl+Shift+N</b></td><td>Label next 20 (where the model hesitates)</td></tr>"
            "<tr><td><b>Ctrl+L</b></td><td>Apply the label to look-alikes</td></tr>"
            "<tr><td><b>Ctrl+Shift+U</b></td><td>Find suspect labels</td></tr>"
            "<tr><td><b>Ctrl+Shift+X</b></td><td>Explain the selected folder</td></tr>"
            "<tr><td><b>Ctrl+O</b></td><td>Open (or drop) a library folder</td></tr>"
            "</table>",
            informative="After a label key the cursor moves to the next folder. Every other "
            "shortcut is listed next to its menu entry.",
        )

    # ------------------------------------------------------------------------------ settings
    def _restore_settings(self) -> None:
        geo = self.settings.get(GEOMETRY)
        if isinstance(geo, QByteArray) and not geo.isEmpty():
            self.restoreGeometry(geo)
        else:
            screen = self.screen().availableGeometry() if self.screen() else None
            w, h = 1280, 800
            if screen is not None:  # a first start on a small screen must still fit
                w, h = min(w, int(screen.width() * 0.95)), min(h, int(screen.height() * 0.9))
            self.resize(w, h)
        st = self.settings.get(WINDOW_STATE)
        if isinstance(st, QByteArray) and not st.isEmpty():
            self.restoreState(st)
        sp = self.settings.get(SPLITTER)
        if isinstance(sp, QByteArray) and not sp.isEmpty():
            self.splitter.restoreState(sp)
        else:
            self.splitter.setSizes([760, 520])
        self.welcome.set_recent(self.settings.recent())
        self._refresh_recent_menu()

    def save_settings(self) -> None:
        self.settings.set(GEOMETRY, self.saveGeometry())
        self.settings.set(WINDOW_STATE, self.saveState())
        self.settings.set(SPLITTER, self.splitter.saveState())
        self.settings.sync()

    # ------------------------------------------------------------------------------ closing
    def closeEvent(self, event: QCloseEvent) -> None:
        running = self.runner.running()
        if running and not self._closing:
            names = ", ".join(j.title or "a job" for j in running)
            if not self.dialogs.confirm(
                "Jobs are still running",
                f"{names} {'is' if len(running) == 1 else 'are'} still running.\n\n"
                "Cancel and quit? Your labels are saved; a cancelled scan or training leaves "
                "nothing half-written.",
            ):
                event.ignore()
                return
            self._closing = True
            self.statusBar().showMessage("Stopping jobs before closing…")
            self.runner.job_finished.connect(self._close_when_idle)
            self.runner.cancel_all()
            event.ignore()
            return
        if running:  # already cancelling: wait for them
            event.ignore()
            return
        self.labels.flush()
        if self.explain_view is not None:
            self.explain_view.shutdown()
        self.runner.pool(Pool.LABELS).waitForDone(10_000)
        self.save_settings()
        self.dialogs.close_all()
        event.accept()
        self.runner.wait(5000)  # quick reads still in flight (nothing long is running now)
        if self.state is not None:
            self.tree_model.set_browser(None)
            self.state.dbs.dispose()

    def _close_when_idle(self, _job: JobState) -> None:
        if not self.runner.running():
            QTimer.singleShot(0, self, self.close)

    # ------------------------------------------------------------------------------ events
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.FocusIn:
            self._last_focused = obj
        return super().eventFilter(obj, event)


def _qt_version() -> str:
    from PySide6 import __version__ as v

    return v


def _py_version() -> str:
    import platform

    return platform.python_version()


__all__ = ["MainWindow", "dropped_folder"]
