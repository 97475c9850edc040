"""The main window: window assembly only (STYLE.md §1.4, anti-pattern 5).

It builds the views and the side tabs, creates the controllers with the narrow things each
one uses (:class:`~fsorg_desktop.controllers.host.Host` plus a model or a callable), wires
their signals, and keeps the window's own state (geometry, closing). Opening and scanning
live in :mod:`.controllers.library_actions`, the filter in :mod:`.controllers.filter_actions`,
the Results and Explain tabs in :mod:`fsorg_desktop.tabs`, menus in :mod:`.menus`.
"""

from __future__ import annotations

import importlib

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QUndoGroup
from PySide6.QtWidgets import (
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStackedWidget,
)

from engine.core.settings import StorageSettings
from fsorg_desktop.actions import create_actions, enable_for_library
from fsorg_desktop.app_settings import AppSettings, RecentLibrary, restore_window, save_window
from fsorg_desktop.controllers.active_actions import ActiveActions
from fsorg_desktop.controllers.filter_actions import FilterActions
from fsorg_desktop.controllers.first_labels import FirstLabels
from fsorg_desktop.controllers.host import Host
from fsorg_desktop.controllers.label_actions import LabelActions
from fsorg_desktop.controllers.library_actions import LibraryActions
from fsorg_desktop.controllers.model_actions import ModelActions
from fsorg_desktop.controllers.organize_actions import install_organize
from fsorg_desktop.controllers.sample_actions import SampleActions
from fsorg_desktop.controllers.tree_actions import TreeActions
from fsorg_desktop.dialogs import DialogHost
from fsorg_desktop.drop import DropTarget, dropped_folder
from fsorg_desktop.jobs import JobRunner, JobState, Pool
from fsorg_desktop.label_controller import LabelController
from fsorg_desktop.library import LibraryState
from fsorg_desktop.menus import (
    build_menus,
    connect_help,
    fill_context_menu,
    fill_recent_menu,
)
from fsorg_desktop.models.folder_tree_model import FolderTreeModel
from fsorg_desktop.models.sample_table_model import SampleTableModel
from fsorg_desktop.suspects import SuspectSet
from fsorg_desktop.tabs.explain_tab import ExplainTab
from fsorg_desktop.tabs.results_tab import RESULTS_MODULE, ResultsTab
from fsorg_desktop.tabs.side_tabs import SideTabs
from fsorg_desktop.views.banner import Banner, status_labels, with_banner
from fsorg_desktop.views.folder_tree_view import FolderTreeView
from fsorg_desktop.views.jobs_panel import JobsPanel, jobs_dock
from fsorg_desktop.views.sample_view import SampleView
from fsorg_desktop.views.welcome_view import WelcomeView

PAGE_WELCOME, PAGE_WORK = 0, 1


