"""Run history: every eval run in a table and Macro F1 over runs as a small line.

Why both: the line shows the trend at a glance (did the corrections help?), the table
holds the facts (date, model, label run, split, n). Click a point or double-click a row
to open that run; select two rows and press Compare to see them side by side. The
dashed lines are the decision guide's thresholds (40 / 60 / 70 %).
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QItemSelectionModel, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from engine.evaluation.compare import history_lines
from engine.evaluation.report import DECISION_GUIDE
from fsorg_desktop.models.results_history_model import ResultsHistoryModel, RunIdRole, SortRole
from fsorg_desktop.style.plot_style import foreground, style_plot
from fsorg_desktop.views.empty_hint import set_empty_text

KIND_COLORS = {"finetuned": QColor("#2e86de"), "baseline": QColor("#7f8c8d"), "zero_shot": QColor("#e67e22")}


class ResultsHistoryView(QWidget):
    run_requested = Signal(int)
    compare_requested = Signal(int, int)  # older, newer

    def __init__(self, model: ResultsHistoryModel, parent=None) -> None:
        super().__init__(parent)
        self._model = model
        self.plot = pg.PlotWidget()
        style_plot(self.plot, self)
        self.plot.setMinimumHeight(150)
        item = self.plot.getPlotItem()
        item.setLabel("left", "Macro F1")
        item.setLabel("bottom", "Evaluation run")
        item.getAxis("left").setTicks([[(v / 10, f"{v * 10}%") for v in range(0, 11, 2)]])
        for threshold, decision, _gain in DECISION_GUIDE[:-1]:
            line = pg.InfiniteLine(
                pos=threshold,
                angle=0,
                movable=False,
                pen=pg.mkPen((150, 150, 150), width=1, style=Qt.PenStyle.DashLine),
                label=decision,
                labelOpts={"position": 0.02, "color": (120, 120, 120), "anchors": [(0, 1), (0, 1)]},
            )
            item.addItem(line)
        # Only runs scored on the same folders are joined (engine.evaluation.compare.history_lines);
        # _line keeps every point's position but is not drawn.
        self._line = pg.PlotDataItem(pen=None)
        item.addItem(self._line)
        self._joins: list[pg.PlotDataItem] = []
        self._points = pg.ScatterPlotItem(size=11, hoverable=True, tip=self._tip, hoverSize=15)
        self._points.sigClicked.connect(self._on_points_clicked)
        item.addItem(self._points)

        self._proxy = QSortFilterProxyModel(self)
        self._proxy.setSourceModel(model)
        self._proxy.setSortRole(SortRole)
        self.table = QTableView()
        set_empty_text(self.table, "No evaluation yet: evaluate the baseline (Ctrl+B) or train a model (Ctrl+T).")
        self.table.setModel(self._proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(1, Qt.SortOrder.DescendingOrder)  # newest first
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.doubleClicked.connect(lambda idx: self.run_requested.emit(int(idx.data(RunIdRole))))
        self.table.activated.connect(lambda idx: self.run_requested.emit(int(idx.data(RunIdRole))))
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)

        self.open_button = QPushButton("Open run")
        self.open_button.clicked.connect(self._on_open_clicked)
        self.compare_button = QPushButton("Compare the two selected runs")
        self.compare_button.clicked.connect(self._on_compare_clicked)
        self.legend = QLabel(
            "  ".join(
                f"<span style='color:{c.name()}'>●</span> {k.replace('_', '-')}"
                for k, c in KIND_COLORS.items()
            )
            + "  <span style='color:gray'>· lines join runs scored on the same folders"
            " · dashed: the decision guide's thresholds (baseline / zero-shot)</span>"
        )
        self.hint = QLabel("Select two runs (Ctrl+click) to compare them.")
        self.hint.setEnabled(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.hint, 1)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.compare_button)

        split = QSplitter(Qt.Orientation.Vertical)
        top = QWidget()
        top_lay = QVBoxLayout(top)
        top_lay.setContentsMargins(0, 0, 0, 0)
        top_lay.addWidget(self.plot, 1)
        top_lay.addWidget(self.legend)
        split.addWidget(top)
        split.addWidget(self.table)
        split.setSizes([220, 260])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(split, 1)
        lay.addLayout(buttons)
        model.modelReset.connect(self._redraw)
        self._redraw()
        self._on_selection_changed()

    def selected_run_ids(self) -> list[int]:
        return [int(i.data(RunIdRole)) for i in self.table.selectionModel().selectedRows()]

    def select_runs(self, run_ids: list[int]) -> None:
        sm = self.table.selectionModel()
        sm.clearSelection()
        for r in range(self._proxy.rowCount()):
            idx = self._proxy.index(r, 0)
            if int(idx.data(RunIdRole)) in run_ids:
                sm.select(
                    idx, QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
                )

    def point_positions(self) -> list[tuple[float, float]]:
        x, y = self._line.getData()
        return [] if x is None else list(zip(map(float, x), map(float, y)))

    def _redraw(self) -> None:
        runs = self._model.runs()
        xs = list(range(1, len(runs) + 1))
        ys = [r.macro_f1 for r in runs]
        self._line.setData(xs, ys)
        item = self.plot.getPlotItem()
        for it in self._joins:
            item.removeItem(it)
        x_of = {r.id: x for x, r in zip(xs, runs)}
        self._joins = [
            pg.PlotDataItem([x_of[r.id] for r in g], [r.macro_f1 for r in g], pen=pg.mkPen(foreground(self), width=1.5))
            for g in history_lines(runs)
        ]
        for it in self._joins:
            item.addItem(it)
        self._points.setData(
            [
                {
                    "pos": (x, y),
                    "data": r.id,
                    "brush": pg.mkBrush(KIND_COLORS.get(r.kind, QColor("#2c3e50"))),
                    "pen": pg.mkPen("w", width=1),
                }
                for x, y, r in zip(xs, ys, runs)
            ]
        )
        item.getViewBox().setRange(xRange=(0.5, max(len(runs), 1) + 0.5), yRange=(0, 1.02), padding=0)
        step = max(1, len(runs) // 12)
        item.getAxis("bottom").setTicks([[(x, f"#{r.id}") for x, r in zip(xs, runs)][::step]])

    def _tip(self, x: float, y: float, data: int) -> str:
        r = next((r for r in self._model.runs() if r.id == data), None)
        return "" if r is None else f"{r.title}\nMacro F1 {r.macro_f1 * 100:.1f}% (n={r.n})\nClick to open"

    def _on_points_clicked(self, _item, points, _ev=None) -> None:
        if len(points):
            self.run_requested.emit(int(points[0].data()))

    def _on_selection_changed(self, *_args) -> None:
        n = len(self.selected_run_ids())
        self.compare_button.setEnabled(n == 2)
        self.open_button.setEnabled(n == 1)

    def _on_open_clicked(self) -> None:
        ids = self.selected_run_ids()
        if len(ids) == 1:
            self.run_requested.emit(ids[0])

    def _on_compare_clicked(self) -> None:
        ids = self.selected_run_ids()
        if len(ids) != 2:
            return
        by_id = {r.id: r for r in self._model.runs()}
        old, new = sorted(ids, key=lambda i: (by_id[i].created_at, i))
        self.compare_requested.emit(old, new)
