"""The sample table: rows of the samples CSV (as ``engine.samples.picking`` writes it) plus the
user's label from the :class:`LabelController`.

Adapter only (STYLE.md §15): the rows are the CSV's cells, the label column reads and
writes through the controller (``setData`` validates and asks the controller, which
saves and makes it undoable). :class:`UnlabelledOnlyProxy` hides labelled rows for
"show unlabelled only".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)

from engine.core.taxonomy import label_by_name, label_names
from fsorg_desktop.label_controller import LabelController
from fsorg_desktop.style.label_style import label_brush, label_icon
from fsorg_desktop.suspects import SuspectSet

FolderIdRole = Qt.ItemDataRole.UserRole + 1
LabelRole = Qt.ItemDataRole.UserRole + 2  # the label name (not its title), or None
SortRole = Qt.ItemDataRole.UserRole + 3

# In the order a labeler reads them: what the folder is called, your label (⚠ when the model
# disputes it), the guesses (the model's only after "Label next"), then the context.
COLUMNS = (
    ("name", "Name"),
    ("label", "Your label"),
    ("suspect", "⚠"),
    ("model_label", "Model says"),
    ("margin", "Margin"),
    ("heuristic_prediction", "Heuristic guess"),
    ("path", "Path"),
    ("parent", "Parent"),
    ("children", "Children"),
    ("extensions", "Extensions"),
)
(
    COL_NAME, COL_LABEL, COL_SUSPECT, COL_MODEL, COL_MARGIN, COL_HEURISTIC, COL_PATH, COL_PARENT, COL_CHILDREN,
    COL_EXTS,
) = range(len(COLUMNS))


def _title(name: str | None) -> str:
    if not name:
        return ""
    try:
        return label_by_name(name).title
    except KeyError:
        return name


class SampleTableModel(QAbstractTableModel):
    def __init__(
        self, labels: LabelController, parent: QObject | None = None, *, suspects: SuspectSet | None = None
    ) -> None:
        super().__init__(parent)
        self._rows: list[Mapping[str, str]] = []
        self._ids: list[int] = []
        self._row_of: dict[int, int] = {}
        self._labels = labels
        self._suspects = suspects if suspects is not None else SuspectSet(self)
        self._suspects.changed.connect(self._on_suspects_changed)
        self._connect(labels)

    # -- snake_case helpers ---------------------------------------------------------------
    def set_label_controller(self, labels: LabelController) -> None:
        self._labels.labels_changed.disconnect(self._on_labels_changed)
        self._labels.labels_reset.disconnect(self._on_labels_reset)
        self._labels = labels
        self._connect(labels)
        self._on_labels_reset()

    def _connect(self, labels: LabelController) -> None:
        labels.labels_changed.connect(self._on_labels_changed)
        labels.labels_reset.connect(self._on_labels_reset)

    def set_rows(self, rows: Iterable[Mapping[str, str]]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self._ids = [int(str(r.get("folder_id", "0")).strip() or 0) for r in self._rows]
        self._row_of = {fid: i for i, fid in enumerate(self._ids)}
        self.endResetModel()

    def rows(self) -> list[Mapping[str, str]]:
        return list(self._rows)

    def folder_ids(self) -> list[int]:
        return list(self._ids)

    def row_of(self, folder_id: int) -> int | None:
        return self._row_of.get(folder_id)

    def path_of(self, folder_id: int) -> str | None:
        """The folder's path as the sample lists it (None: not in the sample)."""
        i = self._row_of.get(folder_id)
        return None if i is None else (self._rows[i].get("path") or self._rows[i].get("name") or None)

    def folder_id_at(self, row: int) -> int:
        return self._ids[row]

    def labelled_count(self) -> int:
        return self._labels.count(self._ids)

    # -- Qt overrides ---------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def has_model_columns(self) -> bool:
        """True when the rows came from "Label next" (they carry the model's guess and margin)."""
        return any(r.get("model_label") for r in self._rows)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole:
            if orientation == Qt.Orientation.Horizontal:
                return COLUMNS[section][1]
            return str(section + 1)
        if role == Qt.ItemDataRole.ToolTipRole and orientation == Qt.Orientation.Horizontal:
            return {
                COL_SUSPECT: "⚠ = a suspect label: the model, trained without this folder, strongly "
                "disagrees (Model ▸ Find suspect labels)",
                COL_MODEL: "The model's top label for this folder (Label next)",
                COL_MARGIN: "Top probability minus the second: small = the model hesitates, so your "
                "label teaches it most",
            }.get(section)
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        f = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() == COL_LABEL:
            f |= Qt.ItemFlag.ItemIsEditable
        return f

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row, col = index.row(), index.column()
        r = self._rows[row]
        fid = self._ids[row]
        key = COLUMNS[col][0]
        if role == FolderIdRole:
            return fid
        mine = self._labels.label_of(fid)
        if role == LabelRole:
            return mine if col == COL_LABEL else r.get("heuristic_prediction") or None
        if col == COL_LABEL:
            if role in (Qt.ItemDataRole.DisplayRole, SortRole):
                return _title(mine)
            if role == Qt.ItemDataRole.EditRole:
                return mine or ""
            if role == Qt.ItemDataRole.DecorationRole and mine:
                return label_icon(mine)
            if role == Qt.ItemDataRole.BackgroundRole and mine:
                return label_brush(mine)
            if role == Qt.ItemDataRole.ToolTipRole:
                return "Keys 1–6 set the label, 0 or Delete clears; double-click for a list"
            return None
        if col == COL_SUSPECT:
            sus = self._suspects.get(fid, mine)
            if role == Qt.ItemDataRole.DisplayRole:
                return "⚠" if sus is not None else ""
            if role == SortRole:
                return sus.score if sus is not None else -1.0
            if role == Qt.ItemDataRole.ToolTipRole and sus is not None:
                return SuspectSet.tooltip(sus)
            if role == Qt.ItemDataRole.TextAlignmentRole:
                return Qt.AlignmentFlag.AlignCenter
            return None
        if col == COL_MODEL:
            top = r.get("model_label") or ""
            if role == Qt.ItemDataRole.DisplayRole:
                return f"{_title(top)} {_pct(r.get('model_p'))}" if top else ""
            if role == SortRole:
                return _title(top)
            if role == Qt.ItemDataRole.DecorationRole and top in label_names():
                return label_icon(top)
            if role == Qt.ItemDataRole.ToolTipRole and top:
                return (
                    f"model: {_title(top)} {_pct(r.get('model_p'))}, then "
                    f"{_title(r.get('second_label') or '')} {_pct(r.get('second_p'))}"
                )
            return None
        if col == COL_MARGIN:
            m = r.get("margin") or ""
            fam = r.get("family") or ""
            if role == Qt.ItemDataRole.DisplayRole:
                return f"{m} · {fam} alike" if fam else m
            if role == SortRole:
                return _float(m, 2.0)
            if role == Qt.ItemDataRole.TextAlignmentRole:
                return Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
            if role == Qt.ItemDataRole.ToolTipRole and fam:
                return (
                    f"asked because it stands for {fam} look-alike sibling folders and none of them is labelled: "
                    "the model may be sure about them, but if it is wrong it is wrong on all of them"
                )
            if role == Qt.ItemDataRole.ToolTipRole and m:
                return "top probability minus the second: the smaller, the more this label teaches the model"
            return None
        if col == COL_HEURISTIC:
            guess = r.get("heuristic_prediction") or ""
            if role in (Qt.ItemDataRole.DisplayRole, SortRole):
                return _title(guess)
            if role == Qt.ItemDataRole.DecorationRole and guess in label_names():
                return label_icon(guess)
            if role == Qt.ItemDataRole.ToolTipRole:
                conf = r.get("heuristic_confidence") or ""
                return f"rule: {r.get('heuristic_rule') or '?'}" + (f", confidence {conf}" if conf else "")
            return None
        if role in (Qt.ItemDataRole.DisplayRole, SortRole):
            return r.get(key, "")
        if role == Qt.ItemDataRole.ToolTipRole:
            return r.get("path", "") if col in (COL_PATH, COL_NAME) else r.get(key, "")
        return None

    def setData(self, index: QModelIndex | QPersistentModelIndex, value, role: int = Qt.ItemDataRole.EditRole) -> bool:
        """Validate and hand the change to the controller (which saves and makes it undoable)."""
        if not index.isValid() or index.column() != COL_LABEL or role != Qt.ItemDataRole.EditRole:
            return False
        label = (value or "").strip() or None
        if label is not None and label not in label_names():
            return False
        self._labels.set_labels([self._ids[index.row()]], label)
        return True

    # -- label changes --------------------------------------------------------------------
    def _on_labels_changed(self, folder_ids: list[int]) -> None:
        for fid in folder_ids:
            row = self._row_of.get(fid)
            if row is not None:
                idx = self.index(row, COL_LABEL)
                self.dataChanged.emit(idx, self.index(row, COL_SUSPECT), [
                    Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.DecorationRole,
                    Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.ToolTipRole, LabelRole])

    def _on_labels_reset(self) -> None:
        if self._rows:
            self.dataChanged.emit(self.index(0, COL_LABEL), self.index(len(self._rows) - 1, COL_SUSPECT))

    def _on_suspects_changed(self) -> None:
        if self._rows:
            self.dataChanged.emit(self.index(0, COL_SUSPECT), self.index(len(self._rows) - 1, COL_SUSPECT))


def _float(text: str | None, default: float) -> float:
    try:
        return float(text or "")
    except ValueError:
        return default


def _pct(text: str | None) -> str:
    v = _float(text, -1.0)
    return f"{v:.0%}" if v >= 0 else ""


class UnlabelledOnlyProxy(QSortFilterProxyModel):
    """Sorting by any column, and (when on) only rows without a label of yours."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._only_unlabelled = False
        self.setSortRole(SortRole)
        self.setSortCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setDynamicSortFilter(True)

    def set_unlabelled_only(self, on: bool) -> None:
        self.beginFilterChange()
        self._only_unlabelled = on
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def unlabelled_only(self) -> bool:
        return self._only_unlabelled

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        if not self._only_unlabelled:
            return True
        src = self.sourceModel()
        return src.index(source_row, COL_LABEL, source_parent).data(LabelRole) is None