class MainWindow(DropTarget, QMainWindow):
    library_opened = Signal(object)  # LibraryState (snapshot may be None)
    tree_ready = Signal()  # the tree shows the library's root and its children
    model_results_changed = Signal(object)  # eval run id (or None) after a model job

    def __init__(
        self, storage: StorageSettings, *, app_settings: AppSettings | None = None, runner: JobRunner | None = None
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
        self.results_tab = ResultsTab(self.runner)
        self.explain_tab = ExplainTab(
            self.runner,
            note_for=self._suspect_note,
            current_folder=lambda: self.tree_view.current_folder_id(),
            name_for=self._folder_name,
        )
        self.side_tabs = SideTabs(self.sample_view, self.results_tab, self.explain_tab)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.tree_view)
        self.splitter.addWidget(self.side_tabs)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        self.side_tabs.splitter = self.splitter
        self.stack = QStackedWidget()
        self.stack.addWidget(self.welcome)
        self.stack.addWidget(self.splitter)
        self.banner = Banner()  # results and next steps, never a modal box
        self.setCentralWidget(with_banner(self.banner, self.stack))

        self.jobs_panel = JobsPanel(self.runner)
        self.jobs_dock = jobs_dock(self.jobs_panel, self)
        self.status_labels, self.status_library = status_labels(self.statusBar())

        # -- controllers: each gets the host and the few things it uses --
        self.host = Host(
            parent=self,
            runner=self.runner,
            dialogs=self.dialogs,
            library=lambda: self.state,
            labels=lambda: self.labels,
            storage=lambda: self.storage,
            status=lambda msg, ms: self.statusBar().showMessage(msg, ms),
            refresh_predictions=self.refresh_predictions,
        )
        self.actions_ = create_actions(self)
        self.library_actions = LibraryActions(self.host, self.settings)
        self.tree_actions = TreeActions(self.host, self.tree_model, self.tree_view)
        self.filter_actions = FilterActions(self.host, self.tree_model, self.tree_view, self.suspects)
        self.sample_actions = SampleActions(self.host, self.sample_model)
        self.model_actions = ModelActions(self.host, self.settings)
        self.first_labels = FirstLabels(self.host, self.model_actions, self.settings)
        self.active_actions = ActiveActions(
            self.host,
            suspects=self.suspects,
            trained_model_path=lambda: self.model_actions.model_path,
            confirm_replace=self.sample_actions.confirm_replace,
            selected_ids=lambda: self.label_actions.selected_ids(),
            just_labelled=lambda: self.label_actions.just_labelled(),
        )
        self.label_actions = LabelActions(
            self.host, self.tree_view, self.sample_view, labelled_one=self.active_actions.hint_look_alikes
        )
        self.menus = build_menus(self, self.actions_, self.undo_group, self.jobs_dock)
        self.undo_action, self.recent_menu, self.label_menu = self.menus.undo, self.menus.recent, self.menus.label
        self.show_explain_action = self.menus.show_explain
        self._wire()
        self.organize_tabs = install_organize(self)  # Catalogue + Organize tabs (issue 19)
        self._restore_settings()
        self._update_enabled()
        # pyqtgraph (the results charts) is imported on a worker: importing it when a library
        # opens would stall the UI thread for ~0.5 s.
        self.runner.run(
            lambda progress, should_stop: importlib.import_module(RESULTS_MODULE),
            lambda _module, error: self.results_tab.module_loaded(error),
            pool=Pool.READ,
        )

    def _wire(self) -> None:
        a, la = self.actions_, self.library_actions
        a.open_folder.triggered.connect(la.choose_folder)
        a.rescan.triggered.connect(la.rescan)
        a.quit.triggered.connect(self.close)
        a.find.triggered.connect(lambda: (self.tree_view.name_filter.setFocus(), self.tree_view.name_filter.selectAll()))
        connect_help(a, self.dialogs, lambda: str(self.storage.data_dir))
        for name, act in a.label.items():
            act.triggered.connect(lambda _=False, n=name: self.label_actions.label_selection(n))
        a.clear_label.triggered.connect(lambda _=False: self.label_actions.label_selection(None))
        self.show_explain_action.triggered.connect(lambda: self.side_tabs.setCurrentWidget(self.explain_tab))
        la.opened.connect(self.adopt)
        la.open_failed.connect(lambda: self.stack.setCurrentIndex(PAGE_WELCOME))
        la.features_ready.connect(lambda _snap: (self.refresh_predictions(), self._update_enabled()))
        fl = self.first_labels
        la.scan_started.connect(fl.scan_started)
        la.scan_finished.connect(fl.scan_finished)
        la.features_ready.connect(fl.features_ready)
        self.library_opened.connect(fl.opened)  # after adopt(): the state is the window's
        a.first_labels.setChecked(fl.enabled)
        a.first_labels.toggled.connect(fl.set_enabled)
        la.recent_changed.connect(self._refresh_recent)
        la.storage_opened.connect(lambda storage: setattr(self, "storage", storage))
        self.welcome.open_requested.connect(la.choose_folder)
        self.welcome.recent_requested.connect(self.open_recent)
        for view in (self.tree_view, self.sample_view):
            view.context_menu_requested.connect(
                lambda menu: fill_context_menu(menu, self.actions_, self.show_explain_action)
            )
            view.folder_selected.connect(self.explain_tab.schedule)
        self.tree_view.filter_requested.connect(self.filter_actions.apply)
        self.sample_view.generate_requested.connect(self.sample_actions.generate_samples)
        self.sample_view.folder_selected.connect(
            lambda fid: None if self.tree_model.is_flat else self.tree_view.select_folder(fid)
        )
        self.tree_view.folder_selected.connect(self.sample_view.select_folder)
        sa, ma, aa = self.sample_actions, self.model_actions, self.active_actions
        a.generate_samples.triggered.connect(sa.generate_samples)
        a.export_sample.triggered.connect(lambda: sa.export_sample())
        a.export_tree.triggered.connect(lambda: sa.export_tree())
        a.import_csv.triggered.connect(lambda: sa.import_csv())
        sa.sample_generated.connect(self._on_sample_generated)
        a.evaluate_baseline.triggered.connect(ma.evaluate_baseline)
        a.zero_shot.triggered.connect(ma.run_zero_shot)
        a.train.triggered.connect(ma.train)
        a.predict.triggered.connect(ma.predict_all)
        ma.results_available.connect(self.results_tab.show_eval_run)
        ma.results_available.connect(self.model_results_changed)
        ma.report_ready.connect(
            lambda _what, text: self.banner.show_notice(text, "Show results", lambda: self.side_tabs.setCurrentIndex(1))
        )
        ma.model_trained.connect(self.explain_tab.set_model)
        a.label_next.triggered.connect(lambda: aa.label_next())
        self.sample_view.label_next_requested.connect(lambda: aa.label_next())
        aa.sample_generated.connect(self._on_sample_generated)
        a.find_suspects.triggered.connect(lambda: aa.find_suspects())
        aa.suspects_found.connect(self.tree_actions.show_suspects)
        a.look_alikes.triggered.connect(lambda: aa.apply_to_look_alikes())
        a.learning_curves.triggered.connect(lambda: aa.learning_curves())
        aa.curves_ready.connect(self._show_curves)
        rt, et = self.results_tab, self.explain_tab
        rt.folder_activated.connect(self.reveal_folder)
        rt.retrain_requested.connect(ma.train)
        et.folder_activated.connect(self.reveal_folder)
        for src in (rt, et):
            src.message_shown.connect(lambda msg: self.statusBar().showMessage(msg, 10_000))
        self.sample_model.modelReset.connect(self._update_enabled)
        sa.sample_completed.connect(lambda k: self.banner.offer_retrain(k, self.model_actions.train))
        self.runner.job_started.connect(lambda _job: (self.jobs_dock.show(), self._update_enabled()))
        self.runner.job_finished.connect(lambda _job: self._update_enabled())

    # ------------------------------------------------------------------------------ library
    @property
    def explain_view(self):
        return self.explain_tab.view

    @property
    def explain_stack(self) -> ExplainTab:
        return self.explain_tab

    @property
    def results_panel(self):
        return self.results_tab.panel

    def open_storage(self, storage: StorageSettings, *, root: str | None = None) -> None:
        self.library_actions.open_storage(storage, root=root)

    def open_recent(self, lib: RecentLibrary) -> None:
        self.library_actions.open_recent(lib)

    def scan_folder(self, root: str) -> JobState:
        return self.library_actions.scan_folder(root)

    def adopt(self, state: LibraryState) -> None:
        """Show ``state`` (UI thread): swap the label controller, the browser and the page."""
        old, self.state = self.state, state
        if old is not None and old.dbs is not state.dbs:
            old.dbs.dispose()
        ctl = LabelController(state.dbs, state.snapshot.id if state.snapshot else None, state.labels,
                              run_id=state.label_run_id, runner=self.runner, parent=self)
        self._set_label_controller(ctl)
        self.suspects.clear()
        self.explain_tab.set_library(state, self.model_actions.trained_model())
        self.tree_actions.show_snapshot(state)
        if state.snapshot is None:
            self.sample_model.set_rows([])
            self.stack.setCurrentIndex(PAGE_WELCOME)
            self.welcome.set_recent(self.settings.recent())
            self.setWindowTitle("fsorg")
            self.statusBar().showMessage("Drop the root folder of your library on the window to begin.")
        else:
            snap = state.snapshot
            self.stack.setCurrentIndex(PAGE_WORK)
            self.setWindowTitle(f"{state.root_name} — fsorg")
            self.status_library.setText(
                f"Library {state.root_name}: {snap.folder_count:,} folders, {snap.file_count:,} files"
            )
            self.statusBar().clearMessage()
            self.settings.add_recent(RecentLibrary(str(state.settings.data_dir), snap.root))
            self.sample_model.set_rows([])
            self.sample_actions.load_saved(snap.id)
            QTimer.singleShot(0, self, self._announce_tree_ready)
            if self.auto_extract and not state.has_features and not any(
                j.title == "Extract features" for j in self.runner.running()
            ):  # a fresh scan, or a library closed before its extraction finished
                self.library_actions.extract_features(state)
        self._refresh_recent()
        self._update_label_status()
        self._update_enabled()
        self.library_opened.emit(state)

    def refresh_predictions(self) -> None:
        self.tree_actions.refresh_predictions()

    def _set_label_controller(self, ctl: LabelController) -> None:
        old, self.labels = self.labels, ctl
        self.undo_group.addStack(ctl.undo_stack)
        self.undo_group.setActiveStack(ctl.undo_stack)
        self.tree_model.set_label_controller(ctl)
        ctl.labels_changed.connect(lambda _ids: self._update_label_status())
        ctl.labels_reset.connect(self._update_label_status)
        ctl.undone.connect(self.label_actions.return_to)
        ctl.save_failed.connect(
            lambda msg: self.dialogs.message("Labels not saved yet", msg, icon=QMessageBox.Icon.Warning)
        )
        if old is not ctl:
            old.flush()
            self.undo_group.removeStack(old.undo_stack)
        self.sample_model.set_label_controller(ctl)
        self.results_tab.set_library(self.state.dbs if self.state else None, ctl)

    def _announce_tree_ready(self) -> None:
        self.tree_view.expand_root()
        self.tree_view.tree.setFocus()
        self.tree_ready.emit()

    # ------------------------------------------------------------------------------ tabs
    def _folder_name(self, folder_id: int) -> str | None:
        row = self.tree_model.row_for(self.tree_model.index_for_folder(folder_id))
        if row is not None:
            return row.rel_path or row.name or None
        return self.sample_model.path_of(folder_id)

    def _suspect_note(self, folder_id: int) -> str | None:
        sus = self.suspects.get(folder_id, self.labels.label_of(folder_id))
        return None if sus is None else "⚠ " + SuspectSet.tooltip(sus)

    def reveal_folder(self, folder_id: int) -> None:
        """Select a folder in the tree (from the results or Explain tab), leaving a filter if needed."""
        self.tree_view.reveal(folder_id)

    def _show_curves(self, result: dict) -> None:
        from fsorg_desktop.views.learning_curve_view import LearningCurveDialog

        self.dialogs.keep(LearningCurveDialog(result, self))

    # ------------------------------------------------------------------------------ labelling
    def focused_folder_view(self):
        return self.label_actions.focused_view()

    def _update_label_status(self) -> None:
        n = self.labels.count()
        self.status_labels.setText(f"{n:,} folder{'s' if n != 1 else ''} labelled by you")

    def _on_sample_generated(self, rows: list) -> None:
        self.side_tabs.setCurrentWidget(self.sample_view)
        self.sample_view.show_new_sample(rows)

    def _update_enabled(self) -> None:
        has_lib = self.state is not None and self.state.snapshot is not None
        enable_for_library(self.actions_, has_lib, self.sample_model.rowCount() > 0)
        self.sample_view.label_next_button.setEnabled(has_lib)
        self.sample_view.generate_button.setEnabled(has_lib)

    def _refresh_recent(self) -> None:
        fill_recent_menu(self.recent_menu, self.settings.recent(), self.open_recent)
        self.welcome.set_recent(self.settings.recent())

    # ------------------------------------------------------------------------------ settings & closing
    def _restore_settings(self) -> None:
        restore_window(self, self.splitter, self.settings)
        self._refresh_recent()

    def save_settings(self) -> None:
        save_window(self, self.splitter, self.settings)

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
        self.explain_tab.shutdown()
        self.first_labels.shutdown()
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



__all__ = ["MainWindow", "dropped_folder"]
