"""The most common errors of a run as a list model: ``True → Predicted: N`` (label titles, never raw names).

An adapter over ``Report.errors`` (already sorted by count, most first); the panel
drills into a line's folders when it is clicked or activated from the keyboard.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from fsorg_desktop.style.results_style import label_color, label_title

ErrorRole = Qt.ItemDataRole.UserRole  # (true, predicted, count)

_Index = QModelIndex | QPersistentModelIndex


class ResultsErrorsModel(QAbstractListModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._errors: list[tuple[str, str, int]] = []

    def set_errors(self, errors: list[tuple[str, str, int]]) -> None:
        self.beginResetModel()
        self._errors = [(t, p, int(n)) for t, p, n in errors]
        self.endResetModel()

    def error_at(self, row: int) -> tuple[str, str, int]:
        return self._errors[row]

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self._errors)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        t, p, n = self._errors[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{label_title(t)} → {label_title(p)}: {n}"
        if role == Qt.ItemDataRole.ToolTipRole:
            were = "was" if n == 1 else "were"
            return (f"{n} folder{'s' if n != 1 else ''} labelled {label_title(t)} {were} predicted "
                    f"{label_title(p)}. Click to list {'it' if n == 1 else 'them'}.")
        if role == Qt.ItemDataRole.DecorationRole:
            return label_color(t)
        if role == ErrorRole:
            return (t, p, n)
        return None
