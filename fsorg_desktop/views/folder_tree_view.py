"""The folder tree with its filter bar and label legend.

The view only turns user gestures into requests (STYLE.md §1.4): a labeling key emits
``label_requested(folder_ids, label)``, the filter bar emits ``filter_requested``, a new
current folder emits ``folder_selected``. The composer (main window) decides what happens.
After a labeling key the cursor moves to the next folder, so a user can label a whole
branch with one hand on the number keys.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from engine.browse import FolderFilter
from engine.core.taxonomy import labels
from fsorg_desktop.models.folder_tree_model import (
    COL_CONFIDENCE,
    COL_FILES,
    COL_LABEL,
    COL_NAME,
    COL_PREDICTED,
    FolderTreeModel,
    IsLoadMoreRole,
)
from fsorg_desktop.style.certainty import LEGEND as CERTAINTY_LEGEND
from fsorg_desktop.style.label_keys import CLEAR, label_for_key
from fsorg_desktop.style.label_style import label_color


class _Tree(QTreeView):
    label_key_pressed = Signal(object)  # label name or None (clear)
    load_more_requested = Signal(QModelIndex)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        what = label_for_key(event)
        if what is not None:
            self.label_key_pressed.emit(None if what is CLEAR else what)
            event.accept()
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            cur = self.currentIndex()
            if cur.isValid() and cur.data(IsLoadMoreRole):
                self.load_more_requested.emit(cur)
                event.accept()
                return
        super().keyPressEvent(event)


class FolderTreeView(QWidget):
    label_requested = Signal(list, object)  # folder ids, label (None clears)
    folder_selected = Signal(int)  # the current folder changed (user or program)
    filter_requested = Signal(object)  # FolderFilter (inactive = back to the tree)
    context_menu_requested = Signal(object)  # QMenu to fill before it shows

    def __init__(self, model: FolderTreeModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self._syncing = False

        self.name_filter = QLineEdit(placeholderText="Filter: name contains…")
        self.name_filter.setClearButtonEnabled(True)
        self.label_filter = QComboBox()
        self.label_filter.addItem("Any label", None)
        self.label_filter.addItem("Not labelled by you", FolderFilter.UNLABELLED)
        self.label_filter.addItem("⚠ Suspect labels", FolderFilter.SUSPECT)
        for lb in labels():
            self.label_filter.addItem(f"Label is {lb.title}", lb.name)
        self.label_filter.setToolTip(
            "Your label, or the predicted one where you have not labelled; “Suspect labels”: the "
            "labels the model disputes (Model ▸ Find suspect labels)"
        )
        self.low_conf = QCheckBox("Low confidence")
        self.low_conf.setToolTip("Only unlabelled folders whose prediction is below 50 % confidence")
        self.filter_status = QLabel()
        self.filter_status.setObjectName("filterStatus")
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.name_filter, 3)
        bar.addWidget(self.label_filter, 2)
        bar.addWidget(self.low_conf)

        self.tree = _Tree()
        self.tree.setModel(model)
        self.tree.setUniformRowHeights(True)  # lets Qt skip measuring a million rows
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.setAlternatingRowColors(True)
        self.tree.setExpandsOnDoubleClick(True)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.setIconSize(QSize(16, 16))
        # A filter lists paths: cut in the middle so both the top folder and the name show
        # (the full path is the tooltip).
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.tree.setAccessibleName("Folder tree")
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(COL_NAME, QHeaderView.ResizeMode.Stretch)
        self._size_columns()

        # One wrapping label, so the legend never forces a minimum window width.
        parts = [
            f"<b>{i}</b>&nbsp;<span style='color:{label_color(lb.name).name()}'>●</span>&nbsp;{lb.title}"
            for i, lb in enumerate(labels(), start=1)
        ]
        self.legend = QLabel(
            "Keys: " + " &nbsp; ".join(parts + ["<b>0</b>&nbsp;clear"])
            + f"<br><span style='color:gray'>{CERTAINTY_LEGEND}</span>"
        )
        self.legend.setWordWrap(True)
        self.legend.setToolTip("Select folders and press a number to label them; 0 or Delete clears")

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(bar)
        lay.addWidget(self.filter_status)
        lay.addWidget(self.tree, 1)
        lay.addWidget(self.legend)
        self.filter_status.hide()

        self._filter_timer = QTimer(self, singleShot=True, interval=250)
        self._filter_timer.timeout.connect(self._emit_filter)
        self.name_filter.textChanged.connect(lambda _: self._filter_timer.start())
        self.label_filter.currentIndexChanged.connect(lambda _: self._emit_filter())
        self.low_conf.toggled.connect(lambda _: self._emit_filter())
        self.tree.label_key_pressed.connect(self._on_label_key)
        self.tree.load_more_requested.connect(self._on_load_more)
        self.tree.doubleClicked.connect(self._on_double_clicked)
        self.tree.customContextMenuRequested.connect(self._on_context_menu)
        self.tree.selectionModel().currentChanged.connect(self._on_current_changed)
        self._saved_tree: tuple[int, list[int], int | None] | None = None
        self._picked_in_filter: int | None = None
        model.modelAboutToBeReset.connect(self._on_about_to_reset)
        model.modelReset.connect(self._on_model_reset)

    def _size_columns(self) -> None:
        """Name takes what is left; the others are as wide as their widest possible content
        (measured once from the font: a content-sized column of a lazy tree would jump while
        scrolling). The user can still drag them."""
        header = self.tree.header()
        fm = self.tree.fontMetrics()
        hfm = header.fontMetrics()
        titles = [lb.title for lb in labels()]
        icon = self.tree.iconSize().width() + 8
        widest = {
            COL_FILES: [fm.horizontalAdvance("12,345")],
            COL_PREDICTED: [icon + fm.horizontalAdvance(t) for t in titles],
            COL_CONFIDENCE: [fm.horizontalAdvance("100%")],
            COL_LABEL: [icon + fm.horizontalAdvance(t) for t in titles],
        }
        widest[COL_PREDICTED].append(hfm.horizontalAdvance("Your model says"))
        for col, widths in widest.items():
            head = hfm.horizontalAdvance(str(self._model.headerData(col, Qt.Orientation.Horizontal))) + 24
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(col, max([head, *[w + 12 for w in widths]]))

    # -- public -------------------------------------------------------------------------------
    @property
    def model(self) -> FolderTreeModel:
        return self._model

    def current_filter(self) -> FolderFilter:
        return FolderFilter(self.name_filter.text(), self.label_filter.currentData(), self.low_conf.isChecked())

    def reveal(self, folder_id: int) -> None:
        """Select ``folder_id`` and focus the tree, leaving a filter that does not show it."""
        if self._model.is_flat and not self._model.index_for_folder(folder_id).isValid():
            self.name_filter.clear()
            self.label_filter.setCurrentIndex(0)
            self.low_conf.setChecked(False)
            self._model.clear_flat()
        if self._model.is_flat:
            idx = self._model.index_for_folder(folder_id)
            self.tree.setCurrentIndex(idx)
            self.tree.scrollTo(idx)
        else:
            self.select_folder(folder_id)
        self.tree.setFocus()

    def current_folder_id(self) -> int | None:
        return self._model.folder_id(self.tree.currentIndex())

    def selected_folder_ids(self) -> list[int]:
        rows = self.tree.selectionModel().selectedRows(COL_NAME)
        ids = [self._model.folder_id(i) for i in sorted(rows, key=lambda i: self._visual_key(i))]
        if not ids:
            cur = self._model.folder_id(self.tree.currentIndex())
            return [cur] if cur is not None else []
        return [i for i in ids if i is not None]

    def select_folder(self, folder_id: int) -> bool:
        """Make ``folder_id`` current and visible (loads its parents if needed)."""
        idx = self._model.reveal(folder_id)
        if not idx.isValid():
            return False
        self._syncing = True
        try:
            parent = idx.parent()
            while parent.isValid():
                self.tree.expand(parent)
                parent = parent.parent()
            # only this folder selected: a label key or Ctrl+L must not also hit an old selection
            self.tree.selectionModel().setCurrentIndex(
                idx, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
            )
            self.tree.scrollTo(idx, QAbstractItemView.ScrollHint.EnsureVisible)
        finally:
            self._syncing = False
        return True

    def advance(self) -> None:
        """Move the cursor to the folder after the selection (after a label key)."""
        sel = self.tree.selectionModel().selectedRows(COL_NAME)
        cur = max(sel, key=self._visual_key) if sel else self.tree.currentIndex()
        nxt = self.tree.indexBelow(cur) if cur.isValid() else QModelIndex()
        if nxt.isValid() and nxt.data(IsLoadMoreRole):
            self._model.load_more(nxt)
            nxt = self.tree.indexBelow(cur)
        if nxt.isValid():
            self.tree.setCurrentIndex(nxt)
            self.tree.scrollTo(nxt)

    def expand_root(self) -> None:
        root = self._model.index(0, 0)
        if root.isValid():
            self.tree.expand(root)
            if not self.tree.currentIndex().isValid():
                self.tree.setCurrentIndex(root)

    def show_suspects(self) -> None:
        """Switch the filter to the suspect labels (a new filter request follows). The name
        filter and "Low confidence" (which hides every labelled folder) are cleared, so the list
        holds every flagged folder and its count matches the status bar's."""
        for w in (self.name_filter, self.low_conf):
            w.blockSignals(True)
        self.name_filter.clear()
        self.low_conf.setChecked(False)
        for w in (self.name_filter, self.low_conf):
            w.blockSignals(False)
        i = self.label_filter.findData(FolderFilter.SUSPECT)
        if self.label_filter.currentIndex() == i:
            self._emit_filter()
        else:
            self.label_filter.setCurrentIndex(i)

    def set_filter_status(self, text: str) -> None:
        self.filter_status.setText(text)
        self.filter_status.setVisible(bool(text))

    # -- slots --------------------------------------------------------------------------------
    def _visual_key(self, idx: QModelIndex) -> int:
        return self.tree.visualRect(idx).top()

    def _emit_filter(self) -> None:
        self.filter_requested.emit(self.current_filter())

    def _on_label_key(self, label: str | None) -> None:
        ids = self.selected_folder_ids()
        if ids:
            self.label_requested.emit(ids, label)
            self.advance()

    def _on_load_more(self, idx: QModelIndex) -> None:
        self._model.load_more(idx)

    def _on_double_clicked(self, idx: QModelIndex) -> None:
        if idx.data(IsLoadMoreRole):
            self._model.load_more(idx)

    def _on_current_changed(self, cur: QModelIndex, _prev: QModelIndex) -> None:
        fid = self._model.folder_id(cur)
        if fid is not None and not self._syncing:
            self.folder_selected.emit(fid)

    def _on_about_to_reset(self) -> None:
        """Remember the tree's expansion and cursor before a filter replaces it, and the
        folder picked in the filter's list before the tree comes back."""
        m = self._model
        if not m.is_flat:
            expanded = []
            for fid in m.loaded_ids():
                idx = m.index_for_folder(fid)
                if idx.isValid() and self.tree.isExpanded(idx):
                    expanded.append(fid)
            self._saved_tree = (m.generation, expanded, m.folder_id(self.tree.currentIndex()))
            self._picked_in_filter = None
        else:
            picked = m.folder_id(self.tree.currentIndex())
            if picked is not None:
                self._picked_in_filter = picked

    def _on_model_reset(self) -> None:
        if self._model.is_flat:
            return
        saved, self._saved_tree = self._saved_tree, None
        if saved is None or saved[0] != self._model.generation:
            QTimer.singleShot(0, self, self.expand_root)
            return
        # Back from a filter: the tree as it was, the cursor on the folder picked in the
        # filter's list (else where it was before).
        _gen, expanded, current = saved
        picked, self._picked_in_filter = self._picked_in_filter, None

        def restore() -> None:
            for fid in expanded:
                idx = self._model.index_for_folder(fid)
                if idx.isValid():
                    self.tree.expand(idx)
            target = picked if picked is not None else current
            if target is None or not self.select_folder(target):
                self.expand_root()

        QTimer.singleShot(0, self, restore)

    def _on_context_menu(self, pos) -> None:
        idx = self.tree.indexAt(pos)
        if not idx.isValid():
            return
        menu = QMenu(self)
        self.context_menu_requested.emit(menu)
        if not menu.isEmpty():
            menu.popup(self.tree.viewport().mapToGlobal(pos))


__all__ = ["FolderTreeView", "COL_PREDICTED"]
