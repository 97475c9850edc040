"""The folders behind a confusion-matrix cell, as a table: path, label when the run was
scored, prediction, confidence, and the label now (which the user may have corrected).

An adapter only (STYLE §15): rows are :class:`engine.evaluation.queries.DrillRow`; the panel feeds
it the query result and, when labels change, the new current labels. A row whose label
changed since the run is shown in bold with a pencil mark, so "what changed since the
run" is visible at a glance.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import QApplication

from engine.evaluation.queries import DrillRow
from fsorg_desktop.models.list_table_model import ListTableModel
from fsorg_desktop.style.certainty import UNKNOWN, is_unsure, shown_title
from fsorg_desktop.style.results_style import label_color, label_title

FolderIdRole = Qt.ItemDataRole.UserRole
SortRole = Qt.ItemDataRole.UserRole + 1

_Index = QModelIndex | QPersistentModelIndex


class ResultsDrillModel(ListTableModel):
    COLUMNS = ("Folder", "Label at run", "Predicted", "Confidence", "Label now")
    PATH, AT_RUN, PREDICTED, CONFIDENCE, NOW = range(5)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._row_of: dict[int, int] = {}

    # -- helpers (snake_case, ours)
    def set_rows(self, rows: list[DrillRow]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self._row_of = {r.folder_id: i for i, r in enumerate(self._rows)}
        self.endResetModel()

    def row_at(self, row: int) -> DrillRow:
        return self._rows[row]

    def rows(self) -> list[DrillRow]:
        return list(self._rows)

    def folder_ids(self) -> list[int]:
        return [r.folder_id for r in self._rows]

    def changed_count(self) -> int:
        return sum(1 for r in self._rows if r.changed)

    def set_current_labels(self, labels: dict[int, str | None]) -> None:
        """New current labels for some folders (after a relabel or an undo)."""
        for fid, label in labels.items():
            i = self._row_of.get(fid)
            if i is None or self._rows[i].label_now == label:
                continue
            self._rows[i] = replace(self._rows[i], label_now=label)
            self.dataChanged.emit(self.index(i, 0), self.index(i, self.columnCount() - 1))

    @staticmethod
    def _unsure(r) -> bool:
        return is_unsure(r.confidence, label=r.predicted)

    # -- Qt overrides
    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == self.PATH:
                return r.rel_path or "(library root)"
            if col == self.AT_RUN:
                return label_title(r.label_at_run)
            if col == self.PREDICTED:
                return shown_title(label_title(r.predicted), self._unsure(r) and r.predicted != UNKNOWN)
            if col == self.CONFIDENCE:
                return "" if r.confidence is None else f"{r.confidence:.0%}"
            if col == self.NOW:
                now = label_title(r.label_now) if r.label_now else "(cleared)"
                return f"✎ {now}" if r.changed else now
        if role == SortRole:
            return (
                r.rel_path.lower(),
                r.label_at_run,
                r.predicted,
                -1.0 if r.confidence is None else r.confidence,
                r.label_now or "",
            )[col]
        if role == FolderIdRole:
            return r.folder_id
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == self.NOW and r.changed:
                return f"Changed since the run: {r.label_at_run} → {r.label_now or 'no label'}"
            if col == self.PATH:
                return r.rel_path
        if role == Qt.ItemDataRole.FontRole and col == self.NOW and r.changed:
            f = QFont()
            f.setBold(True)
            return f
        if role == Qt.ItemDataRole.DecorationRole and col in (self.AT_RUN, self.PREDICTED, self.NOW):
            lb = {self.AT_RUN: r.label_at_run, self.PREDICTED: r.predicted, self.NOW: r.label_now}[col]
            return label_color(lb) if lb else None
        if role == Qt.ItemDataRole.ForegroundRole and col in (self.PREDICTED, self.CONFIDENCE) and self._unsure(r):
            # the same rule as the tree and Explain (fsorg_desktop.style.certainty)
            return QApplication.palette().brush(QPalette.ColorGroup.Normal, QPalette.ColorRole.PlaceholderText)
        if role == Qt.ItemDataRole.TextAlignmentRole and col == self.CONFIDENCE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None
