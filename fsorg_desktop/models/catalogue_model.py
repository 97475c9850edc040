"""Table model of the catalogue (one row per item) and its filter proxy.

Holds plain rows made by the engine (:func:`engine.organize.catalogue.item_rows`); the
proxy filters by creator, asset type, tag and text, all combined.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QBrush, QColor

from fsorg_desktop.models.list_table_model import Index, ListTableModel

ItemIdRole = Qt.ItemDataRole.UserRole
SortRole = Qt.ItemDataRole.UserRole + 1
_KEYS = ("path", "creator", "asset_types", "tags", "group_name", "variant", "variant_rule", "files", "status")
UNSURE = QColor("#9a9a9a")


class CatalogueModel(ListTableModel):
    COLUMNS = ("Item", "Creator", "Asset type", "Tags", "Variant group", "Variant", "Grouped by", "Files", "Status")

    def set_rows(self, rows: list[dict]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def row_at(self, row: int) -> dict:
        return self._rows[row]

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r = self._rows[index.row()]
        key = _KEYS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            v = r[key]
            if key == "files":
                return f"{v:,}"
            return v if v != "" else ("—" if key in ("creator", "asset_types") else "")
        if role == SortRole:
            return r[key] if key == "files" else str(r[key]).casefold()
        if role == ItemIdRole:
            return r["item_id"]
        if role == Qt.ItemDataRole.ForegroundRole and r["status"] != "ok":
            return QBrush(UNSURE)
        if role == Qt.ItemDataRole.ToolTipRole:
            notes = r.get("notes") or ""
            extra = f"\nFolder variants: {r['folder_variants']}" if r.get("folder_variants") else ""
            if r.get("file_variant_examples"):
                extra += f"\nFile variants ({r['file_variant_groups']}): {r['file_variant_examples']}"
            return f"{r['path']}\nLabel from: {r['label_source']}{extra}" + (f"\n⚠ {notes}" if notes else "")
        if role == Qt.ItemDataRole.TextAlignmentRole and key == "files":
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class CatalogueFilter(QSortFilterProxyModel):
    """Creator / asset type / tag equal to the chosen value ('' = any), text anywhere in the path."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.creator = ""
        self.asset_type = ""
        self.tag = ""
        self.text = ""
        self.setSortRole(SortRole)

    def set_filter(self, *, creator: str = "", asset_type: str = "", tag: str = "", text: str = "") -> None:
        self.beginFilterChange()
        self.creator, self.asset_type, self.tag, self.text = creator, asset_type, tag, text.strip().casefold()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex) -> bool:  # noqa: N802
        r = self.sourceModel().row_at(source_row)
        if self.creator and r["creator"] != self.creator:
            return False
        if self.asset_type and self.asset_type not in r["asset_types"].split("; "):
            return False
        if self.tag and self.tag not in r["tags"].split("; "):
            return False
        return not self.text or self.text in r["path"].casefold()
