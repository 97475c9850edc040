"""Per-class F1 as horizontal pyqtgraph bars, one per label in the taxonomy colour, with
the support written next to each bar and precision/recall on hover.

Why horizontal: label names are long and read left to right; why the support on the bar:
an F1 of 1.0 on two folders is not the same news as 0.8 on forty, and the user should
see that without hovering. A class with no folders in the test set gets no bar (a 0
there would read as "the model is hopeless at it") but says so in words. A dashed line
marks Macro F1, the average the verdict is based on.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QToolTip

from engine.evaluation.report import ClassScore
from fsorg_desktop.style.plot_style import foreground, style_plot
from fsorg_desktop.style.results_style import label_color, label_title


class F1Bars(pg.PlotWidget):
    """Bars of per-class F1. ``class_activated(label)`` when a bar is clicked."""

    class_activated = Signal(str)

    BAR_HEIGHT = 0.62

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        style_plot(self, self)
        self.setMinimumSize(240, 200)
        item = self.getPlotItem()
        item.setLabel("bottom", "F1")
        item.showAxis("right")
        right = item.getAxis("right")
        right.setStyle(tickLength=0)
        right.setPen(pg.mkPen(None))
        right.setTextPen(pg.mkPen(foreground(self)))
        item.invertY(True)
        self._labels: list[str] = []
        self._scores: dict[str, ClassScore] = {}
        self._bars: pg.BarGraphItem | None = None
        self._texts: list[pg.TextItem] = []
        self._macro = pg.InfiniteLine(
            angle=90, movable=False, pen=pg.mkPen(foreground(self), width=1, style=Qt.PenStyle.DashLine)
        )
        self._macro_label = pg.TextItem("", color=foreground(self), anchor=(0.5, 0.5))
        self._macro.setZValue(-5)  # under the value texts
        self.scene().sigMouseMoved.connect(self._on_scene_moved)
        self.scene().sigMouseClicked.connect(self._on_scene_clicked)

    def set_scores(self, labels: list[str], per_class: dict[str, ClassScore], macro_f1: float) -> None:
        item = self.getPlotItem()
        for t in self._texts:
            item.removeItem(t)
        self._texts = []
        if self._bars is not None:
            item.removeItem(self._bars)
            self._bars = None
        self._labels = list(labels)
        self._scores = dict(per_class)
        k = len(labels)
        ys, widths, brushes = [], [], []
        font = QFont(self.font())
        values: list[tuple[int, str]] = []  # (row, "0.97  n=120"): on the right axis, never clipped
        for i, lb in enumerate(labels):
            s = per_class.get(lb)
            if s is None or s.support == 0:
                t = pg.TextItem("not scored", color=(140, 140, 140), anchor=(0, 0.5))
                t.setPos(0.01, i)
                t.setFont(font)
                item.addItem(t)
                self._texts.append(t)
                values.append((i, "–"))
            else:
                ys.append(i)
                widths.append(s.f1)
                brushes.append(pg.mkBrush(label_color(lb)))
                values.append((i, f"{s.f1:.2f}  n={s.support}"))
        if ys:
            self._bars = pg.BarGraphItem(
                x0=0, y=ys, height=self.BAR_HEIGHT, width=widths, brushes=brushes, pen=None
            )
            item.addItem(self._bars)
        if self._macro.scene() is None:
            item.addItem(self._macro)
            item.addItem(self._macro_label)
        self._macro.setValue(macro_f1)
        # The dashed line's value goes in the axis title, not next to the line, where a narrow
        # chart would cut it.
        self._macro_label.setText("")
        item.setLabel("bottom", f"F1 · dashed line: macro {macro_f1:.2f}")
        item.getAxis("left").setTicks([[(i, label_title(lb)) for i, lb in enumerate(labels)]])
        # The values sit on the right axis, which widens to fit them (pyqtgraph sizes an
        # axis to its tick texts), so "n=…" is never cut however narrow the chart.
        item.getAxis("right").setTicks([values])
        item.getViewBox().setRange(xRange=(0, 1.0), yRange=(-0.95, max(k, 1) - 0.4), padding=0.01)
        item.getAxis("bottom").setTicks([[(0.0, "0"), (0.5, "0.5"), (1.0, "1")], [(v / 10, "") for v in range(11)]])
        self.setAccessibleName(
            "Per-class F1: "
            + "; ".join(
                f"{lb} {per_class[lb].f1:.2f} (n={per_class[lb].support})" for lb in labels if lb in per_class
            )
        )

    def bar_values(self) -> dict[str, float]:
        """F1 per drawn bar, read back from the bar item (for tests)."""
        if self._bars is None:
            return {}
        opts = self._bars.opts
        return {self._labels[int(y)]: float(w) for y, w in zip(opts["y"], opts["width"])}

    def row_at(self, scene_pos: QPointF) -> int | None:
        vb = self.getPlotItem().getViewBox()
        if not self._labels or not vb.sceneBoundingRect().contains(scene_pos):
            return None
        y = vb.mapSceneToView(scene_pos).y()
        i = round(y)
        return i if 0 <= i < len(self._labels) and abs(y - i) <= 0.5 else None

    def row_widget_pos(self, i: int, x: float = 0.05):
        vb = self.getPlotItem().getViewBox()
        return self.mapFromScene(vb.mapViewToScene(QPointF(x, i)))

    def tooltip_for(self, i: int) -> str:
        lb = self._labels[i]
        s = self._scores.get(lb)
        if s is None or s.support == 0:
            return f"{label_title(lb)}\nNo folder of this class in the test set: not scored."
        return (
            f"{label_title(lb)}\nF1 {s.f1:.3f}\nPrecision {s.precision:.3f}"
            f"\nRecall {s.recall:.3f}\nSupport {s.support} folder{'s' if s.support != 1 else ''}"
        )

    def _on_scene_moved(self, scene_pos: QPointF) -> None:
        i = self.row_at(scene_pos)
        text = self.tooltip_for(i) if i is not None else ""
        if text != self.toolTip():
            self.setToolTip(text)
            if text:
                QToolTip.showText(self.mapToGlobal(self.mapFromScene(scene_pos)), text, self)

    def _on_scene_clicked(self, ev) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            i = self.row_at(ev.scenePos())
            if i is not None:
                self.class_activated.emit(self._labels[i])
