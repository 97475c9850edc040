"""A lazy ``QAbstractItemModel`` over one snapshot's folders.

Why lazy: a library can hold a million folders; the model only ever holds the rows the
user has expanded. Children are fetched a chunk at a time (``canFetchMore``/``fetchMore``
per node) through :class:`engine.browse.Browser`, which pages on the
(snapshot_id, parent_id) index, so a chunk costs a few milliseconds whatever the size of
the snapshot. A folder with more than one chunk of children ends in a "load more" row:
Qt only calls ``fetchMore`` automatically for the branch at the bottom of the view, so
without that row a folder with 100,000 children would be stuck at its first chunk.

The model adapts data only (STYLE.md §15): the labels come from the
:class:`~fsorg_desktop.label_controller.LabelController`, rows from the engine; filtering is
an engine query whose result the model shows as a flat list (``set_flat_rows``).
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont, QIcon, QPalette
from PySide6.QtWidgets import QApplication, QStyle

from engine.browse import Browser, FolderRow
from engine.core.taxonomy import labels
from fsorg_desktop.label_controller import LabelController
from fsorg_desktop.style.certainty import LEGEND as CERTAINTY_LEGEND
from fsorg_desktop.style.certainty import UNKNOWN, is_unsure, shown_title
from fsorg_desktop.style.label_style import label_brush, label_icon
from fsorg_desktop.suspects import SuspectSet

FolderIdRole = Qt.ItemDataRole.UserRole + 1
FolderRowRole = Qt.ItemDataRole.UserRole + 2
IsLoadMoreRole = Qt.ItemDataRole.UserRole + 3

COL_NAME, COL_FILES, COL_PREDICTED, COL_CONFIDENCE, COL_LABEL = range(5)
HEADERS = ("Name", "Files", "Predicted label", "Sure", "Your label")  # "Sure": the confidence, in a narrow column

_DISPLAY = int(Qt.ItemDataRole.DisplayRole.value)
_DECORATION = int(Qt.ItemDataRole.DecorationRole.value)
_BACKGROUND = int(Qt.ItemDataRole.BackgroundRole.value)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole.value)
_FONT = int(Qt.ItemDataRole.FontRole.value)
_ALIGN = int(Qt.ItemDataRole.TextAlignmentRole.value)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole.value)
_ROLES = frozenset(
    {_DISPLAY, _DECORATION, _BACKGROUND, _FOREGROUND, _FONT, _ALIGN, _TOOLTIP,
     int(FolderIdRole), int(FolderRowRole), int(IsLoadMoreRole)}
)
_RIGHT = int((Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter).value)
_NO_FLAGS = Qt.ItemFlag.NoItemFlags
_MORE_FLAGS = Qt.ItemFlag.ItemIsEnabled
_ROW_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
_TITLES = {lb.name: lb.title for lb in labels()}
KIND_TITLES = {"baseline": "Baseline", "finetuned": "Your model", "zero_shot": "Zero-shot", "zeroshot": "Zero-shot"}


def model_title(kind: str | None) -> str:
    """A prediction run's kind as a user reads it."""
    return KIND_TITLES.get(kind or "", (kind or "model").replace("_", " ").capitalize())


def _unsure(r: FolderRow) -> bool:
    return is_unsure(r.confidence, abstained=r.abstained, label=r.predicted, heuristic=r.predicted_by == "heuristic")

FIRST_CHUNK = 500
MORE_CHUNK = 2000


class _Node:
    __slots__ = ("row", "parent", "children", "complete", "fetched", "is_more", "flat", "pos")

    def __init__(self, row: FolderRow | None, parent: "_Node | None", *, is_more: bool = False) -> None:
        self.row = row
        self.parent = parent
        self.children: list[_Node] = []
        self.fetched = False  # at least one chunk asked for
        self.complete = False  # every child loaded
        self.is_more = is_more
        self.flat = False  # shown in a filter result: no children, name is the path
        self.pos = 0  # row in parent.children (children are only appended; kept in step)

    def loaded_children(self) -> list["_Node"]:
        return [c for c in self.children if not c.is_more]


