"""Every eval run as a table: date, model, label run, split, n, Macro F1.

An adapter over :class:`engine.evaluation.queries.EvalRunInfo` rows (oldest first, as stored);
the view sorts it through a proxy with :data:`SortRole`.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont

from engine.evaluation.queries import EvalRunInfo
from fsorg_desktop.models.list_table_model import ListTableModel

RunIdRole = Qt.ItemDataRole.UserRole
SortRole = Qt.ItemDataRole.UserRole + 1

_Index = QModelIndex | QPersistentModelIndex


class ResultsHistoryModel(ListTableModel):
    COLUMNS = ("Run", "Date", "Model", "Label run", "Split", "n", "Macro F1")

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._current: int | None = None

    def set_runs(self, runs: list[EvalRunInfo]) -> None:
        self.beginResetModel()
        self._rows = list(runs)
        self.endResetModel()

    def runs(self) -> list[EvalRunInfo]:
        return list(self._rows)

    def run_at(self, row: int) -> EvalRunInfo:
        return self._rows[row]

    def row_of(self, run_id: int) -> int | None:
        for i, r in enumerate(self._rows):
            if r.id == run_id:
                return i
        return None

    def set_current(self, run_id: int | None) -> None:
        """Mark the run shown in the report (bold)."""
        old, self._current = self._current, run_id
        for rid in (old, run_id):
            i = self.row_of(rid) if rid is not None else None
            if i is not None:
                self.dataChanged.emit(self.index(i, 0), self.index(i, self.columnCount() - 1))

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                str(r.id),
                r.date_text,
                r.model_text,
                "" if r.label_run_id is None else str(r.label_run_id),
                r.split_text,
                str(r.n),
                f"{r.macro_f1 * 100:.1f}%",
            )[col]
        if role == SortRole:
            return (r.id, r.created_at, r.model_text, r.label_run_id or 0, r.split_text, r.n, r.macro_f1)[col]
        if role == RunIdRole:
            return r.id
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (0, 3, 5, 6):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.FontRole and r.id == self._current:
            f = QFont()
            f.setBold(True)
            return f
        return None
