"""Per-class F1 of two runs and the delta, as a table (old, new, delta, support).

An adapter over :class:`engine.evaluation.compare.Comparison`; deltas are coloured green/red so a
regression in one class is not hidden by a better average.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush

from engine.evaluation.compare import ClassDelta, Comparison
from fsorg_desktop.models.list_table_model import ListTableModel
from fsorg_desktop.style.results_style import NEGATIVE, POSITIVE, label_color, label_title

_Index = QModelIndex | QPersistentModelIndex


def fmt_delta(d: float | None, *, points: bool = False) -> str:
    if d is None:
        return "–"
    if points:
        return f"{d * 100:+.1f} pts"
    return f"{d:+.2f}"


class ResultsComparisonModel(ListTableModel):
    COLUMNS = ("Class", "Old F1", "New F1", "Δ F1", "Old n", "New n")

    def set_comparison(self, comparison: Comparison | None) -> None:
        self.beginResetModel()
        self._rows = list(comparison.per_class) if comparison else []
        self.endResetModel()

    def row_at(self, row: int) -> ClassDelta:
        return self._rows[row]

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        d = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            f1 = lambda v: "–" if v is None else f"{v:.2f}"  # noqa: E731
            return (
                label_title(d.label),
                f1(d.old_f1),
                f1(d.new_f1),
                fmt_delta(d.delta),
                str(d.old_support),
                str(d.new_support),
            )[col]
        if role == Qt.ItemDataRole.ForegroundRole and col == 3 and d.delta:
            return QBrush(POSITIVE if d.delta > 0 else NEGATIVE)
        if role == Qt.ItemDataRole.DecorationRole and col == 0:
            return label_color(d.label)
        if role == Qt.ItemDataRole.TextAlignmentRole and col > 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and d.delta is None:
            return "This class had no folders in one of the two test sets; no delta."
        return None