class FolderTreeModel(QAbstractItemModel):
    """See the module docstring. ``set_browser(None)`` empties it."""

    def __init__(
        self,
        labels: LabelController | None = None,
        parent: QObject | None = None,
        *,
        suspects: SuspectSet | None = None,
    ) -> None:
        super().__init__(parent)
        self._suspects = suspects if suspects is not None else SuspectSet(self)
        self._suspects.changed.connect(self._on_labels_reset)
        self._browser: Browser | None = None
        self._labels: LabelController | None = None
        self._top = _Node(None, None)
        self._tree_top = self._top
        self._by_id: dict[int, _Node] = {}
        self.generation = 0
        self._file_totals: dict[int, int] = {}  # folder id -> files in it and below (when known)
        self._flat_more = False
        self._root_label = ""
        style = QApplication.style()
        self._folder_icon: QIcon = style.standardIcon(QStyle.StandardPixmap.SP_DirIcon)
        self._more_font = QFont()
        self._more_font.setItalic(True)
        self.set_label_controller(labels)

    # -- setup ------------------------------------------------------------------------------
    def set_label_controller(self, labels: LabelController | None) -> None:
        if self._labels is not None:
            self._labels.labels_changed.disconnect(self._on_labels_changed)
            self._labels.labels_reset.disconnect(self._on_labels_reset)
        self._labels = labels
        if labels is not None:
            labels.labels_changed.connect(self._on_labels_changed)
            labels.labels_reset.connect(self._on_labels_reset)
        self._on_labels_reset()

    def set_browser(self, browser: Browser | None) -> None:
        """Show ``browser``'s snapshot: one top row, the library root, fetched at once."""
        self.beginResetModel()
        if self._browser is not None and self._browser is not browser:
            self._browser.close()
        self._browser = browser
        self._top = self._tree_top = _Node(None, None)
        self._by_id = {}
        self._file_totals = {}
        self.generation += 1  # another snapshot: a view must not restore the old one's expansion
        if browser is not None:
            root = browser.root()
            if root is not None:
                node = _Node(root, self._top)
                node.pos = 0
                self._top.children.append(node)
                self._by_id[root.id] = node
            self._top.fetched = self._top.complete = True
        self.endResetModel()

    @property
    def browser(self) -> Browser | None:
        return self._browser

    @property
    def is_flat(self) -> bool:
        return self._top is not self._tree_top

    # -- filter results -----------------------------------------------------------------------
    def set_flat_rows(self, rows: list[FolderRow], more: bool) -> None:
        """Show a filter's result as a flat list (the path as the name)."""
        self.beginResetModel()
        flat = _Node(None, None)
        flat.fetched = flat.complete = True
        for r in rows:
            n = _Node(r, flat)
            n.flat = True
            n.fetched = n.complete = True
            n.pos = len(flat.children)
            flat.children.append(n)
        self._flat_more = more
        self._top = flat
        self.endResetModel()

    def clear_flat(self) -> None:
        if not self.is_flat:
            return
        self.beginResetModel()
        self._top = self._tree_top
        self.endResetModel()

    # -- Qt overrides -------------------------------------------------------------------------
    def _node(self, index: QModelIndex | QPersistentModelIndex) -> _Node:
        if not index.isValid():
            return self._top
        return index.internalPointer()

    def index(self, row: int, column: int, parent: QModelIndex = QModelIndex()) -> QModelIndex:
        node = self._node(parent)
        if 0 <= row < len(node.children) and 0 <= column < len(HEADERS):
            return self.createIndex(row, column, node.children[row])
        return QModelIndex()

    def parent(self, index: QModelIndex = QModelIndex()) -> QModelIndex:  # type: ignore[override]
        if not index.isValid():
            return QModelIndex()
        node: _Node = index.internalPointer()
        par = node.parent
        if par is None or par is self._top or par.parent is None:
            return QModelIndex()
        return self.createIndex(par.pos, 0, par)

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        if parent.column() > 0:
            return 0
        return len(self._node(parent).children)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return len(HEADERS)

    def hasChildren(self, parent: QModelIndex = QModelIndex()) -> bool:
        node = self._node(parent)
        if node is self._top:
            return bool(node.children)
        if node.is_more or node.flat or node.row is None:
            return False
        return node.row.subfolder_count > 0 or bool(node.children)

    def canFetchMore(self, parent: QModelIndex) -> bool:
        node = self._node(parent)
        if node.is_more or node.flat or node.row is None or self._browser is None:
            return False
        # Only the first chunk is Qt's to fetch: later chunks come from the "load more" row,
        # otherwise Qt keeps fetching a 100,000-child folder while its end is on screen.
        return not node.fetched and node.row.subfolder_count > 0

    def fetchMore(self, parent: QModelIndex) -> None:
        node = self._node(parent)
        if not self.canFetchMore(parent):
            return
        self._fetch(node, parent, FIRST_CHUNK)

    def _fetch(self, node: _Node, parent: QModelIndex, limit: int) -> None:
        assert self._browser is not None and node.row is not None
        loaded = node.loaded_children()
        after = loaded[-1].row.id if loaded else None
        rows = self._browser.children(node.row.id, limit=limit + 1, after_id=after)
        has_more = len(rows) > limit
        rows = rows[:limit] if has_more else rows
        node.fetched = True
        # Drop the old "load more" row first.
        if node.children and node.children[-1].is_more:
            last = len(node.children) - 1
            self.beginRemoveRows(parent, last, last)
            node.children.pop()
            self.endRemoveRows()
        if rows:
            first = len(node.children)
            self.beginInsertRows(parent, first, first + len(rows) - 1)
            for r in rows:
                child = _Node(r, node)
                child.pos = len(node.children)
                node.children.append(child)
                self._by_id[r.id] = child
            self.endInsertRows()
        node.complete = not has_more
        if has_more:
            pos = len(node.children)
            self.beginInsertRows(parent, pos, pos)
            more = _Node(None, node, is_more=True)
            more.pos = pos
            node.children.append(more)
            self.endInsertRows()

    def load_more(self, index: QModelIndex) -> bool:
        """Activate a "load more" row: fetch the next chunk of its folder."""
        node = self._node(index)
        if not node.is_more or node.parent is None:
            return False
        par = node.parent
        self._fetch(par, self._index_of_node(par), MORE_CHUNK)
        return True

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return _NO_FLAGS
        return _MORE_FLAGS if index.internalPointer().is_more else _ROW_FLAGS

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.predicted_header() if section == COL_PREDICTED else HEADERS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return (
                "Folder name",
                "Files in this folder and all below it (the tooltip has the folder's own count)",
                "What the model named in the header thinks this folder is; italic grey: the heuristic's "
                "guess where no model ran. " + CERTAINTY_LEGEND,
                "How sure the prediction is",
                "Your label: keys 1–6 set it, 0 or Delete clears it",
            )[section]
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        # Called for every role of every visible cell on each paint: plain-int role checks
        # first (enum comparisons are slow in Python), unused roles out at once.
        role = int(role)
        if role not in _ROLES or not index.isValid():
            return None
        node: _Node = index.internalPointer()
        col = index.column()
        if node.is_more:
            return self._more_data(node, col, role)
        r = node.row
        if role == _DISPLAY:
            if col == COL_NAME:
                if node.flat:
                    return r.rel_path
                return self._root_title(r) if r.parent_id is None else r.name
            if col == COL_FILES:
                return f"{self._file_totals.get(r.id, r.file_count):,}"
            if col == COL_PREDICTED:
                lean = r.predicted
                title = _TITLES.get(lean, lean or "")
                return shown_title(title, r.predicted_by == "model" and _unsure(r) and lean != UNKNOWN)
            if col == COL_CONFIDENCE:
                return "" if r.confidence is None else f"{r.confidence:.0%}"
            mine = self._labels.label_of(r.id) if self._labels is not None else None
            if mine is not None and self._suspects.get(r.id, mine) is not None:
                return f"⚠ {_TITLES.get(mine, mine)}"
            return _TITLES.get(mine, "")
        if role == _DECORATION:
            if col == COL_NAME:
                return self._folder_icon
            if col == COL_PREDICTED and r.predicted in _TITLES:
                return label_icon(r.predicted)
            if col == COL_LABEL and self._labels is not None:
                mine = self._labels.label_of(r.id)
                return label_icon(mine) if mine else None
            return None
        if role == _BACKGROUND:
            if col == COL_LABEL and self._labels is not None:
                mine = self._labels.label_of(r.id)
                return label_brush(mine) if mine else None
            return None
        if role == _FOREGROUND:
            if col in (COL_PREDICTED, COL_CONFIDENCE) and r.predicted and _unsure(r):
                # one rule (fsorg_desktop.style.certainty): a guess, an abstention or < 50 %
                return QApplication.palette().brush(QPalette.ColorGroup.Normal, QPalette.ColorRole.PlaceholderText)
            return None
        if role == _FONT:
            return self._more_font if col == COL_PREDICTED and r.predicted_by == "heuristic" else None
        if role == _ALIGN:
            return _RIGHT if col in (COL_FILES, COL_CONFIDENCE) else None
        if role == _TOOLTIP:
            if col == COL_LABEL and self._labels is not None:
                sus = self._suspects.get(r.id, self._labels.label_of(r.id))
                if sus is not None:
                    return SuspectSet.tooltip(sus)
            if col == COL_PREDICTED and r.predicted_by == "model" and _unsure(r):
                conf = "" if r.confidence is None else f" {r.confidence:.0%}"
                lean = f"; it leans to {_TITLES.get(r.predicted, r.predicted)}{conf}" if r.predicted != UNKNOWN else ""
                why = "below its threshold for that label" if r.abstained else "under 50 % sure"
                return (
                    f"{self._model_name()}: not sure enough to pick a label{lean} ({why}). Label it yourself."
                )
            if col == COL_PREDICTED and r.predicted:
                title = _TITLES.get(r.predicted, r.predicted)
                if r.predicted_by == "model":
                    return f"{self._model_name()}: {title}"
                return f"Heuristic guess: {title}" + (f" (rule {r.rule})" if r.rule else "") + " — no model ran yet"
            if col == COL_FILES:
                total = self._file_totals.get(r.id)
                own = f"{r.file_count:,} file{'s' if r.file_count != 1 else ''} directly in this folder"
                return own if total is None else f"{total:,} files in this folder and all below it; {own}"
            return r.rel_path or self._root_title(r)
        if role == FolderIdRole:
            return r.id
        if role == FolderRowRole:
            return r
        return None

    def _model_name(self) -> str:
        run = self._browser.prediction_run if self._browser is not None else None
        return model_title(run.kind if run else None)

    def predicted_header(self) -> str:
        """The Predicted column's header: which model the predictions come from ("Your model
        says", "Baseline says"; "Heuristic says" before any model ran)."""
        run = self._browser.prediction_run if self._browser is not None else None
        # (after an evaluation of the labelled folders only, the others keep the heuristic's
        # guess: italic and grey, "Heuristic guess" in their tooltip, as the legend says)
        return f"{model_title(run.kind)} says" if run is not None else "Heuristic says"

    def _root_title(self, r: FolderRow) -> str:
        return self._root_label or r.name or "Library"

    def set_root_title(self, title: str) -> None:
        """The root row shows the scanned folder's name (its rel_path and name are empty)."""
        self._root_label = title

    def _more_data(self, node: _Node, col: int, role: int):
        if role == int(IsLoadMoreRole):
            return True
        if col != COL_NAME:
            return None
        if role == _DISPLAY:
            par = node.parent
            shown = len(par.children) - 1 if par else 0
            total = par.row.subfolder_count if par and par.row else 0
            return f"Load more… ({shown:,} of {total:,} shown — double-click or press Enter)"
        if role == _FONT:
            return self._more_font
        if role == _FOREGROUND:
            return QApplication.palette().brush(QPalette.ColorGroup.Normal, QPalette.ColorRole.Link)
        return None

    # -- lookups ------------------------------------------------------------------------------
    def _index_of_node(self, node: _Node, column: int = 0) -> QModelIndex:
        if node is self._top or node.parent is None:
            return QModelIndex()
        return self.createIndex(node.pos, column, node)

    def folder_id(self, index: QModelIndex) -> int | None:
        if not index.isValid():
            return None
        node = self._node(index)
        return None if node.is_more or node.row is None else node.row.id

    def row_for(self, index: QModelIndex) -> FolderRow | None:
        node = self._node(index) if index.isValid() else None
        return None if node is None or node.is_more else node.row

    def index_for_folder(self, folder_id: int, column: int = 0) -> QModelIndex:
        """The index of a folder already loaded (in the tree or the flat list), else invalid."""
        if self.is_flat:
            for n in self._top.children:
                if n.row is not None and n.row.id == folder_id:
                    return self.createIndex(n.pos, column, n)
            return QModelIndex()
        node = self._by_id.get(folder_id)
        return QModelIndex() if node is None else self._index_of_node(node, column)

    def reveal(self, folder_id: int) -> QModelIndex:
        """Load the chain of parents of ``folder_id`` (cheap indexed queries) and return its index."""
        idx = self.index_for_folder(folder_id)
        if idx.isValid() or self._browser is None or self.is_flat:
            return idx
        chain = self._browser.ancestors(folder_id)
        for parent_id, child_id in zip(chain, chain[1:]):
            pnode = self._by_id.get(parent_id)
            if pnode is None:
                return QModelIndex()
            # Children come in id order, so keep paging until the wanted one is in.
            while child_id not in self._by_id and not (pnode.fetched and pnode.complete):
                self._fetch(pnode, self._index_of_node(pnode), MORE_CHUNK)
            if child_id not in self._by_id:
                return QModelIndex()
        return self.index_for_folder(folder_id)

    def set_file_totals(self, totals: dict[int, int]) -> None:
        """Files in each folder and everything below it (the Files column shows these)."""
        self._file_totals = totals
        self._emit_all(COL_FILES, COL_FILES)

    def loaded_ids(self) -> list[int]:
        return list(self._by_id)

    def update_rows(self, rows: dict[int, FolderRow]) -> None:
        """New predictions for loaded folders (after predict or extract)."""
        for fid, row in rows.items():
            node = self._by_id.get(fid)
            if node is not None:
                node.row = row
        for n in self._top.children if self.is_flat else []:
            if n.row is not None and n.row.id in rows:
                n.row = rows[n.row.id]
        self._emit_all(COL_PREDICTED, COL_CONFIDENCE)
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, COL_PREDICTED, COL_PREDICTED)

    def _emit_all(self, first_col: int, last_col: int) -> None:
        def walk(node: _Node, parent: QModelIndex) -> None:
            if node.children:
                self.dataChanged.emit(
                    self.index(0, first_col, parent), self.index(len(node.children) - 1, last_col, parent)
                )
                for i, c in enumerate(node.children):
                    if c.children:
                        walk(c, self.index(i, 0, parent))

        walk(self._top, QModelIndex())

    # -- label changes ------------------------------------------------------------------------
    def _on_labels_changed(self, folder_ids: Iterable[int]) -> None:
        roles = [
            Qt.ItemDataRole.DisplayRole,
            Qt.ItemDataRole.DecorationRole,
            Qt.ItemDataRole.BackgroundRole,
            Qt.ItemDataRole.ToolTipRole,
        ]
        for fid in folder_ids:
            idx = self.index_for_folder(fid, COL_LABEL)
            if idx.isValid():
                self.dataChanged.emit(idx, idx, roles)

    def _on_labels_reset(self) -> None:
        if self._top.children:
            self._emit_all(COL_LABEL, COL_LABEL)

