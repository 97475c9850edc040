"""The Results tab: an empty state, then one :class:`~fsorg_desktop.views.results_view.ResultsPanel`
per open library, built the first time the tab is shown.

Why lazily: building the pyqtgraph charts takes ~150 ms of UI-thread time, which must not land
in the middle of a scan (the bench measures it) but may when the user clicks the tab. The panel
sits in a scroll area, so the charts' minimum size never sets the window's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGraphicsView, QLabel, QScrollArea, QStackedWidget

if TYPE_CHECKING:
    from engine.storage import Databases
    from fsorg_desktop.jobs import JobRunner
    from fsorg_desktop.label_controller import LabelController

RESULTS_MODULE = "fsorg_desktop.views.results_view"
EMPTY_TEXT = (
    "<h3>No results yet</h3><p>Evaluate the baseline (Ctrl+B) or train a model (Ctrl+T): the "
    "Macro F1, the confusion matrix and the per-class scores appear here.</p>"
)


class ResultsTab(QScrollArea):
    folder_activated = Signal(int)  # a folder double-clicked in the drill-down (ask)
    retrain_requested = Signal()  # "Retrain with my corrections" (ask)
    message_shown = Signal(str)  # a hint for the status bar (fact)
    badge_changed = Signal(bool)  # a new run waits to be seen (fact: the tab title shows a dot)

    def __init__(self, runner: "JobRunner", parent=None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._dbs: Databases | None = None
        self._labels: LabelController | None = None
        # Set by module_loaded when the background import has *finished*: the module is in
        # sys.modules from the moment that import starts, so that is no sign it is complete
        # (in the frozen bundle the UI thread then saw a half-imported module).
        self._module_ready = False
        self.panel = None  # ResultsPanel of the open library, once built
        self._pending: int | None = None  # an eval run to show when the tab is opened
        self.empty = QLabel(EMPTY_TEXT)
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.empty.setMargin(16)
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        # The panel lays itself out to the width it gets: never a horizontal scrollbar.
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWidget(self.empty)

    def is_current(self) -> bool:
        """Whether this is the side tab on top (also before the window is shown)."""
        stack = self.parentWidget()
        return isinstance(stack, QStackedWidget) and stack.currentWidget() is self

    def set_library(self, dbs: "Databases | None", labels: "LabelController") -> None:
        """Drop the old library's panel; the new one is built when the tab is shown."""
        old = self.panel
        if old is not None:
            self.takeWidget()
            old.deleteLater()
            self.panel = None
        self._dbs, self._labels = dbs, labels
        self.setWidget(self.empty)
        self.empty.show()
        self._pending = None
        self.badge_changed.emit(False)
        if self.is_current():
            self.ensure_panel()

    def ensure_panel(self):
        """The results panel for the open library (built now if needed), or None."""
        if self.panel is not None:
            return self.panel
        if self._dbs is None or self._labels is None:
            return None
        if not self._module_ready:
            return None  # still importing in the background; built when the import is done
        from fsorg_desktop.views.results_view import ResultsPanel

        panel = ResultsPanel(self._dbs, self._labels, runner=self._runner)
        panel.folder_activated.connect(self.folder_activated)
        panel.retrain_requested.connect(self.retrain_requested)
        panel.message_shown.connect(self.message_shown)
        self.panel = panel
        for view in panel.findChildren(QGraphicsView):  # charts must not swallow a dropped folder
            view.setAcceptDrops(False)
            view.viewport().setAcceptDrops(False)
        self.takeWidget()  # keep the empty-state label for the next library
        self.setWidget(panel)
        panel.refresh()
        return panel

    def widen(self, splitter) -> None:
        """The charts want more room than the sample table: widen the side (up to half)."""
        if self.panel is None:
            return
        sizes = splitter.sizes()
        total = sum(sizes)
        need = self.panel.side_by_side_width() + 24  # the matrix and the bars next to each other
        if need > total * 0.5:
            return  # they will sit one above the other: never starve the tree for nothing
        want = max(need, int(total * 0.45))  # on a large screen, room for the class names
        if sizes[1] < want:
            splitter.setSizes([total - want, want])

    def module_loaded(self, error: BaseException | None) -> None:
        self._module_ready = error is None
        if error is not None:
            self.empty.setText(f"The results view is not available: {error}")
        elif self.is_current():
            self.ensure_panel()

    def show_eval_run(self, eval_run_id: int | None) -> None:
        """A new eval run: show it now if the tab is on screen, else when it is."""
        if eval_run_id is None:
            return
        if self.panel is not None and self.is_current():
            self._apply(self.panel, eval_run_id)
        else:
            self._pending = eval_run_id
            self.badge_changed.emit(True)

    def shown(self):
        """The tab became current: build the panel and show a pending run. Returns the panel."""
        panel = self.ensure_panel()
        if panel is not None and self._pending is not None:
            pending, self._pending = self._pending, None
            self._apply(panel, pending)
        return panel

    def _apply(self, panel, eval_run_id: int) -> None:
        self.badge_changed.emit(False)
        base = panel.retrain_base_eval_run_id
        if base is not None and base != eval_run_id:
            panel.show_comparison(base, eval_run_id)
        else:
            panel.refresh()
            panel.show_eval_run(eval_run_id)
