"""Label efficiency: Macro F1 against the number of labels, the diverse sampler versus
"label next" (uncertainty), replayed on the user's own labels (``engine.active.curves.learning_curves``).

Answers "how many of my labels would the other order have needed?". The numbers are
computed in a child process by the composer; this view only draws a result dict
(``fsorg_desktop.procjob.learning_curves_job``).
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from fsorg_desktop.style.plot_style import style_plot

STRATEGY_STYLE = {
    "diverse": ("Diverse sample (Generate samples)", QColor("#7f8c8d")),
    "uncertainty": ("Label next (uncertainty)", QColor("#2e86de")),
}


def _reach(points: list[tuple[int, float]], target: float) -> int | None:
    return next((n for n, f1 in points if f1 >= target - 1e-12), None)


class LearningCurveDialog(QDialog):
    def __init__(self, result: dict, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Label efficiency")
        self.resize(620, 420)
        self.result = result
        self.plot = pg.PlotWidget()
        style_plot(self.plot, self)
        item = self.plot.getPlotItem()
        item.setLabel("left", "Macro F1")
        item.setLabel("bottom", "Labels")
        item.addLegend(offset=(-10, 10))
        item.getAxis("left").setTicks([[(v / 10, f"{v * 10}%") for v in range(0, 11, 2)]])
        self.curves: dict[str, pg.PlotDataItem] = {}
        for name, pts in result["series"].items():
            title, color = STRATEGY_STYLE.get(name, (name, QColor("#e67e22")))
            xs = [n for n, _ in pts]
            ys = [f for _, f in pts]
            self.curves[name] = item.plot(
                xs, ys, pen=pg.mkPen(color, width=2), symbol="o", symbolSize=6, symbolBrush=color, name=title
            )
        item.setYRange(0, 1)
        self.summary = QLabel(self._summary())
        self.summary.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.summary)
        lay.addWidget(buttons)

    def _summary(self) -> str:
        r = self.result
        s = r["series"]
        head = (
            f"Replaying your {r['n_pool']:,} labels (label run #{r['label_run_id']}) in batches of "
            f"{r['batch_size']}; each point is the Macro F1 on the labels not used yet ({r['encoder']})."
        )
        div, unc = s.get("diverse") or [], s.get("uncertainty") or []
        if not div or not unc:
            return head
        n_last, f1_last = div[-1]
        reach = _reach(unc, f1_last)
        tail = (
            f" The diverse order reaches {f1_last:.0%} at {n_last} labels; label next reaches it at "
            + (f"{reach} labels." if reach is not None else "no point of this replay.")
        )
        return head + tail
