"""The tabs beside the tree: Sample, Results, Explain. Opening Results builds its panel (and
once per session widens the side so the charts fit); opening Explain explains the selection;
a new run waiting in Results puts a dot on its tab."""

from __future__ import annotations

from PySide6.QtWidgets import QSplitter, QTabWidget, QWidget

from fsorg_desktop.tabs.explain_tab import ExplainTab
from fsorg_desktop.tabs.results_tab import ResultsTab


class SideTabs(QTabWidget):
    def __init__(self, sample: QWidget, results: ResultsTab, explain: ExplainTab, parent=None) -> None:
        super().__init__(parent)
        self.setDocumentMode(True)
        self.sample, self.results, self.explain = sample, results, explain
        self.addTab(sample, "Sample")
        self.addTab(results, "Results")
        self.addTab(explain, "Explain")
        self.setTabToolTip(2, "Why the model labels the selected folder as it does")
        self.splitter: QSplitter | None = None  # the tree / side split (set by the window)
        self._widened = False
        results.badge_changed.connect(lambda on: self.setTabText(1, "Results •" if on else "Results"))
        self.currentChanged.connect(self._on_changed)

    def _on_changed(self, _index: int) -> None:
        if self.currentWidget() is self.explain:
            self.explain.shown()
        if self.currentWidget() is self.results:
            if not self._widened and self.splitter is not None and self.results.ensure_panel() is not None:
                self._widened = True  # once per session, never against a later choice of the user
                self.results.widen(self.splitter)
            self.results.shown()
