"""The Catalogue tab: every item with its creator, asset type, tags and variant group.

Filters (creator, asset type, tag, text) combine; the counts line says how many items
and files match, how many variant groups they form and how many rest on an unknown
folder (grey rows: label those folders to place them surely). The catalogue is built
on a worker (``engine.organize.catalogue.build_catalogue``) when the tab is first shown
after a library opens or its labels/predictions change.
"""

from __future__ import annotations

from collections import Counter

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from engine.core.jobs import Cancelled
from fsorg_desktop.jobs import JobRunner, JobState, Pool
from fsorg_desktop.models.catalogue_model import CatalogueFilter, CatalogueModel, ItemIdRole

ANY = "(any)"


def _build(settings, progress, should_stop):
    from engine.organize.catalogue import build_catalogue, item_rows

    cat = build_catalogue(settings, with_files=True, progress=progress, should_stop=should_stop)
    return cat, list(item_rows(cat))


class CatalogueView(QWidget):
    catalogue_ready = Signal(object)  # engine.organize.catalogue.Catalogue
    folder_activated = Signal(int)  # an item's folder id (double-click): reveal it in the tree

    def __init__(self, runner: JobRunner, parent=None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.settings = None
        self.catalogue = None
        self._stale = True
        self._job: JobState | None = None
        self.model = CatalogueModel(self)
        self.proxy = CatalogueFilter(self)
        self.proxy.setSourceModel(self.model)
        self.creator = QComboBox()
        self.asset_type = QComboBox()
        self.tag = QComboBox()
        for box, tip in ((self.creator, "creator"), (self.asset_type, "asset type"), (self.tag, "tag")):
            box.setToolTip(f"Only items of this {tip}")
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(6)
            box.currentIndexChanged.connect(self._apply_filter)
        self.text = QLineEdit()
        self.text.setPlaceholderText("Filter items by path…")
        self.text.setClearButtonEnabled(True)
        self.text.textChanged.connect(self._apply_filter)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Rebuild the catalogue from the current labels and predictions")
        self.refresh_button.clicked.connect(self.refresh)
        self.counts = QLabel("Open a library to see its catalogue.")
        self.counts.setWordWrap(True)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)  # by path, as in the tree
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.doubleClicked.connect(lambda idx: self.folder_activated.emit(int(idx.data(ItemIdRole))))
        # Two short rows, so the filters fit a narrow side panel (1024 px window) without scrolling.
        top = QHBoxLayout()
        for label, w in (("Creator", self.creator), ("Type", self.asset_type)):
            top.addWidget(QLabel(label))
            top.addWidget(w, 1)
        row2 = QHBoxLayout()
        row2.addWidget(QLabel("Tag"))
        row2.addWidget(self.tag, 1)
        row2.addWidget(self.text, 2)
        row2.addWidget(self.refresh_button)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addLayout(row2)
        lay.addWidget(self.counts)
        lay.addWidget(self.table, 1)

    # -- loading ---------------------------------------------------------------------------
    def set_library(self, settings) -> None:
        """A library opened (or None): the catalogue is rebuilt when the tab is shown."""
        self.settings = settings
        self.catalogue = None
        self.model.set_rows([])
        self.mark_stale()
        if settings is None:
            self.counts.setText("Open a library to see its catalogue.")

    def mark_stale(self) -> None:
        self._stale = True
        if self.isVisible():
            self.refresh()

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def is_busy(self) -> bool:
        return self._job is not None

    def refresh(self) -> JobState | None:
        if self.settings is None:
            return None
        if self._job is not None:
            self._job.discard()
        self._stale = False
        self.counts.setText("Building the catalogue…")
        settings = self.settings

        def done(result, error) -> None:
            self._job = None
            if error is not None:
                if not isinstance(error, Cancelled):
                    self.counts.setText(f"The catalogue could not be built: {error}")
                return
            if settings is not self.settings:
                return
            self._show(*result)

        self._job = self.runner.run(lambda progress, should_stop: _build(settings, progress, should_stop),
                                    done, pool=Pool.READ)
        return self._job

    def _show(self, cat, rows: list[dict]) -> None:
        self.catalogue = cat
        self.model.set_rows(rows)
        counts = cat.counts()
        for box, key in ((self.creator, "creator"), (self.asset_type, "asset_type"), (self.tag, "tag")):
            keep = box.currentData()
            box.blockSignals(True)
            box.clear()
            box.addItem(ANY, "")
            for name, n in sorted(counts[key].items(), key=lambda kv: (-kv[1], kv[0].casefold())):
                if name:
                    box.addItem(f"{name} ({n:,})", name)
            i = box.findData(keep) if keep else 0
            box.setCurrentIndex(max(i, 0))
            box.blockSignals(False)
        self.table.resizeColumnsToContents()
        # The item's path gets at most half the view (elided in the middle, full text in the
        # tooltip), so creator, type and tags stay visible on a narrow side panel.
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        half = max(180, self.table.viewport().width() // 2)
        self.table.setColumnWidth(0, min(self.table.columnWidth(0), 420, half))
        self._apply_filter()
        self.catalogue_ready.emit(cat)

    def _apply_filter(self) -> None:
        self.proxy.set_filter(
            creator=self.creator.currentData() or "",
            asset_type=self.asset_type.currentData() or "",
            tag=self.tag.currentData() or "",
            text=self.text.text(),
        )
        if self.catalogue is None:
            return
        rows = [self.model.row_at(self.proxy.mapToSource(self.proxy.index(r, 0)).row())
                for r in range(self.proxy.rowCount())]
        files = sum(r["files"] for r in rows)
        groups = len({r["variant_group"] for r in rows if r["variant_group"] != ""})
        status = Counter(r["status"] for r in rows)
        unsure = sum(n for k, n in status.items() if k != "ok")
        src = []
        if self.catalogue.label_run_id is None and self.catalogue.prediction_run_id is None:
            src.append("no labels or predictions yet: label folders or run Predict all")
        elif self.catalogue.prediction_run_id is None:
            src.append("your labels only (run Predict all to label the rest)")
        self.counts.setText(
            f"<b>{len(rows):,}</b> of {self.model.rowCount():,} items · {files:,} files · "
            f"{groups:,} variant groups"
            + (f" · <span style='color:#9a9a9a'>{unsure:,} on unknown folders</span>" if unsure else "")
            + (f"<br><i>{'; '.join(src)}</i>" if src else "")
        )
