"""The sample labeling table beside the tree.

Fast labeling is the point: the same keys as the tree (1–6, 0/Delete), the cursor moves
to the next row after each label, Enter and the arrows move too, and a double-click (or
F2) opens a combo box of labels. "n of 200 labelled" shows how far the user is; "show
unlabelled only" hides what is done. Requests go out as signals; the composer acts.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from engine.core.taxonomy import labels
from fsorg_desktop.models.sample_table_model import (
    COL_CHILDREN,
    COL_EXTS,
    COL_HEURISTIC,
    COL_LABEL,
    COL_MARGIN,
    COL_MODEL,
    COL_NAME,
    COL_PARENT,
    COL_PATH,
    COL_SUSPECT,
    FolderIdRole,
    SampleTableModel,
    UnlabelledOnlyProxy,
)
from fsorg_desktop.style.label_keys import CLEAR, label_for_key
from fsorg_desktop.style.label_style import label_icon


class LabelComboDelegate(QStyledItemDelegate):
    """A combo box of the taxonomy's labels (with their key and colour) for the label column."""

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem, index) -> QWidget:
        combo = QComboBox(parent)
        combo.addItem("(no label)  0", "")
        for i, lb in enumerate(labels(), start=1):
            combo.addItem(label_icon(lb.name), f"{lb.title}  {i}", lb.name)
        # Picking an entry commits at once: one click, not click + Enter.
        combo.activated.connect(lambda _i, c=combo: (self.commitData.emit(c), self.closeEditor.emit(c)))
        return combo

    def setEditorData(self, editor: QWidget, index) -> None:
        assert isinstance(editor, QComboBox)
        i = editor.findData(index.data(Qt.ItemDataRole.EditRole) or "")
        editor.setCurrentIndex(max(i, 0))
        editor.showPopup()

    def setModelData(self, editor: QWidget, model, index) -> None:
        assert isinstance(editor, QComboBox)
        model.setData(index, editor.currentData(), Qt.ItemDataRole.EditRole)


class _Table(QTableView):
    label_key_pressed = Signal(object)
    next_requested = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if self.state() != QAbstractItemView.State.EditingState:
            what = label_for_key(event)
            if what is not None:
                self.label_key_pressed.emit(None if what is CLEAR else what)
                event.accept()
                return
            if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.next_requested.emit()
                event.accept()
                return
        super().keyPressEvent(event)


