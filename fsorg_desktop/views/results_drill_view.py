"""The drill-down table under the charts: the folders behind one cell.

Keys, as everywhere in fsorg: 1-6 label the selected folders with the taxonomy's labels
in order, 0 / Delete / Backspace clear the label. The view only *asks*
(``label_requested``); the panel hands it to the LabelController, which saves and makes
it undoable. Moving the current row emits ``folder_selected`` so the main window can
select that folder in the tree. With one row selected, a label key moves on to the next
row (as in the sample table), so a whole cell is corrected with one key per folder.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from fsorg_desktop.models.results_drill_model import FolderIdRole, ResultsDrillModel, SortRole
from fsorg_desktop.style.label_keys import CLEAR, label_for_key


class ResultsDrillView(QTableView):
    label_requested = Signal(list, object)  # folder ids, label name or None (clear)
    folder_selected = Signal(int)

    def __init__(self, model: ResultsDrillModel, parent=None) -> None:
        super().__init__(parent)
        self._source = model
        self._proxy = QSortFilterProxyModel(self)
        self._proxy.setSourceModel(model)
        self._proxy.setSortRole(SortRole)
        self.setModel(self._proxy)
        self.setSortingEnabled(True)
        self.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # keep the query's order (most confident first)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.verticalHeader().hide()
        self.setWordWrap(False)
        # long paths cut in the middle: the top folder and the folder's own name stay (full path: tooltip)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        # the Folder column gives way instead: the Results tab never scrolls sideways
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        h = self.horizontalHeader()
        h.setSectionResizeMode(ResultsDrillModel.PATH, QHeaderView.ResizeMode.Stretch)
        for c in range(1, ResultsDrillModel.NOW + 1):
            h.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        self.selectionModel().currentRowChanged.connect(self._on_current_row_changed)
        self.setToolTip("1-6: set the label · 0 or Delete: clear it · Ctrl+Z: undo")

    def source_row(self, view_row: int) -> int:
        return self._proxy.mapToSource(self._proxy.index(view_row, 0)).row()

    def view_row_of(self, folder_id: int) -> int | None:
        for r in range(self._proxy.rowCount()):
            if self._proxy.index(r, 0).data(FolderIdRole) == folder_id:
                return r
        return None

    def select_folder(self, folder_id: int) -> None:
        r = self.view_row_of(folder_id)
        if r is not None:
            self.selectionModel().setCurrentIndex(
                self._proxy.index(r, 0),
                QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
            )

    def selected_folder_ids(self) -> list[int]:
        rows = sorted({i.row() for i in self.selectionModel().selectedRows()})
        return [self._proxy.index(r, 0).data(FolderIdRole) for r in rows]

    def _on_current_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.folder_selected.emit(int(current.data(FolderIdRole)))

    def select_row(self, view_row: int) -> None:
        if 0 <= view_row < self._proxy.rowCount():
            self.selectionModel().setCurrentIndex(
                self._proxy.index(view_row, 0),
                QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
            )

    def keyPressEvent(self, ev: QKeyEvent) -> None:  # noqa: N802 - Qt override
        wanted = label_for_key(ev)  # the app-wide key map (fsorg_desktop.style.label_keys)
        if wanted is None:
            return super().keyPressEvent(ev)
        ev.accept()
        ids = self.selected_folder_ids()
        if not ids:
            return
        self.label_requested.emit(ids, None if wanted is CLEAR else wanted)
        if len(ids) == 1:
            self.select_row(self.currentIndex().row() + 1)
