"""Two eval runs side by side: the previous and the new Macro F1 in large type with the
delta between them, per-class F1 of both as paired bars, and the per-class deltas as a
table. Shown after "Retrain with my corrections" and when two runs are picked in the
history.

Why the notes: a delta only means "the model got better" when both runs were scored on
the same folders with the same answer key; when they were not, the view says so rather
than letting a changed test set pass for progress.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from engine.evaluation.compare import Comparison
from engine.evaluation.queries import EvalRunInfo
from engine.evaluation.report import Report, headline
from fsorg_desktop.models.results_comparison_model import ResultsComparisonModel, fmt_delta
from fsorg_desktop.style.plot_style import foreground, style_plot
from fsorg_desktop.style.results_style import (
    NEGATIVE,
    POSITIVE,
    label_color,
    label_title,
)


class _RunCard(QFrame):
    """One run: which, its Macro F1 big, its verdict, and a button to open it."""

    open_requested = Signal(int)

    def __init__(self, heading: str, parent=None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self._run_id: int | None = None
        self.heading = QLabel(heading)
        self.heading.setEnabled(False)
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.score = QLabel("–")
        f = QFont(self.font())
        f.setPointSizeF(f.pointSizeF() * 2.4)
        f.setBold(True)
        self.score.setFont(f)
        self.verdict = QLabel()
        self.verdict.setWordWrap(True)
        self.open_button = QPushButton("Open")
        self.open_button.clicked.connect(
            lambda: self._run_id is not None and self.open_requested.emit(self._run_id)
        )
        lay = QVBoxLayout(self)
        lay.addWidget(self.heading)
        lay.addWidget(self.title)
        lay.addWidget(self.score)
        lay.addWidget(self.verdict)
        lay.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignLeft)

    def set_run(self, info: EvalRunInfo, report: Report) -> None:
        self._run_id = info.id
        self.title.setText(
            f"Run {info.id} · {info.model_text}\n{info.split_text} · label run {info.label_run_id} · {info.date_text}"
        )
        self.score.setText(f"{report.macro_f1 * 100:.1f}%")
        self.verdict.setText(f"{headline(report)}\n(accuracy {report.accuracy * 100:.1f}%, n={report.n})")


class ResultsComparisonView(QWidget):
    run_requested = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._comparison: Comparison | None = None
        self.old_card = _RunCard("Previous")
        self.new_card = _RunCard("New")
        for card in (self.old_card, self.new_card):
            card.open_requested.connect(self.run_requested)
        self.delta = QLabel("–")
        f = QFont(self.font())
        f.setPointSizeF(f.pointSizeF() * 2.0)
        f.setBold(True)
        self.delta.setFont(f)
        self.delta.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.delta_detail = QLabel()
        self.delta_detail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        mid = QVBoxLayout()
        mid.addStretch(1)
        mid.addWidget(QLabel("Macro F1 change"), 0, Qt.AlignmentFlag.AlignCenter)
        mid.addWidget(self.delta)
        mid.addWidget(self.delta_detail)
        mid.addStretch(1)
        top = QGridLayout()
        top.addWidget(self.old_card, 0, 0)
        top.addLayout(mid, 0, 1)
        top.addWidget(self.new_card, 0, 2)
        top.setColumnStretch(0, 2)
        top.setColumnStretch(1, 1)
        top.setColumnStretch(2, 2)
        self.notes = QLabel()
        self.notes.setWordWrap(True)
        self.notes.setStyleSheet("QLabel { color: #9a6700; }")
        self.notes.hide()

        self.model = ResultsComparisonModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.plot = pg.PlotWidget()
        style_plot(self.plot, self)
        self.plot.getPlotItem().invertY(True)
        self.plot.getPlotItem().setLabel("bottom", "F1 per class (pale: previous run, solid: new run)")
        self.plot.setMinimumHeight(200)
        self._plot_items: list = []

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.plot)
        split.addWidget(self.table)
        split.setSizes([420, 360])
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.notes)
        lay.addWidget(split, 1)
        self.placeholder = QLabel("Pick two runs in the History tab, or retrain, to compare them here.")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        row = QHBoxLayout()
        row.addWidget(self.placeholder)
        lay.addLayout(row)
        self._set_visible(False)

    def _set_visible(self, has: bool) -> None:
        for w in (self.old_card, self.new_card, self.delta, self.delta_detail, self.table, self.plot):
            w.setVisible(has)
        self.placeholder.setVisible(not has)

    @property
    def comparison(self) -> Comparison | None:
        return self._comparison

    def set_comparison(self, c: Comparison) -> None:
        self._comparison = c
        self._set_visible(True)
        self.old_card.set_run(c.old, c.old_report)
        self.new_card.set_run(c.new, c.new_report)
        d = c.macro_f1_delta
        # Runs scored on different folders are shown apart, with the reason, never subtracted.
        self.delta.setText(fmt_delta(d, points=True) if c.comparable else "not compared")
        color = POSITIVE if d > 0.0005 else NEGATIVE if d < -0.0005 else foreground(self)
        color = color if c.comparable else foreground(self)
        self.delta.setStyleSheet(f"QLabel {{ color: {QColor(color).name()}; }}")
        self.delta_detail.setText(
            f"accuracy {fmt_delta(c.accuracy_delta, points=True)}" if c.comparable else "different folders"
        )
        self.notes.setText("\n".join(c.notes))
        self.notes.setVisible(bool(c.notes))
        self.model.set_comparison(c)
        self._draw_bars(c)

    def _draw_bars(self, c: Comparison) -> None:
        item = self.plot.getPlotItem()
        for it in self._plot_items:
            item.removeItem(it)
        self._plot_items = []
        rows = c.per_class
        old_y = [i - 0.19 for i, d in enumerate(rows) if d.old_f1 is not None]
        old_w = [d.old_f1 for d in rows if d.old_f1 is not None]
        new_y = [i + 0.19 for i, d in enumerate(rows) if d.new_f1 is not None]
        new_w = [d.new_f1 for d in rows if d.new_f1 is not None]
        new_b = [pg.mkBrush(label_color(d.label)) for d in rows if d.new_f1 is not None]
        old_b = []
        for d in rows:
            if d.old_f1 is not None:
                faded = label_color(d.label)
                faded.setAlpha(80)
                old_b.append(pg.mkBrush(faded))
        if old_y:
            self._plot_items.append(
                pg.BarGraphItem(x0=0, y=old_y, height=0.36, width=old_w, brushes=old_b, pen=None)
            )
        if new_y:
            self._plot_items.append(
                pg.BarGraphItem(x0=0, y=new_y, height=0.36, width=new_w, brushes=new_b, pen=None)
            )
        for i, d in enumerate(rows):
            if d.delta is None:
                continue
            color = POSITIVE if d.delta > 0.0005 else NEGATIVE if d.delta < -0.0005 else foreground(self)
            t = pg.TextItem(fmt_delta(d.delta), color=color, anchor=(0, 0.5))
            t.setPos(max(d.old_f1 or 0, d.new_f1 or 0) + 0.02, i)
            self._plot_items.append(t)
        for it in self._plot_items:
            item.addItem(it)
        item.getAxis("left").setTicks([[(i, label_title(d.label)) for i, d in enumerate(rows)]])
        item.getViewBox().setRange(xRange=(0, 1.2), yRange=(-0.6, max(len(rows), 1) - 0.4), padding=0)
        item.getAxis("bottom").setTicks([[(v / 5, f"{v / 5:.1f}") for v in range(6)]])