class SampleView(QWidget):
    label_requested = Signal(list, object)  # folder ids, label or None
    folder_selected = Signal(int)
    generate_requested = Signal()
    label_next_requested = Signal()
    context_menu_requested = Signal(object)  # QMenu to fill before it shows

    def __init__(self, model: SampleTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self._syncing = False
        self.proxy = UnlabelledOnlyProxy(self)
        self.proxy.setSourceModel(model)

        self.generate_button = QPushButton("Generate samples…")
        self.generate_button.setToolTip("Pick a small, diverse set of folders to label (Ctrl+G)")
        self.generate_button.clicked.connect(self.generate_requested)
        self.label_next_button = QPushButton("Label next 20")
        self.label_next_button.setToolTip(
            "The 20 unlabelled folders the model hesitates on most, spread over the library, and one "
            "folder of each big family of look-alikes nobody labelled yet: the labels that teach it "
            "most (Ctrl+Shift+N)"
        )
        self.label_next_button.clicked.connect(self.label_next_requested)
        self.progress = QProgressBar()
        self.progress.setObjectName("labelledProgress")
        self.progress.setTextVisible(True)
        self.progress.setMinimumWidth(160)
        self.unlabelled_only = QCheckBox("Show unlabelled only")
        self.unlabelled_only.toggled.connect(self._on_unlabelled_only)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.generate_button)
        top.addWidget(self.label_next_button)
        top.addStretch(1)
        second = QHBoxLayout()
        second.setContentsMargins(0, 0, 0, 0)
        second.addWidget(self.progress, 1)
        second.addWidget(self.unlabelled_only)
        bar = QVBoxLayout()
        bar.setContentsMargins(4, 4, 4, 0)
        bar.addLayout(top)
        bar.addLayout(second)

        self.table = _Table()
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.table.setItemDelegateForColumn(COL_LABEL, LabelComboDelegate(self.table))
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 8)
        self.table.setAccessibleName("Sample table")
        h = self.table.horizontalHeader()
        h.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for col, w in ((COL_PATH, 220), (COL_NAME, 120), (COL_PARENT, 120), (COL_CHILDREN, 160),
                       (COL_EXTS, 120), (COL_HEURISTIC, 130), (COL_LABEL, 125), (COL_SUSPECT, 28),
                       (COL_MODEL, 140), (COL_MARGIN, 60)):
            h.resizeSection(col, w)
        # Where the folder is, right after its name and your label ("maps" or "assets" alone
        # says little); long paths are cut in the middle so the top folder and the name stay.
        h.moveSection(h.visualIndex(COL_PATH), h.visualIndex(COL_LABEL) + 1)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._on_context_menu)

        self.empty = QLabel(
            "<h3>No sample yet</h3>"
            "<p>A sample is a small, diverse set of folders (200 by default) that you label here "
            "with the number keys. It is what the baseline is scored on and what a model learns from.</p>"
            "<p>Click <b>Generate samples…</b> (Ctrl+G) to pick one.</p>"
        )
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.empty.setMargin(16)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.empty)
        self.pages.addWidget(self.table)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(bar)
        lay.addWidget(self.pages, 1)

        self._show_model_columns()
        self.table.label_key_pressed.connect(self._on_label_key)
        self.table.next_requested.connect(self.advance)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_changed)
        model.modelReset.connect(self.update_progress)
        model.modelReset.connect(self._show_model_columns)
        model.dataChanged.connect(lambda *_: self.update_progress())
        self.update_progress()

    # -- public -------------------------------------------------------------------------------
    @property
    def model(self) -> SampleTableModel:
        return self._model

    def selected_folder_ids(self) -> list[int]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        if not rows and self.table.currentIndex().isValid():
            rows = [self.table.currentIndex().row()]
        return [self.proxy.index(r, 0).data(FolderIdRole) for r in rows]

    def show_new_sample(self, rows: list) -> None:
        """A new sample: show it, focus the table on its first row (ready for the keys 1–6)."""
        self._model.set_rows(rows)
        self.table.setFocus()
        if rows:
            self.table.setCurrentIndex(self.proxy.index(0, 0))

    def select_folder(self, folder_id: int) -> bool:
        row = self._model.row_of(folder_id)
        if row is None:
            return False
        idx = self.proxy.mapFromSource(self._model.index(row, COL_NAME))
        if not idx.isValid():
            return False
        self._syncing = True
        try:
            self.table.setCurrentIndex(idx)
            self.table.scrollTo(idx)
        finally:
            self._syncing = False
        return True

    def advance(self, from_row: int | None = None) -> None:
        """Make the row after ``from_row`` (default: the current row) current."""
        cur = self.table.currentIndex()
        row = (cur.row() if cur.isValid() else -1) if from_row is None else from_row
        nxt = min(row + 1, self.proxy.rowCount() - 1)
        if nxt >= 0:
            col = cur.column() if cur.isValid() else COL_LABEL
            self.table.setCurrentIndex(self.proxy.index(nxt, col))

    def update_progress(self) -> None:
        total = self._model.rowCount()
        done = self._model.labelled_count()
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{done} of {total} labelled" if total else "no sample")
        self.pages.setCurrentIndex(1 if total else 0)

    # -- slots --------------------------------------------------------------------------------
    def _on_label_key(self, label: str | None) -> None:
        ids = self.selected_folder_ids()
        if not ids:
            return
        sel_rows = [i.row() for i in self.table.selectionModel().selectedRows()] or [self.table.currentIndex().row()]
        last = max(sel_rows)
        # Remember the row after the selection by identity: with "unlabelled only" on, the
        # labelled rows vanish and positions shift.
        after = self.proxy.index(last + 1, 0) if last + 1 < self.proxy.rowCount() else QModelIndex()
        after_p = QPersistentModelIndex(after)
        self.label_requested.emit(ids, label)
        if after_p.isValid():
            self.table.setCurrentIndex(self.proxy.index(after_p.row(), COL_LABEL))
        elif self.proxy.rowCount():
            self.table.setCurrentIndex(self.proxy.index(min(last, self.proxy.rowCount() - 1), COL_LABEL))

    def _show_model_columns(self) -> None:
        """The model's guess and margin only mean something for a "Label next" sample."""
        on = self._model.has_model_columns()
        self.table.setColumnHidden(COL_MODEL, not on)
        self.table.setColumnHidden(COL_MARGIN, not on)
        if on:  # wide enough for "0.821 · 15 alike" when a question stands for a family
            self.table.setColumnWidth(COL_MARGIN, max(60, self.table.sizeHintForColumn(COL_MARGIN) + 6))

    def _on_context_menu(self, pos) -> None:
        from PySide6.QtWidgets import QMenu

        idx = self.table.indexAt(pos)
        if not idx.isValid():
            return
        menu = QMenu(self)
        self.context_menu_requested.emit(menu)
        if not menu.isEmpty():
            menu.popup(self.table.viewport().mapToGlobal(pos))

    def _on_unlabelled_only(self, on: bool) -> None:
        self.proxy.set_unlabelled_only(on)

    def _on_current_changed(self, cur: QModelIndex, _prev: QModelIndex) -> None:
        if cur.isValid() and not self._syncing:
            self.folder_selected.emit(cur.data(FolderIdRole))
